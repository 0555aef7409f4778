-- One trace per application: the W3C traceparent of the desk's draft (the root of the
-- application's trace), with which the outbox sends the application, so that every
-- gateway hop, ИС МИО's intake and each status coming back join one trace.
alter table applications add column trace_parent text;
alter table outbox add column trace_parent text;
