import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
// Provider connections as data (issue #16): admin-created upstream accounts whose keys are stored
// encrypted (AES-256-GCM under TOLLGATE_SECRET); catalog models route to deployments on them; the
// request log records which connection served each call.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table provider_connections (
      id uuid primary key default gen_random_uuid(),
      name text not null unique,
      kind text not null
        check (kind in ('openai', 'openai-compatible', 'azure-openai', 'anthropic')),
      base_url text not null,
      api_key_enc text not null,
      key_prefix text not null,
      api_version text,
      headers jsonb not null default '{}'::jsonb,
      rpm_limit integer check (rpm_limit > 0),
      tpm_limit integer check (tpm_limit > 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  // [{provider: <connection name>, upstreamModel, weight, inputPricePerMTok?, outputPricePerMTok?}];
  // empty = the legacy single provider + upstream_model columns.
  await sql`alter table models add column deployments jsonb not null default '[]'::jsonb`.execute(
    db,
  );
  await sql`alter table models add column routing text not null default 'weighted'
    check (routing in ('weighted', 'least-in-flight', 'lowest-latency'))`.execute(db);
  await sql`alter table request_logs add column connection text`.execute(db);
}
