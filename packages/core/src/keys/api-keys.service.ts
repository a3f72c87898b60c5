import type { DB } from '@tollgate/db';
import { type Kysely, sql, type UpdateObject } from 'kysely';
import { type AuditStamp, recordAudit } from '../audit/audit.service.ts';
import { publishAuthEvent } from '../auth/auth-events.ts';
import { defaultScopes, type KeyScope, type UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { olderThanCursor, type Page, type PageInput, pageParams, toPage } from '../pagination.ts';
import { managedKeyIds, seesAll } from '../teams/team-access.ts';
import { roleInTeam } from '../teams/teams.service.ts';
import { insertApiKey } from './api-keys.repository.ts';
import { generateApiKey, hashApiKey, keyPrefix } from './key-material.ts';

export type NewKeyOptions = {
  name: string;
  scopes?: readonly KeyScope[];
  expiresAt?: Date | null;
  rpmLimit?: number | null;
  tpmLimit?: number | null;
  logBodies?: boolean | null;
  cache?: boolean;
  teamId?: string | null;
  allowedModels?: readonly string[];
};

/** Creates a key for a user; the plaintext is returned here once and never stored. */
export async function issueApiKey(db: Kysely<DB>, userId: string, opts: NewKeyOptions) {
  const key = generateApiKey();
  const row = await insertApiKey(db, {
    ...opts,
    userId,
    scopes: opts.scopes ?? defaultScopes,
    prefix: keyPrefix(key),
    keyHash: hashApiKey(key),
  });
  return { key, row };
}

export type KeyView = {
  id: string;
  userId: string;
  name: string;
  /** `tg_` + 6 characters: enough to recognise a key, far too little to use it. */
  prefix: string;
  scopes: KeyScope[];
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  logBodies: boolean | null;
  cache: boolean;
  /** The team the key's calls also count against; fixed at creation. */
  teamId: string | null;
  /** Names or aliases this key may call (intersected with its team's); empty = every model. */
  allowedModels: string[];
  createdAt: string;
};

type KeyRow = Awaited<ReturnType<typeof insertApiKey>>;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

function view(r: KeyRow): KeyView {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes as KeyScope[],
    expiresAt: iso(r.expires_at),
    lastUsedAt: iso(r.last_used_at),
    revokedAt: iso(r.revoked_at),
    rpmLimit: r.rpm_limit,
    tpmLimit: r.tpm_limit,
    logBodies: r.log_bodies,
    cache: r.cache,
    teamId: r.team_id,
    allowedModels: r.allowed_models,
    createdAt: r.created_at.toISOString(),
  };
}

/**
 * Keys `p` may see and manage: an admin's (with the admin scope) every key; anyone else their
 * own and the keys of teams they manage.
 */
function visibleTo(p: UserPrincipal) {
  return sql<boolean>`(user_id = ${p.userId} or id in ${managedKeyIds(p.userId)})`;
}

/** The caller's keys and those of teams they manage (an admin's: everyone's), newest first. */
export async function listKeys(
  deps: Deps,
  p: UserPrincipal,
  input: PageInput & { teamId?: string | undefined },
): Promise<Page<KeyView>> {
  const { limit, cursor } = pageParams(input);
  let q = deps.db.selectFrom('api_keys').selectAll();
  if (!seesAll(p)) q = q.where(visibleTo(p));
  if (input.teamId) q = q.where('team_id', '=', input.teamId);
  if (cursor) q = q.where(olderThanCursor('api_keys', cursor));
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, view);
}

export type KeySettings = {
  name?: string | undefined;
  expiresAt?: string | null | undefined;
  rpmLimit?: number | null | undefined;
  tpmLimit?: number | null | undefined;
  logBodies?: boolean | null | undefined;
  cache?: boolean | undefined;
  allowedModels?: readonly string[] | undefined;
};

function expiry(deps: Deps, expiresAt: string | null | undefined): Date | null | undefined {
  if (expiresAt === undefined || expiresAt === null) return expiresAt;
  const d = new Date(expiresAt);
  if (d <= deps.clock.now()) {
    throw new DomainError('bad_request', 'expiresAt must be in the future', { param: 'expiresAt' });
  }
  return d;
}

/**
 * A key's team when the caller uses a team key: that team (a team key never mints a key outside
 * its team's allow-list and budget); otherwise what was asked, if anything.
 */
function keyTeam(p: UserPrincipal, asked: string | undefined): string | null {
  if (p.keyId === null || !p.teamId) return asked ?? null;
  if (asked !== undefined && asked !== p.teamId) {
    throw new DomainError('forbidden', 'a team key cannot create keys outside its team', {
      param: 'teamId',
    });
  }
  return p.teamId;
}

/**
 * The allow-list a caller may give a key: anything with a JWT or an unrestricted key; through a
 * restricted key, a subset of its own list (omitted: its own list), so a key never mints or
 * widens a key beyond what it may call itself.
 */
