-- Chain heads signed by the gateway (CMS, detached, with its transport-signing key)
-- every few seconds: a database writer who rewrites rows and recomputes their hashes
-- cannot sign the new head, so verification finds the rows no longer give the signed
-- hash. Append-only like the log itself: retention may delete a signed head only at or
-- below the chain's anchor.
create table journal_heads (
    gateway_id text        not null,
    seq        bigint      not null check (seq > 0),
    hash       text        not null check (hash ~ '^[0-9a-f]{64}$'),
    signed_at  timestamptz not null,
    signature  bytea       not null,   -- CMS over journal::head_message(gateway_id, seq, hash)
    constraint journal_heads_pkey primary key (gateway_id, seq)
);

create function journal_heads_guard() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' and exists (
        select 1 from journal_anchor a
        where a.gateway_id = old.gateway_id and old.seq <= a.seq
    ) then
        return old;
    end if;
    raise exception 'signed journal heads are append-only (% %)', old.gateway_id, old.seq
        using errcode = 'restrict_violation';
end
$$;

create trigger journal_heads_append_only before update or delete on journal_heads
    for each row execute function journal_heads_guard();
create trigger journal_heads_no_truncate before truncate on journal_heads
    for each statement execute function journal_refuse_truncate();

revoke truncate, update on journal_heads from current_user;
