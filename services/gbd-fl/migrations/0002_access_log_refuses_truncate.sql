-- The personal-data access log refuses TRUNCATE as well as UPDATE and DELETE, and the
-- role that runs these migrations (ГБД ФЛ's own) keeps no right to them.
create function access_log_refuse_truncate() returns trigger language plpgsql as $$
begin
    raise exception 'the access log is append-only: TRUNCATE refused'
        using errcode = 'restrict_violation';
end $$;
create trigger access_log_no_truncate before truncate on access_log
    for each statement execute function access_log_refuse_truncate();

revoke truncate, update, delete on access_log from current_user;