function keyAllowList(
  p: UserPrincipal,
  asked: readonly string[] | undefined,
): string[] | undefined {
  const own = p.keyId === null ? [] : (p.allowedModels ?? []);
  const list = asked === undefined ? undefined : [...new Set(asked)];
  if (own.length === 0) return list;
  if (list === undefined) return [...own];
  if (list.length === 0 || list.some((m) => !own.includes(m))) {
    throw new DomainError('forbidden', 'a key cannot allow models outside its own allow-list', {
      param: 'allowedModels',
    });
  }
  return list;
}

/**
 * Creates a key for the caller; the secret is in the answer once. Only an admin's key may hold
 * `admin`, and a caller using a key cannot mint a key with scopes beyond its own. A team key
 * needs the caller to belong to the team (an admin: any team); else "team not found".
 */
export async function createKey(
  deps: Deps,
  p: UserPrincipal,
  input: KeySettings & {
    name: string;
    scopes?: readonly KeyScope[] | undefined;
    teamId?: string | undefined;
  },
  audit?: AuditStamp,
): Promise<KeyView & { key: string }> {
  const scopes = [...new Set(input.scopes ?? defaultScopes)];
  if (scopes.includes('admin') && p.role !== 'admin') {
    throw new DomainError('forbidden', "only an admin's key can hold the admin scope", {
      param: 'scopes',
    });
  }
  if (p.keyId !== null && scopes.some((s) => !p.scopes.includes(s))) {
    throw new DomainError('forbidden', 'a key cannot create a key with scopes it lacks', {
      param: 'scopes',
    });
  }
  const teamId = keyTeam(p, input.teamId);
  const allowedModels = keyAllowList(p, input.allowedModels) ?? [];
  const expiresAt = expiry(deps, input.expiresAt) ?? null;
  return deps.db.transaction().execute(async (trx) => {
    if (teamId && !(await roleInTeam(trx, p, teamId))) {
      throw new DomainError('not_found', 'team not found', { param: 'teamId' });
    }
    const { key, row } = await issueApiKey(trx, p.userId, {
      name: input.name,
      scopes,
      expiresAt,
      rpmLimit: input.rpmLimit ?? null,
      tpmLimit: input.tpmLimit ?? null,
      logBodies: input.logBodies ?? null,
      cache: input.cache ?? false,
      teamId,
      allowedModels,
    });
    const created = view(row);
    await recordAudit(trx, audit, {
      targetType: 'api_key',
      targetId: row.id,
      before: null,
      after: created,
    });
    return { ...created, key };
  });
}

/** Changes a key's settings (never its scopes nor team); someone else's key is "not found". */
export async function updateKey(
  deps: Deps,
  p: UserPrincipal,
  id: string,
  input: KeySettings,
  audit?: AuditStamp,
): Promise<KeyView> {
  const expiresAt = expiry(deps, input.expiresAt);
  return changeVisibleKey(deps, p, id, audit, {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
    ...(input.rpmLimit !== undefined ? { rpm_limit: input.rpmLimit } : {}),
    ...(input.tpmLimit !== undefined ? { tpm_limit: input.tpmLimit } : {}),
    ...(input.logBodies !== undefined ? { log_bodies: input.logBodies } : {}),
    ...(input.cache !== undefined ? { cache: input.cache } : {}),
    ...(input.allowedModels !== undefined
      ? { allowed_models: keyAllowList(p, input.allowedModels) ?? [] }
      : {}),
  });
}

/** Revokes a key at once in every process (NOTIFY); idempotent; someone else's is "not found". */
export async function revokeKey(
  deps: Deps,
  p: UserPrincipal,
  id: string,
  audit?: AuditStamp,
): Promise<KeyView> {
  const now = deps.clock.now();
  return changeVisibleKey(deps, p, id, audit, { revoked_at: sql`coalesce(revoked_at, ${now})` });
}

/**
 * Changes a key the principal may see (an admin: any; others: their own and their managed
 * teams' keys, else "not found"), audits it, and tells every process in the same transaction,
 * so cached copies of it are dropped at once.
 */
async function changeVisibleKey(
  deps: Deps,
  p: UserPrincipal,
  id: string,
  audit: AuditStamp | undefined,
  set: UpdateObject<DB, 'api_keys'>,
): Promise<KeyView> {
  const row = await deps.db.transaction().execute(async (trx) => {
    let q = trx.selectFrom('api_keys').selectAll().where('id', '=', id).forUpdate();
    if (!seesAll(p)) q = q.where(visibleTo(p));
    const before = await q.executeTakeFirst();
    if (!before) return undefined;
    const updated = await trx
      .updateTable('api_keys')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await publishAuthEvent(trx, { k: 'key', id });
    await recordAudit(trx, audit, {
      targetType: 'api_key',
      targetId: id,
      before: view(before),
      after: view(updated),
    });
    return updated;
  });
  if (!row) throw new DomainError('not_found', 'key not found');
  deps.auth.invalidate({ k: 'key', id });
  return view(row);
}
