import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
// request_bodies becomes range-partitioned by month like request_logs, so retention drops whole
// partitions of bodies too instead of deleting them row by row.
export async function up(db: Kysely<any>): Promise<void> {
  // The old table keeps its data until it is copied; its index names must make way for the new ones.
  await sql`alter table request_bodies rename to request_bodies_old`.execute(db);
  await sql`alter table request_bodies_old rename constraint request_bodies_pkey to request_bodies_old_pkey`.execute(
    db,
  );
  await sql`alter index request_bodies_created rename to request_bodies_old_created`.execute(db);

  // A primary key of a partitioned table must include the partition key. The writer gives a body
  // its log row's created_at, so (log_id, created_at) is what a reader joins on.
  await sql`
    create table request_bodies (
      log_id uuid not null,
      request_id text not null,
      request jsonb,
      response jsonb,
      created_at timestamptz not null default now(),
      primary key (log_id, created_at)
    ) partition by range (created_at)`.execute(db);
  await sql`create index request_bodies_created on request_bodies (created_at)`.execute(db);

  // One monthly partition of one parent, named <parent>_YYYY_MM, covering [month, month + 1) in UTC.
  await sql`
    create or replace function tollgate_ensure_month_partition(parent text, month date)
    returns boolean language plpgsql as $$
    declare
      m date := date_trunc('month', month)::date;
      part text := parent || '_' || to_char(m, 'YYYY_MM');
    begin
      if to_regclass(part) is not null then
        return false;
      end if;
      execute format(
        'create table %I partition of %I for values from (%L) to (%L)',
        part,
        parent,
        (m::timestamp at time zone 'UTC'),
        ((m + interval '1 month')::timestamp at time zone 'UTC'));
      return true;
    end $$`.execute(db);

  // Same name and signature as 0003's, so the writer and the maintenance cron keep calling it; it
  // now prepares both monthly-partitioned tables and returns how many partitions it created.
  await sql`
    create or replace function tollgate_ensure_request_log_partitions(since timestamptz, months integer)
    returns integer language plpgsql as $$
    declare
      m date := date_trunc('month', since at time zone 'UTC')::date;
      made integer := 0;
      parent text;
    begin
      for i in 0..months loop
        foreach parent in array array['request_logs', 'request_bodies'] loop
          if tollgate_ensure_month_partition(parent, m) then
            made := made + 1;
          end if;
        end loop;
        m := (m + interval '1 month')::date;
      end loop;
      return made;
    end $$`.execute(db);

  // Existing bodies: dated like their log row (what readers join on), then copied into the
  // partitions of the months they fall in. Only body partitions are made for old months: a log
  // partition retention already dropped must not come back.
  await sql`
    update request_bodies_old b set created_at = l.created_at
    from request_logs l
    where l.id = b.log_id and l.created_at <> b.created_at`.execute(db);
  await sql`
    select tollgate_ensure_month_partition('request_bodies', m.month)
    from (
      select distinct date_trunc('month', created_at at time zone 'UTC')::date as month
      from request_bodies_old
    ) m`.execute(db);
  await sql`select tollgate_ensure_request_log_partitions(now(), 1)`.execute(db);
  await sql`
    insert into request_bodies (log_id, request_id, request, response, created_at)
    select log_id, request_id, request, response, created_at from request_bodies_old`.execute(db);
  await sql`drop table request_bodies_old`.execute(db);
}
