-- A messageId is unique per sender, not across senders: two systems may pick the same
-- id, and each message is delivered. The delivery state is keyed on both.
alter table deliveries drop constraint deliveries_pkey;
drop index if exists deliveries_sender;
alter table deliveries add primary key (sender_id, message_id);
create index deliveries_recipient on deliveries (recipient_id, message_id);
