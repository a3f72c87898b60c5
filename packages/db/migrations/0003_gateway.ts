import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  // The model catalog. Prices are per million tokens; null means "unpriced", never $0.
  await db.schema
    .createTable('models')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('upstream_model', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('chat', 'embedding')`))
    .addColumn('input_price_per_mtok', sql`numeric(20,10)`)
    .addColumn('output_price_per_mtok', sql`numeric(20,10)`)
    .addColumn('cached_input_price_per_mtok', sql`numeric(20,10)`)
    .addColumn('cache_write_price_per_mtok', sql`numeric(20,10)`)
    .addColumn('context_window', 'integer')
    .addColumn('max_output_tokens', 'integer')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('aliases', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('fallbacks', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index models_aliases on models using gin (aliases)`.execute(db);

  // One row per call, partitioned by month so retention drops whole partitions. A unique index on
  // a partitioned table must include the partition key, so request_id is unique per created_at
  // only; request_claims (below) is what makes a client-chosen id single-use.
  await sql`
    create table request_logs (
      id uuid not null default gen_random_uuid(),
      request_id text not null,
      user_id uuid not null,
      key_id uuid,
      batch_item_id text,
      model text not null,
      provider text not null,
      upstream_model text not null,
      status text not null check (status in ('ok', 'error', 'aborted', 'rejected')),
      error_code text,
      latency_ms integer not null,
      ttft_ms integer,
      input_tokens integer not null default 0,
      cached_input_tokens integer not null default 0,
      cache_write_tokens integer not null default 0,
      output_tokens integer not null default 0,
      reasoning_tokens integer not null default 0,
      usage_estimated boolean not null default false,
      cost_usd numeric(20,10),
      cache_hit boolean not null default false,
      -- Which surface took the call; null only for rows written outside the gateway.
      surface text check (surface in ('trpc', 'rest', 'openai', 'anthropic', 'batch')),
      created_at timestamptz not null default now(),
      primary key (id, created_at)
    ) partition by range (created_at)`.execute(db);
  await sql`create unique index request_logs_request_id on request_logs (request_id, created_at)`.execute(
    db,
  );
  await sql`create index request_logs_user_created on request_logs (user_id, created_at desc, id desc)`.execute(
    db,
  );
  await sql`create index request_logs_created on request_logs (created_at desc, id desc)`.execute(
    db,
  );

  // Bodies apart from the metadata: their own (shorter) retention, never scanned by lists.
  await sql`
    create table request_bodies (
      log_id uuid primary key,
      request_id text not null,
      request jsonb,
      response jsonb,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index request_bodies_created on request_bodies (created_at)`.execute(db);

  // A client-chosen request id (chat.stream) is claimed once: a reconnect re-running the same call
  // is refused instead of billed twice.
  await sql`
    create table request_claims (
      request_id text primary key,
      user_id uuid not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index request_claims_created on request_claims (created_at)`.execute(db);

  // Creates the monthly partitions from the month of `from` through `months` months after it.
  await sql`
    create or replace function tollgate_ensure_request_log_partitions(since timestamptz, months integer)
    returns integer language plpgsql as $$
    declare
      m date := date_trunc('month', since at time zone 'UTC')::date;
      made integer := 0;
      part text;
    begin
      for i in 0..months loop
        part := 'request_logs_' || to_char(m, 'YYYY_MM');
        if to_regclass(part) is null then
          execute format(
            'create table %I partition of request_logs for values from (%L) to (%L)',
            part,
            (m::timestamp at time zone 'UTC'),
            ((m + interval '1 month')::timestamp at time zone 'UTC'));
          made := made + 1;
        end if;
        m := (m + interval '1 month')::date;
      end loop;
      return made;
    end $$`.execute(db);
  await sql`select tollgate_ensure_request_log_partitions(now(), 1)`.execute(db);
}
