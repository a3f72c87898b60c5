import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
// Batches (issue #11): durable batches of chat calls, their items, idempotency keys, webhook
// secrets and delivery attempts, and the per-item billing guard on the request log.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table batches (
      id uuid primary key,
      user_id uuid not null references users (id),
      key_id uuid,
      status text not null default 'queued'
        check (status in ('queued', 'running', 'completed', 'cancelled', 'failed')),
      total integer not null check (total > 0),
      -- Items in a terminal state (succeeded, failed, cancelled); the batch ends when done = total.
      done integer not null default 0,
      cost_usd numeric(20,10) not null default 0,
      webhook_url text,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      cancelled_at timestamptz,
      finished_at timestamptz
    )`.execute(db);
  await sql`create index batches_user_created on batches (user_id, created_at desc, id desc)`.execute(
    db,
  );
  await sql`create index batches_created on batches (created_at desc, id desc)`.execute(db);

  // One row per chat call of a batch; idx is the input position (results come back in it).
  await sql`
    create table batch_items (
      id uuid primary key default gen_random_uuid(),
      batch_id uuid not null references batches (id) on delete cascade,
      idx integer not null,
      custom_id text,
      provider text not null,
      request jsonb not null,
      status text not null default 'pending'
        check (status in ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
      attempts integer not null default 0,
      -- The graphile-worker job that claimed the item: a re-run of that job (after its worker
      -- died) takes it back; any other job leaves it alone.
      job_id bigint,
      request_id text,
      response jsonb,
      error jsonb,
      updated_at timestamptz not null default now(),
      unique (batch_id, idx)
    )`.execute(db);
  await sql`create index batch_items_batch_status on batch_items (batch_id, status)`.execute(db);

  // Exactly one request-log row per batch item, enforced by the database: request_logs is
  // partitioned by created_at, so a unique index there could only be unique per instant. Every
  // log row that names a batch item claims it here in the same transaction; a second one fails.
  await sql`
    create table batch_item_charges (
      batch_item_id text primary key,
      log_id uuid not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`
    create or replace function tollgate_claim_batch_item_charge() returns trigger
    language plpgsql as $$
    begin
      insert into batch_item_charges (batch_item_id, log_id, created_at)
      values (new.batch_item_id, new.id, new.created_at);
      return null;
    end $$`.execute(db);
  await sql`
    create trigger request_logs_batch_item_charge after insert on request_logs
    for each row when (new.batch_item_id is not null)
    execute function tollgate_claim_batch_item_charge()`.execute(db);

  // Idempotency-Key per user: the same key with the same body is the same batch.
  await sql`
    create table idempotency_keys (
      user_id uuid not null references users (id) on delete cascade,
      key text not null,
      request_hash text not null,
      batch_id uuid not null,
      created_at timestamptz not null default now(),
      primary key (user_id, key)
    )`.execute(db);
  await sql`create index idempotency_keys_created on idempotency_keys (created_at)`.execute(db);

  // A user's webhook signing secret, encrypted with TOLLGATE_SECRET.
  await sql`
    create table webhook_secrets (
      user_id uuid primary key references users (id) on delete cascade,
      secret_enc text not null,
      created_at timestamptz not null default now()
    )`.execute(db);

  // Every delivery attempt of a batch's webhook, shown on batches.get.
  await sql`
    create table webhook_deliveries (
      id uuid primary key default gen_random_uuid(),
      batch_id uuid not null references batches (id) on delete cascade,
      attempt integer not null,
      url text not null,
      status_code integer,
      ok boolean not null,
      error text,
      duration_ms integer not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index webhook_deliveries_batch on webhook_deliveries (batch_id, created_at)`.execute(
    db,
  );
}
