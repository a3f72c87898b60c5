import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  // An OpenAI Batch (/v1/batches) is a Tollgate batch plus what OpenAI's object names and Tollgate's
  // does not: its input file, endpoint, completion window and metadata. The batch owns the row.
  await sql`
    create table openai_batches (
      batch_id uuid primary key references batches (id) on delete cascade,
      input_file_id text not null,
      endpoint text not null,
      completion_window text not null,
      metadata jsonb
    )`.execute(db);
}
