import { sql } from 'kysely';
import type { CachedTeam } from '../auth/auth-runtime.ts';
import { AUTH_CACHE_TTL_MS, cacheSet } from '../auth/auth-runtime.ts';
import { hasScope, type UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { type CatalogModel, getCatalog } from '../models/models.service.ts';

/**
 * The teams a call counts against (budgets, RPM/TPM, usage): the key's team, if it has one. A
 * key's team is fixed at creation and carried in the cached key state, so this costs nothing.
 */
export function teamOf(p: UserPrincipal): readonly string[] {
  return p.teamId ? [p.teamId] : [];
}

/**
 * A team's allow-list and limits, cached per process like keys and users: a change publishes a
 * `team` auth event in its transaction, so every process drops the entry (and the team's keys).
 */
export async function teamState(
  deps: Pick<Deps, 'db' | 'auth'>,
  teamId: string,
): Promise<CachedTeam | undefined> {
  const rt = deps.auth;
  const hit = rt.live() ? rt.teams.get(teamId) : undefined;
  if (hit && Date.now() - hit.cachedAt < AUTH_CACHE_TTL_MS) return hit;
  const gen = rt.generation();
  const row = await deps.db
    .selectFrom('teams')
    .select(['id', 'allowed_models', 'rpm_limit', 'tpm_limit'])
    .where('id', '=', teamId)
    .executeTakeFirst();
  if (!row) return undefined;
  const entry: CachedTeam = {
    id: row.id,
    allowedModels: row.allowed_models,
    rpmLimit: row.rpm_limit,
    tpmLimit: row.tpm_limit,
    cachedAt: Date.now(),
  };
  if (rt.live() && rt.generation() === gen) cacheSet(rt.teams, teamId, entry);
  return entry;
}

/** Which catalog entries a list admits: its names, and the entries its aliases name. */
function admits(
  list: readonly string[],
  byName: ReadonlyMap<string, CatalogModel>,
): (m: CatalogModel) => boolean {
  const names = new Set(list.map((n) => byName.get(n)?.name ?? n));
  return (m) => names.has(m.name);
}

/**
 * What the caller may call: null when every model (no list on the key nor its team), else a
 * predicate. Key and team lists intersect; empty means "all". A key whose team is gone may
 * call nothing (its keys are revoked with the team; this covers the moment in between).
 */
export async function modelAccess(
  deps: Pick<Deps, 'db' | 'auth'>,
  p: UserPrincipal,
): Promise<((m: CatalogModel) => boolean) | null> {
  const keyList = p.allowedModels ?? [];
  const team = p.teamId ? await teamState(deps, p.teamId) : undefined;
  if (p.teamId && !team) return () => false;
  const teamList = team?.allowedModels ?? [];
  if (keyList.length === 0 && teamList.length === 0) return null;
  const { byName } = await getCatalog(deps);
  const byKey = keyList.length > 0 ? admits(keyList, byName) : null;
  const byTeam = teamList.length > 0 ? admits(teamList, byName) : null;
  return (m) => (byKey === null || byKey(m)) && (byTeam === null || byTeam(m));
}

/**
 * Refuses (403 model_not_allowed) a model outside the caller's allow-lists; returns the
 * predicate so fallbacks can be filtered the same way (a fallback never widens access).
 */
export async function checkModelAllowed(
  deps: Pick<Deps, 'db' | 'auth'>,
  p: UserPrincipal,
  m: CatalogModel,
  asked: string,
): Promise<(m: CatalogModel) => boolean> {
  const allowed = await modelAccess(deps, p);
  if (allowed === null) return () => true;
  if (!allowed(m)) {
    throw new DomainError('model_not_allowed', `model '${asked}' is not allowed for this key`, {
      param: 'model',
    });
  }
  return allowed;
}

/** Admins (holding the admin scope) see and manage everything; others their own and teams'. */
export const seesAll = (p: UserPrincipal) => p.role === 'admin' && hasScope(p, 'admin');

/**
 * The ids of keys in teams `userId` manages, as a subquery: a manager sees and manages these
 * keys and their request-log rows as their own.
 */
export function managedKeyIds(userId: string | null) {
  return sql<string>`(select k.id from api_keys k
    join team_members tm on tm.team_id = k.team_id
    where tm.user_id = ${userId}::uuid and tm.role = 'manager')`;
}
