-- messageIds are unique per sender, not across senders: the inbox's deduplication keys
-- on both (the sender of the rows seen before this migration is not known: '').
alter table shep_inbox_seen add column sender_id text not null default '';
alter table shep_inbox_seen alter column sender_id drop default;
alter table shep_inbox_seen drop constraint shep_inbox_seen_pkey;
alter table shep_inbox_seen add primary key (sender_id, message_id);
