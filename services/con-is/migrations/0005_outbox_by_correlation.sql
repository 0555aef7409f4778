-- The relay leases each pending message only when no older one of its correlation id is
-- pending (the messages of one application go in order): that look-up by correlation.
create index outbox_pending_by_correlation on outbox (correlation_id, id) where sent_at is null;
