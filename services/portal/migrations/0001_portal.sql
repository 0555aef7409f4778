-- ПЭП: the citizens' accounts (registered with IIN and password, the IIN known to ГБД ФЛ),
-- their sessions, the applications of channel A from the draft to the signed document
-- sent to the provider's ИС МИО, the statuses and results ИС МИО sends back, and the
-- outboxes of what must be sent (to ИС МИО through the gateway, e-mail through the relay).

create table citizens (
    iin           text primary key,
    password_hash text not null,
    email         text,
    surname       text,
    name          text,
    patronymic    text,
    birth_date    text,
    address       text,
    active        boolean not null default true,
    created_at    timestamptz not null
);

create table sessions (
    token_hash  text primary key,
    citizen_iin text not null references citizens (iin),
    created_at  timestamptz not null,
    expires_at  timestamptz not null
);

create table login_failures (
    iin text not null,
    at  timestamptz not null
);
create index login_failures_iin on login_failures (iin, at);

-- the portal's request numbers: gap-free per year
create table counters (
    year  int primary key,
    value bigint not null
);

create table applications (
    id             uuid primary key,
    number         text not null unique,
    citizen_iin    text not null references citizens (iin),
    regulation_id  text not null,
    service        text not null,
    provider_id    text not null,
    region         text not null,
    category       text not null,
    phone          text,
    email          text,
    notify_email   boolean not null default false,
    form           jsonb not null default '{}',
    -- draft → sent (the signature checked, the send in the outbox) → delivered (the
    -- gateway took it)
    state          text not null check (state in ('draft', 'sent', 'delivered')),
    -- the exact bytes the citizen signs, fixed by the sign request
    document       bytea,
    signature      bytea,
    signer         jsonb,
    message_id     text unique,
    signed_at      timestamptz,
    delivered_at   timestamptz,
    mio_number     text,
    status         text,
    stage          text,
    status_ru      text,
    status_kk      text,
    status_at      timestamptz,
    due_at         timestamptz,
    queue          jsonb,
    result         jsonb,
    reason         jsonb,
    survey         jsonb,
    created_at     timestamptz not null,
    updated_at     timestamptz not null
);
create index applications_citizen on applications (citizen_iin, created_at desc);

create table attachments (
    id             uuid primary key,
    application_id uuid not null references applications (id) on delete cascade,
    kind           text not null,
    name           text not null,
    media_type     text not null,
    content        bytea not null,
    created_at     timestamptz not null
);
create index attachments_application on attachments (application_id, created_at);

-- the statuses ИС МИО sent, in the order they came
create table statuses (
    id             bigserial primary key,
    application_id uuid not null references applications (id),
    sender_id      text not null,
    message_id     text not null,
    status         text not null,
    stage          text,
    status_ru      text not null,
    status_kk      text not null,
    at             timestamptz not null,
    received_at    timestamptz not null,
    reason         jsonb
);
create index statuses_application on statuses (application_id, id);

-- what must go through the gateway; the messageId fixed when the row is written
create table outbox (
    id              bigserial primary key,
    application_id  uuid not null references applications (id),
    service_id      text not null,
    route_id        text not null,
    correlation_id  text not null,
    payload         bytea not null,
    message_id      text not null unique,
    created_at      timestamptz not null,
    next_attempt_at timestamptz not null,
    attempts        int not null default 0,
    sent_at         timestamptz,
    gateway_code    text,
    last_error      text
);
create index outbox_due on outbox (next_attempt_at) where sent_at is null;

-- e-mail to the citizens about their applications' statuses
create table mail_outbox (
    id              bigserial primary key,
    application_id  uuid not null references applications (id),
    recipient       text not null,
    subject         text not null,
    body            text not null,
    created_at      timestamptz not null,
    next_attempt_at timestamptz not null,
    attempts        int not null default 0,
    sent_at         timestamptz,
    last_error      text
);
create index mail_outbox_due on mail_outbox (next_attempt_at) where sent_at is null;

create table shep_inbox_seen (
    sender_id   text not null,
    message_id  text not null,
    received_at timestamptz not null default now(),
    primary key (sender_id, message_id)
);
