import type { DB } from '@tollgate/db';
import type { Kysely, Selectable } from 'kysely';
import { type AuditStamp, recordAudit } from '../audit/audit.service.ts';
import { getConnections } from '../connections/connection-registry.ts';
import { connectionNames } from '../connections/connections.repository.ts';
import { isReservedName } from '../connections/connections.service.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import {
  deleteModelRow,
  findCollisions,
  type ModelValues,
  selectAllModels,
  selectModelForUpdate,
  upsertModelRow,
} from './models.repository.ts';

export type ModelKind = ModelValues['kind'];

/** A catalog entry as the service and the API see it; prices are decimal strings or null. */
export type CatalogModel = ModelValues & { createdAt: Date; updatedAt: Date };

export type ModelInput = Omit<
  ModelValues,
  | 'cachedInputPricePerMTok'
  | 'cacheWritePricePerMTok'
  | 'contextWindow'
  | 'maxOutputTokens'
  | 'enabled'
  | 'aliases'
  | 'fallbacks'
  | 'deployments'
  | 'routing'
  | 'provider'
  | 'upstreamModel'
> &
  Partial<Omit<ModelValues, 'deployments'>> & {
    /** Instead of provider + upstreamModel: one or more weighted deployments on connections. */
    deployments?: DeploymentInput[] | undefined;
  };

export type DeploymentInput = {
  provider: string;
  upstreamModel: string;
  weight?: number | undefined;
  inputPricePerMTok?: string | null | undefined;
  outputPricePerMTok?: string | null | undefined;
};

/** numeric(20,10) arrives as "1.5000000000": trimmed as a string, never through a float. */
export function trimDecimal(s: string | null): string | null {
  if (s === null) return null;
  if (!s.includes('.')) return s;
  const t = s.replace(/0+$/, '').replace(/\.$/, '');
  return t === '' || t === '-' ? '0' : t;
}

