import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  // Stored OpenAI Responses (`store`, `previous_response_id`), one owner each. `input` is the
  // whole conversation the call saw (earlier turns expanded), `output` its output items: the next
  // turn's context is input + output + its own input, whatever provider serves it.
  await sql`
    create table responses (
      id text primary key,
      user_id uuid not null references users (id) on delete cascade,
      model text not null,
      input jsonb not null,
      output jsonb not null,
      body jsonb not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index responses_user_created on responses (user_id, created_at desc)`.execute(
    db,
  );

  // OpenAI Files (purpose "batch" JSONL uploads and batch outputs), one owner each.
  await sql`
    create table files (
      id text primary key,
      user_id uuid not null references users (id) on delete cascade,
      purpose text not null,
      filename text not null,
      bytes bigint not null,
      content bytea not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index files_user_created on files (user_id, created_at desc)`.execute(db);
}
