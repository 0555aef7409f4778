-- The paper side: the accumulation sector's registers taken to the provider by the
-- courier, the paper result's return, the cover's barcode scanned, the result issued
-- to the citizen with the survey, and the archive after a month.

-- the registers' numbers: gap-free per centre and year
create table register_counters (
    centre_id text not null references centres (id),
    year      int not null,
    value     bigint not null,
    primary key (centre_id, year)
);

create table registers (
    id              uuid primary key,
    number          text not null unique,
    centre_id       text not null references centres (id),
    formed_by       text not null references operators (iin),
    formed_at       timestamptz not null,
    handed_over_by  text references operators (iin),
    handed_over_at  timestamptz
);
create index registers_centre on registers (centre_id, formed_at desc);

alter table applications
    add column register_id    uuid references registers (id),
    add column result_at      timestamptz,  -- when the result came from ИС МИО
    add column returned_at    timestamptz,  -- the courier brought the paper result back
    add column returned_by    text references operators (iin),
    add column scanned_at     timestamptz,  -- the cover's barcode last scanned
    add column scanned_by     text references operators (iin),
    add column issued_at      timestamptz,
    add column issued_by      text references operators (iin),
    add column issued_to_iin  text,
    add column archived_at    timestamptz;
create index applications_register on applications (register_id);
create index applications_uncollected on applications (centre_id)
    where result is not null and issued_at is null and archived_at is null;

-- the survey of the regulation's last appendix, as the citizen answered it at the issue
create table surveys (
    application_id uuid primary key references applications (id),
    answers        jsonb,           -- null: the citizen declined
    at             timestamptz not null
);