function toModel(r: Selectable<DB['models']>): CatalogModel {
  return {
    name: r.name,
    provider: r.provider,
    upstreamModel: r.upstream_model,
    kind: r.kind,
    inputPricePerMTok: trimDecimal(r.input_price_per_mtok),
    outputPricePerMTok: trimDecimal(r.output_price_per_mtok),
    cachedInputPricePerMTok: trimDecimal(r.cached_input_price_per_mtok),
    cacheWritePricePerMTok: trimDecimal(r.cache_write_price_per_mtok),
    contextWindow: r.context_window,
    maxOutputTokens: r.max_output_tokens,
    enabled: r.enabled,
    aliases: r.aliases,
    fallbacks: r.fallbacks,
    deployments: r.deployments.map((d) => ({
      provider: d.provider,
      upstreamModel: d.upstreamModel,
      weight: d.weight,
      inputPricePerMTok: d.inputPricePerMTok ?? null,
      outputPricePerMTok: d.outputPricePerMTok ?? null,
    })),
    routing: r.routing,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

type Catalog = { models: CatalogModel[]; byName: Map<string, CatalogModel> };
type CacheEntry = { at: number; catalog: Promise<Catalog> };

/**
 * The hot path must not cost a DB round trip per request: the catalog is read at most every
 * CATALOG_TTL_MS per process (and per database, so test files never share it). Writes here drop
 * it at once; other processes see them within the TTL.
 */
export const CATALOG_TTL_MS = 5_000;
const cache = new WeakMap<Kysely<DB>, CacheEntry>();

async function loadCatalog(db: Kysely<DB>): Promise<Catalog> {
  const models = (await selectAllModels(db)).map(toModel);
  const byName = new Map<string, CatalogModel>();
  // Names win over aliases when both exist (aliases are checked on write, this is belt and braces).
  for (const m of models) for (const a of m.aliases) byName.set(a, m);
  for (const m of models) byName.set(m.name, m);
  return { models, byName };
}

export function getCatalog(deps: Pick<Deps, 'db'>): Promise<Catalog> {
  const now = Date.now();
  const hit = cache.get(deps.db);
  if (hit && now - hit.at < CATALOG_TTL_MS) return hit.catalog;
  const catalog = loadCatalog(deps.db);
  cache.set(deps.db, { at: now, catalog });
  // A failed load must not be cached for the whole TTL.
  catalog.catch(() => cache.delete(deps.db));
  return catalog;
}

export function invalidateCatalog(deps: Pick<Deps, 'db'>): void {
  cache.delete(deps.db);
}

/** Name or alias → an enabled catalog entry of the right kind, or a domain error. */
export async function resolveModel(
  deps: Pick<Deps, 'db'>,
  name: string,
  kind: ModelKind,
): Promise<CatalogModel> {
  const m = (await getCatalog(deps)).byName.get(name);
  if (!m?.enabled) {
    throw new DomainError('model_not_found', `model '${name}' does not exist or is disabled`, {
      param: 'model',
    });
  }
  if (m.kind !== kind) {
    throw new DomainError(
      'bad_request',
      `model '${name}' is ${m.kind === 'chat' ? 'a chat' : 'an embedding'} model, not ${
        kind === 'chat' ? 'a chat' : 'an embedding'
      } model`,
      { param: 'model' },
    );
  }
  return m;
}

/** The fallback chain after `m`: enabled entries of the same kind, each once, in order. */
export async function fallbackChain(
  deps: Pick<Deps, 'db'>,
  m: CatalogModel,
): Promise<CatalogModel[]> {
  const { byName } = await getCatalog(deps);
  const seen = new Set([m.name]);
  const out: CatalogModel[] = [];
  for (const f of m.fallbacks) {
    const next = byName.get(f);
    if (!next?.enabled || next.kind !== m.kind || seen.has(next.name)) continue;
    seen.add(next.name);
    out.push(next);
  }
  return out;
}

export type ModelPage = { items: CatalogModel[]; nextCursor: string | null };

/** Newest first (then by name), cursor = the last item's name. */
export async function listModels(
  deps: Pick<Deps, 'db'>,
  opts: { limit: number; cursor?: string | undefined; kind?: ModelKind | undefined },
): Promise<ModelPage> {
  const { models } = await getCatalog(deps);
  const sorted = models
    .filter((m) => !opts.kind || m.kind === opts.kind)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || a.name.localeCompare(b.name));
  let start = 0;
  if (opts.cursor) {
    const i = sorted.findIndex((m) => m.name === opts.cursor);
    if (i < 0) throw new DomainError('bad_request', 'invalid cursor', { param: 'cursor' });
    start = i + 1;
  }
  const items = sorted.slice(start, start + opts.limit);
  const more = start + opts.limit < sorted.length;
  return { items, nextCursor: more ? (items.at(-1)?.name ?? null) : null };
}

export async function upsertModel(
  deps: Pick<Deps, 'db' | 'config' | 'providers' | 'log'>,
  input: ModelInput,
  audit?: AuditStamp,
): Promise<CatalogModel> {
  const aliases = [...new Set(input.aliases ?? [])];
  const fallbacks = [...new Set(input.fallbacks ?? [])];
  if (aliases.includes(input.name)) {
    throw new DomainError('bad_request', 'a model cannot be its own alias', { param: 'aliases' });
  }
  if (fallbacks.includes(input.name)) {
    throw new DomainError('bad_request', 'a model cannot fall back to itself', {
      param: 'fallbacks',
    });
  }
  const deployments = input.deployments ?? [];
  const first = deployments[0];
  const provider = input.provider ?? first?.provider;
  const upstreamModel = input.upstreamModel ?? first?.upstreamModel;
  if (provider === undefined || upstreamModel === undefined) {
    throw new DomainError('bad_request', 'give provider and upstreamModel, or deployments', {
      param: deployments.length === 0 && input.deployments ? 'deployments' : 'provider',
    });
  }
  // Every connection a model names must exist (the built-in names always may: seeds use them
  // whether or not OPENAI_* / ANTHROPIC_* are set).
  const named = deployments.length > 0 ? deployments.map((d) => d.provider) : [provider];
  const unknown = named.filter((n) => !isReservedName(n));
  if (unknown.length > 0) {
    const known = await getConnections(deps);
    const stored = new Set(await connectionNames(deps.db));
    const param = deployments.length > 0 ? 'deployments' : 'provider';
    for (const n of unknown) {
      if (!known.has(n) && !stored.has(n)) {
        throw new DomainError('bad_request', `${param}: no connection named '${n}'`, { param });
      }
    }
  }
  const clashes = await findCollisions(deps.db, input.name, [input.name, ...aliases]);
  if (clashes.length > 0) {
    throw new DomainError('conflict', `name or alias already used by model '${clashes[0]?.name}'`, {
      param: 'aliases',
    });
  }
  const values: ModelValues = {
    name: input.name,
    provider,
    upstreamModel,
    kind: input.kind,
    inputPricePerMTok: input.inputPricePerMTok,
    outputPricePerMTok: input.outputPricePerMTok,
    cachedInputPricePerMTok: input.cachedInputPricePerMTok ?? null,
    cacheWritePricePerMTok: input.cacheWritePricePerMTok ?? null,
    contextWindow: input.contextWindow ?? null,
    maxOutputTokens: input.maxOutputTokens ?? null,
    enabled: input.enabled ?? true,
    aliases,
    fallbacks,
    deployments: deployments.map((d) => ({
      provider: d.provider,
      upstreamModel: d.upstreamModel,
      weight: d.weight ?? 1,
      inputPricePerMTok: d.inputPricePerMTok ?? null,
      outputPricePerMTok: d.outputPricePerMTok ?? null,
    })),
    routing: input.routing ?? 'weighted',
  };
  const model = await deps.db.transaction().execute(async (trx) => {
    const before = await selectModelForUpdate(trx, input.name);
    const after = toModel(await upsertModelRow(trx, values));
    await recordAudit(trx, audit, {
      targetType: 'model',
      targetId: input.name,
      before: before ? toModel(before) : null,
      after,
    });
    return after;
  });
  invalidateCatalog(deps);
  return model;
}

export async function deleteModel(
  deps: Pick<Deps, 'db'>,
  name: string,
  audit?: AuditStamp,
): Promise<void> {
  const deleted = await deps.db.transaction().execute(async (trx) => {
    const before = await selectModelForUpdate(trx, name);
    if (!before || !(await deleteModelRow(trx, name))) return false;
    await recordAudit(trx, audit, {
      targetType: 'model',
      targetId: name,
      before: toModel(before),
      after: null,
    });
    return true;
  });
  invalidateCatalog(deps);
  if (!deleted) throw new DomainError('not_found', `model '${name}' not found`);
}
