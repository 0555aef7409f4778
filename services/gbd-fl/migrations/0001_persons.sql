-- ГБД ФЛ: the state database "Individuals" (a mock with synthetic residents).

create table persons (
    iin             text primary key check (iin ~ '^[0-9]{12}$'),
    surname         text not null,
    name            text not null,
    patronymic      text,
    birth_date      date not null,
    sex             char(1) not null check (sex in ('M', 'F')),
    citizenship     text not null default 'KZ' check (citizenship ~ '^[A-Z]{2}$'),
    status          text not null default 'alive' check (status in ('alive', 'deceased', 'cancelled')),
    death_date      date,
    cancelled_on    date,
    cancel_reason   text,
    doc_kind        text not null check (doc_kind in ('id-card', 'passport', 'birth-certificate', 'residence-permit')),
    doc_number      text not null,
    doc_issued      date not null,
    doc_issuer      text not null,
    doc_expires     date,
    region_code     text not null,
    region          text not null,
    district        text not null,
    locality        text not null,
    street          text not null,
    house           text not null,
    flat            text,
    postcode        text,
    registered_since date not null,
    check ((status = 'deceased') = (death_date is not null)),
    check ((status = 'cancelled') = (cancelled_on is not null))
);

-- family links, both directions: `relative` is the `relation` of `person`
create table family_links (
    person      text not null,
    relative    text not null,
    relation    text not null check (relation in ('spouse', 'child', 'parent')),
    primary key (person, relative)
);

-- the personal-data access log: every look-up, who asked, why, what was disclosed
create table access_log (
    id              bigserial primary key,
    at              timestamptz not null default now(),
    subject_iin     text not null,
    system          text not null,
    service_id      text not null,
    purpose         text,
    application     text,
    requester_iin   text,
    message_id      text not null,
    correlation_id  text,
    outcome         text not null,
    disclosed       text[] not null default '{}'
);
create index access_log_subject on access_log (subject_iin, at desc);

-- the log is append-only
create function access_log_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the access log is append-only';
end $$;
create trigger access_log_no_update before update or delete on access_log
    for each row execute function access_log_append_only();
