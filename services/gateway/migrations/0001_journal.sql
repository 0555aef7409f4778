-- The gateway journal (message log): one row per envelope event, append-only,
-- hash-chained per gateway instance (see src/journal.rs for the hash input).
-- No schema is named here: the service's pool puts its own schema first in
-- search_path.

create table journal (
    gateway_id      text        not null,   -- "shep", "rshep-almaty", ...: one hash chain each
    seq             bigint      not null,   -- 1, 2, 3, ... per gateway_id, no holes
    event           text        not null,
    channel         text        not null,
    message_id      text        not null,
    correlation_id  text        not null,
    service_id      text        not null,
    sender_id       text        not null,
    recipient_id    text,
    message_type    text        not null,
    region          text,
    route           text[]      not null,   -- gateways crossed so far
    payload_size    bigint      not null,
    signature_size  bigint      not null,
    payload_sha256  text        not null,   -- hex; the payload itself is never stored
    signer_serial   text,
    verification    text        not null,   -- "ok" or a reason
    status_code     text        not null,
    status_message  text        not null,
    at              timestamptz not null,   -- when the event happened
    request_in_at   timestamptz,
    request_out_at  timestamptz,
    response_in_at  timestamptz,
    response_out_at timestamptz,
    duration_ms     bigint,
    trace_id        text,
    prev_hash       text        not null,   -- hash of row seq - 1 (or of the anchor, or 64 zeros)
    hash            text        not null,   -- SHA-256, hex, over a domain tag, seq, prev_hash and every field
    -- The key doubles as the guard against two writers forking one chain:
    -- a second insert of the same (gateway_id, seq) fails.
    constraint journal_pkey primary key (gateway_id, seq),
    constraint journal_gateway_id_not_empty check (gateway_id <> ''),
    constraint journal_seq_positive check (seq > 0),
    constraint journal_event_known check (event in (
        'request_in', 'request_out', 'response_in', 'response_out',
        'rejected', 'published', 'delivered', 'not_delivered')),
    constraint journal_channel_known check (channel in ('sync', 'async')),
    constraint journal_route_no_nulls check (array_position(route, null) is null),
    constraint journal_sizes_not_negative check (payload_size >= 0 and signature_size >= 0),
    constraint journal_duration_not_negative check (duration_ms >= 0),
    constraint journal_payload_sha256_hex check (payload_sha256 ~ '^[0-9a-f]{64}$'),
    constraint journal_hashes_hex check (prev_hash ~ '^[0-9a-f]{64}$' and hash ~ '^[0-9a-f]{64}$')
);

create index journal_message_id on journal (message_id);
create index journal_correlation_id on journal (correlation_id);
create index journal_sender_at on journal (sender_id, at);
create index journal_service_at on journal (service_id, at);
create index journal_gateway_at on journal (gateway_id, at);

-- Rows are never updated: refuse it, so that an application bug cannot
-- rewrite the log (someone who can disable the trigger is caught by the
-- hash chain instead). Retention deletes a prefix, see journal_anchor.
create function journal_refuse_update() returns trigger
language plpgsql as $$
begin
    raise exception 'journal rows are append-only (% %)', old.gateway_id, old.seq
        using errcode = 'restrict_violation';
end
$$;

create trigger journal_append_only before update on journal
    for each row execute function journal_refuse_update();

-- The last appended row of each chain, written in the same transaction as
-- every batch: lets verification notice rows deleted from the END of a
-- chain, which the links alone cannot show.
create table journal_head (
    gateway_id text   primary key,
    seq        bigint not null check (seq > 0),
    hash       text   not null check (hash ~ '^[0-9a-f]{64}$')
);

-- The last row removed by retention (purge_before) from each chain, written
-- in the same transaction as the delete: verification of what is left
-- starts from it instead of from 64 zeros.
create table journal_anchor (
    gateway_id text   primary key,
    seq        bigint not null check (seq > 0),
    hash       text   not null check (hash ~ '^[0-9a-f]{64}$')
);
