-- Applications taken at a service centre (channel C) whose statuses the regulation shows
-- on the portal too: the citizen's «История получения услуг» lists them, under ИС МИО's
-- number, with every status that comes; the portal never had their documents.
alter table applications add column channel text not null default 'portal'
    check (channel in ('portal', 'con'));
alter table applications drop constraint applications_state_check;
alter table applications add constraint applications_state_check
    check (state in ('draft', 'sent', 'delivered', 'at-centre'));
