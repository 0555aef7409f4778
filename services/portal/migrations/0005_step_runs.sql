-- The steps of the regulation's portal channel the portal executes, on each application:
-- begun, due (the step's deadline or the shortest span over it), done by whom, the
-- diamond's outcome, and whether it went past its due time (egov-steps).
create table step_runs (
    id             bigserial primary key,
    application_id uuid not null references applications (id) on delete cascade,
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
