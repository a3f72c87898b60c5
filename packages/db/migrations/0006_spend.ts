import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
// Spend and limits (issue #12): budgets, the shared limit counters and per-process leases that
// every server process, worker and instance spends from, the exact-match response cache and the
// hourly usage rollups.
export async function up(db: Kysely<any>): Promise<void> {
  // One budget per (scope, target, period). `scope` is text so teams (and later kinds) need no
  // schema change; periods are UTC days and months.
  await sql`
    create table budgets (
      id uuid primary key default gen_random_uuid(),
      scope text not null check (scope in ('key', 'user', 'team')),
      target_id uuid not null,
      period text not null check (period in ('day', 'month')),
      amount_usd numeric(20,10) not null check (amount_usd >= 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (scope, target_id, period)
    )`.execute(db);

  // What was spent in one window of one limit: `subject` is '<kind>:<id>' (key, user, team,
  // connection), `metric` 'usd' | 'requests' | 'tokens', `period` 'minute' | 'day' | 'month'.
  await sql`
    create table limit_windows (
      subject text not null,
      metric text not null,
      period text not null,
      window_start timestamptz not null,
      used numeric not null default 0,
      primary key (subject, metric, period, window_start)
    )`.execute(db);

  // Allowance a live process holds and spends locally; expires unless its holder renews it, so a
  // crashed process's reservations come back after the lease TTL.
  await sql`
    create table limit_leases (
      holder uuid not null,
      subject text not null,
      metric text not null,
      period text not null,
      window_start timestamptz not null,
      amount numeric not null default 0,
      expires_at timestamptz not null,
      primary key (subject, metric, period, window_start, holder)
    )`.execute(db);
  await sql`create index limit_leases_holder on limit_leases (holder)`.execute(db);

  // One round trip for a process's whole exchange: for each item, flush what was consumed into the
  // window, renew the caller's lease, and grant more when asked and the cap allows at least `need`.
  // A `usd` item's cap is the budget of its subject (null: no budget); others bring their cap.
  await sql`
    create or replace function tollgate_limit_sync(p_holder uuid, p_ttl_ms integer, p_items jsonb)
    returns table (subject text, metric text, period text, window_start timestamptz,
      cap numeric, used numeric, others numeric, leased numeric, granted numeric)
    language plpgsql as $$
    #variable_conflict use_column
    declare
      it record;
      v_cap numeric;
      v_used numeric;
      v_others numeric;
      v_mine numeric;
      v_grant numeric;
      v_now timestamptz := clock_timestamp();
    begin
      for it in
        select * from jsonb_to_recordset(p_items) as x(s text, m text, p text, w timestamptz,
          cap numeric, consumed numeric, need numeric, want numeric, keep numeric)
        order by 1, 2, 3, 4
      loop
        if it.m = 'usd' then
          v_cap := null;
          if split_part(it.s, ':', 2) ~ '^[0-9a-fA-F-]{36}$' then
            select b.amount_usd into v_cap from budgets b
             where b.scope = split_part(it.s, ':', 1)
               and b.target_id = split_part(it.s, ':', 2)::uuid and b.period = it.p;
          end if;
        else
          v_cap := it.cap;
        end if;
        -- No cap and nothing to record (a subject without a budget): say so, store nothing.
        if v_cap is null and coalesce(it.consumed, 0) = 0 then
          subject := it.s; metric := it.m; period := it.p; window_start := it.w;
          cap := null; used := 0; others := 0; leased := 0; granted := 0;
          return next;
          continue;
        end if;
        -- The window row is the lock that serializes grants of one limit across processes.
        insert into limit_windows as lw (subject, metric, period, window_start, used)
        values (it.s, it.m, it.p, it.w, coalesce(it.consumed, 0))
        on conflict (subject, metric, period, window_start)
        do update set used = lw.used + coalesce(it.consumed, 0)
        returning lw.used into v_used;
        select coalesce(sum(l.amount), 0) into v_others from limit_leases l
         where l.subject = it.s and l.metric = it.m and l.period = it.p and l.window_start = it.w
           and l.holder <> p_holder and l.expires_at > v_now;
        -- An expired lease of ours is gone: someone else may have been granted it meanwhile.
        select case when l.expires_at > v_now then l.amount else 0 end into v_mine
          from limit_leases l
         where l.subject = it.s and l.metric = it.m and l.period = it.p and l.window_start = it.w
           and l.holder = p_holder;
        v_mine := greatest(coalesce(v_mine, 0) - coalesce(it.consumed, 0), 0);
        if it.keep is not null then v_mine := least(v_mine, it.keep); end if;
        v_grant := 0;
        if v_cap is not null and coalesce(it.want, 0) > 0
           and v_cap - v_used - v_others - v_mine >= coalesce(it.need, 0) then
          v_grant := least(it.want, v_cap - v_used - v_others - v_mine);
        end if;
        v_mine := v_mine + v_grant;
        if v_mine > 0 then
          insert into limit_leases as ll (holder, subject, metric, period, window_start, amount, expires_at)
          values (p_holder, it.s, it.m, it.p, it.w, v_mine, v_now + make_interval(secs => p_ttl_ms / 1000.0))
          on conflict (subject, metric, period, window_start, holder)
          do update set amount = excluded.amount, expires_at = excluded.expires_at;
        else
          delete from limit_leases l
           where l.subject = it.s and l.metric = it.m and l.period = it.p and l.window_start = it.w
             and l.holder = p_holder;
        end if;
        subject := it.s; metric := it.m; period := it.p; window_start := it.w;
        cap := v_cap; used := v_used; others := v_others; leased := v_mine; granted := v_grant;
        return next;
      end loop;
      -- Renews every other lease of the caller too: a live process keeps what it holds.
      update limit_leases l set expires_at = v_now + make_interval(secs => p_ttl_ms / 1000.0)
       where l.holder = p_holder and l.expires_at > v_now;
    end $$`.execute(db);

  // Exact-match response cache, shared by every process; never shared between users.
  await sql`
    create table response_cache (
      owner_id uuid not null,
      cache_key bytea not null,
      model text not null,
      response jsonb not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      primary key (owner_id, cache_key)
    )`.execute(db);
  await sql`create index response_cache_expires on response_cache (expires_at)`.execute(db);

  // Hourly totals of the request log (UTC hours); usage.summary reads these for hours before the
  // watermark and the raw rows from it on, so totals are exact at any moment.
  await sql`
    create table usage_hourly (
      hour timestamptz not null,
      user_id uuid not null,
      key_id uuid,
      model text not null,
      requests bigint not null,
      errors bigint not null,
      rejected bigint not null,
      cache_hits bigint not null,
      input_tokens bigint not null,
      cached_input_tokens bigint not null,
      output_tokens bigint not null,
      reasoning_tokens bigint not null,
      cost_usd numeric(24,10) not null,
      unpriced bigint not null
    )`.execute(db);
  await sql`create unique index usage_hourly_key on usage_hourly (hour, user_id, coalesce(key_id, '00000000-0000-0000-0000-000000000000'::uuid), model)`.execute(
    db,
  );
  await sql`create index usage_hourly_user on usage_hourly (user_id, hour)`.execute(db);
  await sql`
    create table usage_rollup_state (
      id boolean primary key default true check (id),
      watermark timestamptz not null
    )`.execute(db);
}
