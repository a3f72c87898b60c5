import type { DB } from '@tollgate/db';
import { type Kysely, type Selectable, sql } from 'kysely';

export type ConnectionRow = Selectable<DB['provider_connections']>;

export type ConnectionValues = {
  name: string;
  kind: ConnectionRow['kind'];
  baseUrl: string;
  apiKeyEnc: string;
  keyPrefix: string;
  apiVersion: string | null;
  headers: Record<string, string>;
  rpmLimit: number | null;
  tpmLimit: number | null;
};

export function selectConnections(db: Kysely<DB>): Promise<ConnectionRow[]> {
  return db.selectFrom('provider_connections').selectAll().execute();
}

export function findConnection(db: Kysely<DB>, id: string): Promise<ConnectionRow | undefined> {
  return db.selectFrom('provider_connections').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A connection's values as its row's columns (insert and update alike). */
function columns(v: ConnectionValues) {
  return {
    name: v.name,
    kind: v.kind,
    base_url: v.baseUrl,
    api_key_enc: v.apiKeyEnc,
    key_prefix: v.keyPrefix,
    api_version: v.apiVersion,
    headers: JSON.stringify(v.headers),
    rpm_limit: v.rpmLimit,
    tpm_limit: v.tpmLimit,
  };
}

/** Inserts with a caller-chosen id: the key's ciphertext is bound to it (sealed-box aad). */
export function insertConnection(db: Kysely<DB>, id: string, v: ConnectionValues) {
  return db
    .insertInto('provider_connections')
    .values({ id, ...columns(v) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function updateConnectionRow(db: Kysely<DB>, id: string, v: ConnectionValues) {
  return db
    .updateTable('provider_connections')
    .set({ ...columns(v), updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteConnectionRow(db: Kysely<DB>, id: string) {
  return db
    .deleteFrom('provider_connections')
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Catalog models with a deployment on connection `name` (a delete must not strand them). */
export async function modelsUsingConnection(db: Kysely<DB>, name: string): Promise<string[]> {
  const rows = await db
    .selectFrom('models')
    .select('name')
    .where((eb) =>
      eb.or([
        eb('provider', '=', name),
        eb(sql`deployments`, '@>', sql`${JSON.stringify([{ provider: name }])}::jsonb`),
      ]),
    )
    .execute();
  return rows.map((r) => r.name);
}

export async function connectionNames(db: Kysely<DB>): Promise<string[]> {
  return (await db.selectFrom('provider_connections').select('name').execute()).map((r) => r.name);
}
