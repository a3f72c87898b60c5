import type { Kysely } from 'kysely';

// Gateway tables: filled in by the gateway issue.
export async function up(_db: Kysely<any>): Promise<void> {}
