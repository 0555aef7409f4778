-- ЕНИС: notaries and the powers of attorney they certified (a mock with synthetic data).

create table notaries (
    licence     text primary key,
    name        text not null,
    region      text not null,
    address     text not null
);

create table powers_of_attorney (
    number              text primary key,
    notary_licence      text not null references notaries (licence),
    registered          date not null,
    principal_iin       text not null check (principal_iin ~ '^[0-9]{12}$'),
    representative_iin  text not null check (representative_iin ~ '^[0-9]{12}$'),
    scope               text[] not null check (cardinality(scope) > 0),
    valid_from          date not null,
    valid_until         date not null,
    revoked_on          date,
    check (valid_from <= valid_until),
    check (principal_iin <> representative_iin)
);
create index poa_principal on powers_of_attorney (principal_iin);
create index poa_representative on powers_of_attorney (representative_iin);

-- every check, as the notarial chamber keeps a record of who asked
create table check_log (
    id                  bigserial primary key,
    at                  timestamptz not null default now(),
    system              text not null,
    number              text not null,
    principal_iin       text not null,
    representative_iin  text not null,
    service             text not null,
    checked_on          date not null,
    outcome             text not null,
    requester_iin       text,
    application         text,
    message_id          text not null
);
