-- Single-use tickets that open the cabinet's event stream where the client cannot send
-- the Authorization header (a browser's EventSource): issued to a live session, good for
-- a minute, once; only the SHA-256 of a ticket is stored. Kept an hour past their expiry
-- so that a reused or expired ticket is told apart from an unknown one.
create table event_tickets (
    ticket_hash  text primary key,
    session_hash text not null references sessions (token_hash) on delete cascade,
    created_at   timestamptz not null,
    expires_at   timestamptz not null,
    used_at      timestamptz
);
create index event_tickets_expires_at on event_tickets (expires_at);
