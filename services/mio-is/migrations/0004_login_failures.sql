-- Failed logins to the workstation, per IIN: five within fifteen minutes lock the
-- account's logins until the oldest of them is fifteen minutes old. A success clears them.
create table login_failures (
    iin  text        not null,
    at   timestamptz not null
);
create index login_failures_iin_at on login_failures (iin, at);
