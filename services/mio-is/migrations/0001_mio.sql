-- ИС МИО: applications, the steps of their regulation, the АРМ's employees, the
-- housing commission, the waiting list, result documents and the outbox.

-- gap-free numbers: application numbers, queue numbers, protocols, outgoing letters;
-- taken with an upsert inside the transaction that uses them (row-locked until commit)
create table counters (
    scope   text not null,
    key     text not null,
    value   bigint not null,
    primary key (scope, key)
);

create table applications (
    id                  uuid primary key,
    number              text not null unique,
    regulation_id       text not null,
    service             text not null,
    provider_id         text not null,
    channel             text not null check (channel in ('portal', 'provider', 'con')),
    status              text not null,
    current_step        text,
    applicant_iin       text not null,
    applicant_name      text not null,
    category            text not null,
    representative_iin  text,
    document            bytea not null,
    signature           bytea not null,
    signer_iin          text not null,
    signer_name         text not null,
    sender_system       text not null,
    message_id          text not null unique,
    correlation_id      text not null,
    registered_at       timestamptz not null,
    due_at              timestamptz not null,
    overdue             boolean not null default false,
    assignee_iin        text,
    result_id           text,
    grounds             text[] not null default '{}',
    missing_documents   text[] not null default '{}',
    decision_number     text,
    decision_date       date,
    amount              bigint,          -- tenge
    queue_category      text,
    queue_number        bigint,
    registration_date   date,
    completed_at        timestamptz,
    updated_at          timestamptz not null
);
create index applications_applicant on applications (applicant_iin);
create index applications_status on applications (provider_id, status);

create table attachments (
    id              uuid primary key,
    application_id  uuid not null references applications (id),
    kind            text not null,
    name            text not null,
    media_type      text not null,
    content         bytea,
    paper           boolean not null,
    sha256          text,
    added_at        timestamptz not null
);
create index attachments_application on attachments (application_id);

-- every step an application went through: start, end, deadline, who, the outcome
create table step_runs (
    id              bigserial primary key,
    application_id  uuid not null references applications (id),
    step_id         text not null,
    kind            text not null,
    role            text,
    assignee_iin    text,
    status          text not null check (status in ('open', 'done')),
    started_at      timestamptz not null,
    due_at          timestamptz,
    completed_at    timestamptz,
    completed_by    text,
    outcome         text,
    note            text,
    overdue         boolean not null default false,
    overdue_at      timestamptz
);
create index step_runs_application on step_runs (application_id, id);
create index step_runs_open on step_runs (due_at) where status = 'open';

create table status_history (
    id              bigserial primary key,
    application_id  uuid not null references applications (id),
    status          text not null,
    step_id         text,
    at              timestamptz not null
);

create table employees (
    iin             text primary key,
    provider_id     text not null,
    role            text not null,
    surname         text not null,
    name            text not null,
    patronymic      text,
    position        text not null,
    password_hash   text not null,
    key_pem         text not null,
    cert_pem        text not null,
    active          boolean not null default true,
    created_at      timestamptz not null
);
create index employees_provider_role on employees (provider_id, role);

create table sessions (
    token_hash      text primary key,
    employee_iin    text not null references employees (iin),
    created_at      timestamptz not null,
    expires_at      timestamptz not null
);

create table meetings (
    id              uuid primary key,
    provider_id     text not null,
    number          bigint not null,
    meeting_date    date not null,
    status          text not null check (status in ('open', 'closed')),
    protocol_number text,
    created_by      text not null,
    closed_at       timestamptz,
    closed_by       text,
    unique (provider_id, number)
);

create table agenda_items (
    meeting_id      uuid not null references meetings (id),
    application_id  uuid not null references applications (id),
    position        int not null,
    decision        text,
    grounds         text[] not null default '{}',
    amount          bigint,
    note            text,
    primary key (meeting_id, application_id)
);

create table queue_entries (
    provider_id     text not null,
    category        text not null,
    number          bigint not null,
    application_id  uuid not null unique references applications (id),
    applicant_iin   text not null,
    registered_on   date not null,
    status          text not null default 'waiting' check (status in ('waiting', 'housed', 'removed')),
    primary key (provider_id, category, number)
);
create index queue_entries_applicant on queue_entries (applicant_iin);

create table results (
    id              uuid primary key,
    application_id  uuid not null references applications (id),
    result_id       text not null,
    kind            text not null,
    pdf             bytea not null,
    signature       bytea,
    signer_iin      text,
    signer_name     text,
    drafted_at      timestamptz not null,
    drafted_by      text not null,
    signed_at       timestamptz,
    outgoing_number text,
    issued_at       timestamptz
);
create index results_application on results (application_id);

-- messages a transaction must send, relayed to the gateway after commit
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
    message_id      text,
    gateway_code    text,
    last_error      text
);
create index outbox_pending on outbox (next_attempt_at) where sent_at is null;

-- applications refused at intake (nothing registered; the sender got a signed status)
create table intake_rejections (
    message_id      text primary key,
    sender_system   text not null,
    correlation_id  text not null,
    code            text not null,
    message         text not null,
    at              timestamptz not null
);

create table shep_inbox_seen (
    message_id  text primary key,
    received_at timestamptz not null default now()
);
