import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
// Retention of stored responses, uploaded files and ended batches (RESPONSES_/FILES_/
// BATCH_RETENTION_DAYS): the worker's hourly purge finds expired rows by these indexes instead of
// reading whole tables.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index responses_created on responses (created_at)`.execute(db);
  await sql`create index files_created on files (created_at)`.execute(db);
  await sql`create index batches_finished on batches (finished_at) where finished_at is not null`.execute(
    db,
  );
}
