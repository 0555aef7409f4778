-- One trace per application: the W3C traceparent an application arrived with (its
-- sender's span), and the one each outbox message is sent under, so that the statuses
-- sent back days later join the application's trace.
alter table applications add column trace_parent text;
alter table outbox add column trace_parent text;
