-- The second edition of the regulation format: a file names its own statuses
-- («поступившие с ПЭП», «принятие в работу», ...), each on one of the base statuses.
-- `stage` keeps the file's status id beside the base status.
alter table applications add column stage text;
alter table status_history add column stage text;
