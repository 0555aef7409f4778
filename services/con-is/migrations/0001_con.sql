-- ИС ЦОН: service centres, operators, the applications taken at the desk with the steps
-- of the regulation's `con` channel each one went through, and the statuses and results
-- that ИС МИО sends back.

create table centres (
    id          text primary key,
    code        text not null unique,
    region      text not null,
    name_ru     text not null,
    name_kk     text not null,
    address_ru  text,
    address_kk  text,
    phone       text,
    hours_ru    text,
    hours_kk    text,
    mobile      boolean not null default false,
    providers   text[] not null default '{}'
);

create table operators (
    iin           text primary key,
    centre_id     text not null references centres (id),
    role          text not null check (role in ('inspector', 'accumulation', 'courier', 'issuer')),
    surname       text not null,
    name          text not null,
    patronymic    text,
    password_hash text not null,
    key_pem       text,             -- issued on the first signature
    cert_pem      text,
    active        boolean not null default true,
    created_at    timestamptz not null
);

create table sessions (
    token_hash   text primary key,
    operator_iin text not null references operators (iin),
    created_at   timestamptz not null,
    expires_at   timestamptz not null
);

create table login_failures (
    iin text not null,
    at  timestamptz not null
);
create index login_failures_iin on login_failures (iin, at);

-- the journal's numbers: gap-free per centre and year
create table counters (
    centre_id text not null references centres (id),
    year      int not null,
    value     bigint not null,
    primary key (centre_id, year)
);

create table applications (
    id                 uuid primary key,
    number             text not null unique,
    centre_id          text not null references centres (id),
    operator_iin       text not null references operators (iin),
    regulation_id      text not null,
    service            text not null,
    provider_id        text not null,
    region             text not null,
    applicant_iin      text not null,
    applicant          jsonb not null,
    representative_iin text,
    representative     jsonb,
    poa_number         text,
    category           text,
    form               jsonb not null default '{}',
    documents          jsonb not null default '[]',
    state              text not null check (state in ('draft', 'refused', 'sent')),
    refusal_code       text,
    refusal_message    text,
    missing_documents  jsonb,
    message_id         text unique,
    sent_at            timestamptz,
    mio_number         text,
    status             text,
    stage              text,
    status_ru          text,
    status_kk          text,
    status_at          timestamptz,
    due_at             timestamptz,
    result             jsonb,
    created_at         timestamptz not null,
    updated_at         timestamptz not null
);
create index applications_centre on applications (centre_id, created_at desc);
create index applications_mio_number on applications (mio_number);

-- every step of the channel executed by ИС ЦОН: when it began, when it was due, when and
-- by whom it was done, and whether it went past its deadline
create table step_runs (
    id             bigserial primary key,
    application_id uuid not null references applications (id),
    step_id        text not null,
    lane           text not null,
    started_at     timestamptz not null,
    due_at         timestamptz,
    completed_at   timestamptz,
    completed_by   text,
    outcome        text,
    overdue        boolean not null default false,
    overdue_at     timestamptz,
    unique (application_id, step_id)
);
create index step_runs_open on step_runs (due_at) where completed_at is null;

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

create table shep_inbox_seen (
    sender_id   text not null,
    message_id  text not null,
    received_at timestamptz not null default now(),
    primary key (sender_id, message_id)
);
