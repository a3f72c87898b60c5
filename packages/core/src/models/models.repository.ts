import type { DB, DeploymentRow, RoutingStrategy } from '@tollgate/db';
import { type Kysely, type Selectable, sql } from 'kysely';

export type ModelValues = {
  name: string;
  provider: string;
  upstreamModel: string;
  kind: 'chat' | 'embedding';
  inputPricePerMTok: string | null;
  outputPricePerMTok: string | null;
  cachedInputPricePerMTok: string | null;
  cacheWritePricePerMTok: string | null;
  contextWindow: number | null;
  maxOutputTokens: number | null;
  enabled: boolean;
  aliases: string[];
  fallbacks: string[];
  /** Empty: the model is served by `provider` + `upstreamModel` alone. */
  deployments: DeploymentRow[];
  routing: RoutingStrategy;
};

function columns(v: ModelValues) {
  return {
    provider: v.provider,
    upstream_model: v.upstreamModel,
    kind: v.kind,
    input_price_per_mtok: v.inputPricePerMTok,
    output_price_per_mtok: v.outputPricePerMTok,
    cached_input_price_per_mtok: v.cachedInputPricePerMTok,
    cache_write_price_per_mtok: v.cacheWritePricePerMTok,
    context_window: v.contextWindow,
    max_output_tokens: v.maxOutputTokens,
    enabled: v.enabled,
    aliases: v.aliases,
    fallbacks: v.fallbacks,
    deployments: JSON.stringify(v.deployments),
    routing: v.routing,
  };
}

export async function selectAllModels(db: Kysely<DB>): Promise<Selectable<DB['models']>[]> {
  return db.selectFrom('models').selectAll().execute();
}

export async function selectModelForUpdate(db: Kysely<DB>, name: string) {
  return db
    .selectFrom('models')
    .selectAll()
    .where('name', '=', name)
    .forUpdate()
    .executeTakeFirst();
}

export async function upsertModelRow(db: Kysely<DB>, v: ModelValues) {
  const cols = columns(v);
  return db
    .insertInto('models')
    .values({ name: v.name, ...cols })
    .onConflict((oc) => oc.column('name').doUpdateSet({ ...cols, updated_at: sql`now()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Seeds: an existing row (possibly edited by an admin) is never overwritten. */
export async function insertModelsIfAbsent(db: Kysely<DB>, rows: ModelValues[]): Promise<number> {
  if (rows.length === 0) return 0;
  const res = await db
    .insertInto('models')
    .values(rows.map((v) => ({ name: v.name, ...columns(v) })))
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0);
}

export async function deleteModelRow(db: Kysely<DB>, name: string): Promise<boolean> {
  const res = await db.deleteFrom('models').where('name', '=', name).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Other models whose name or aliases collide with any of `names`. */
export async function findCollisions(db: Kysely<DB>, self: string, names: string[]) {
  if (names.length === 0) return [];
  return db
    .selectFrom('models')
    .select(['name', 'aliases'])
    .where('name', '!=', self)
    .where((eb) =>
      eb.or([eb('name', 'in', names), eb(sql`aliases`, '&&', sql<string[]>`${names}::text[]`)]),
    )
    .execute();
}
