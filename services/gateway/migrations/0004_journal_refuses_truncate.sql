-- The message log refuses every rewrite by the role that writes it, TRUNCATE too:
-- rows are only appended; retention deletes a prefix of a chain, and only up to the
-- anchor it records first in the same transaction (Journal::purge_before). The head
-- and anchor of a chain only move forward and are never deleted. A writer that can
-- disable these triggers is caught by the signed chain heads (journal_heads).

create or replace function journal_refuse_update() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' and exists (
        select 1 from journal_anchor a
        where a.gateway_id = old.gateway_id and old.seq <= a.seq
    ) then
        return old;  -- retention: a prefix already anchored
    end if;
    raise exception 'journal rows are append-only (% %)', old.gateway_id, old.seq
        using errcode = 'restrict_violation';
end
$$;

drop trigger journal_append_only on journal;
create trigger journal_append_only before update or delete on journal
    for each row execute function journal_refuse_update();

create function journal_refuse_truncate() returns trigger
language plpgsql as $$
begin
    raise exception 'the message log (%) is append-only: TRUNCATE refused', tg_table_name
        using errcode = 'restrict_violation';
end
$$;

create trigger journal_no_truncate before truncate on journal
    for each statement execute function journal_refuse_truncate();
create trigger journal_head_no_truncate before truncate on journal_head
    for each statement execute function journal_refuse_truncate();
create trigger journal_anchor_no_truncate before truncate on journal_anchor
    for each statement execute function journal_refuse_truncate();

-- a chain's head and anchor only move forward, and stay
create function journal_mark_forward() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' or new.gateway_id <> old.gateway_id or new.seq < old.seq then
        raise exception '% of chain % only moves forward', tg_table_name, old.gateway_id
            using errcode = 'restrict_violation';
    end if;
    return new;
end
$$;

create trigger journal_head_forward before update or delete on journal_head
    for each row execute function journal_mark_forward();
create trigger journal_anchor_forward before update or delete on journal_anchor
    for each row execute function journal_mark_forward();

-- and the role that runs these migrations (the gateway's own) keeps no right to them
revoke truncate, update on journal from current_user;
revoke truncate, delete on journal_head, journal_anchor from current_user;
