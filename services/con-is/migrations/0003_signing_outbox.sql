-- The operators' signing keys sealed under the workstation's keystore key (AES-256-GCM,
-- `egov_accounts::keystore`); `key_pem` of an earlier version is sealed at the next start
-- and emptied.
alter table operators add column key_nonce bytea;
alter table operators add column key_sealed bytea;

-- the bytes handed to an operator's own client to sign (NCALayer style): the application
-- document of a submission, with what the operator entered, for 15 minutes
create table sign_requests (
    id             uuid primary key,
    operator_iin   text not null references operators (iin),
    application_id uuid not null references applications (id),
    bytes          bytea not null,
    input          jsonb not null,
    created_at     timestamptz not null,
    expires_at     timestamptz not null
);
create index sign_requests_operator on sign_requests (operator_iin, application_id);

-- the messages a transaction must send, sent through the gateway after its commit
-- (`egov_shep_client::outbox`)
create table outbox (
    id              bigserial primary key,
    service_id      text not null,
    route_id        text not null default '',
    message_type    int not null,
    correlation_id  text not null,
    payload         bytea not null,
    created_at      timestamptz not null,
    attempts        int not null default 0,
    next_attempt_at timestamptz not null,
    sent_at         timestamptz,
    message_id      text unique,
    gateway_code    text,
    last_error      text
);
create index outbox_pending on outbox (next_attempt_at) where sent_at is null;
