import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';
import { AUTH_CHANNEL, type AuthEvent } from './auth-runtime.ts';

/**
 * Tells every process that a credential changed. Run it in the transaction that made the change:
 * Postgres delivers the notification on commit, and never for a rolled-back change.
 */
export async function publishAuthEvent(db: Kysely<DB>, e: AuthEvent): Promise<void> {
  await sql`select pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(e)})`.execute(db);
}
