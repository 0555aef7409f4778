-- The employees' private keys are kept sealed (AES-256-GCM under the keystore key of
-- the configuration, a nonce per row, the IIN as associated data), never in clear.
-- key_pem is emptied at the first start after this migration, when the clear keys of
-- before are sealed.
alter table employees
    add column key_nonce  bytea,
    add column key_sealed bytea,
    alter column key_pem drop not null;

-- Bytes handed to an employee's own client to sign (NCALayer's way): a task's result
-- document or a channel B application. The signature that comes back is checked against
-- exactly these bytes.
create table sign_requests (
    id              uuid primary key,
    employee_iin    text not null references employees (iin),
    -- the task whose result document it is; none: a channel B application
    run_id          bigint,
    bytes           bytea not null,
    created_at      timestamptz not null,
    expires_at      timestamptz not null
);
create index sign_requests_employee on sign_requests (employee_iin, run_id);
