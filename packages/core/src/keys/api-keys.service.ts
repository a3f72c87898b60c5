import type { DB } from '@tollgate/db';
import { type Kysely, sql, type UpdateObject } from 'kysely';
import { publishAuthEvent } from '../auth/auth-events.ts';
import { defaultScopes, hasScope, type KeyScope, type UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { olderThanCursor, type Page, type PageInput, pageParams, toPage } from '../pagination.ts';
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
    createdAt: r.created_at.toISOString(),
  };
}

/** Admins (holding the admin scope) see and manage every key; members only their own. */
const seesAll = (p: UserPrincipal) => p.role === 'admin' && hasScope(p, 'admin');

/** The caller's keys (an admin's: everyone's), newest first. */
export async function listKeys(
  deps: Deps,
  p: UserPrincipal,
  input: PageInput,
): Promise<Page<KeyView>> {
  const { limit, cursor } = pageParams(input);
  let q = deps.db.selectFrom('api_keys').selectAll();
  if (!seesAll(p)) q = q.where('user_id', '=', p.userId);
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
 * Creates a key for the caller; the secret is in the answer once. Only an admin's key may hold
 * `admin`, and a caller using a key cannot mint a key with scopes beyond its own.
 */
export async function createKey(
  deps: Deps,
  p: UserPrincipal,
  input: KeySettings & { name: string; scopes?: readonly KeyScope[] | undefined },
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
  const { key, row } = await issueApiKey(deps.db, p.userId, {
    name: input.name,
    scopes,
    expiresAt: expiry(deps, input.expiresAt) ?? null,
    rpmLimit: input.rpmLimit ?? null,
    tpmLimit: input.tpmLimit ?? null,
    logBodies: input.logBodies ?? null,
    cache: input.cache ?? false,
  });
  return { ...view(row), key };
}

/** Changes a key's settings (never its scopes); someone else's key is "not found". */
export async function updateKey(
  deps: Deps,
  p: UserPrincipal,
  id: string,
  input: KeySettings,
): Promise<KeyView> {
  const expiresAt = expiry(deps, input.expiresAt);
  return changeVisibleKey(deps, p, id, {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
    ...(input.rpmLimit !== undefined ? { rpm_limit: input.rpmLimit } : {}),
    ...(input.tpmLimit !== undefined ? { tpm_limit: input.tpmLimit } : {}),
    ...(input.logBodies !== undefined ? { log_bodies: input.logBodies } : {}),
    ...(input.cache !== undefined ? { cache: input.cache } : {}),
  });
}

/** Revokes a key at once in every process (NOTIFY); idempotent; someone else's is "not found". */
export async function revokeKey(deps: Deps, p: UserPrincipal, id: string): Promise<KeyView> {
  const now = deps.clock.now();
  return changeVisibleKey(deps, p, id, { revoked_at: sql`coalesce(revoked_at, ${now})` });
}

/**
 * Changes a key the principal may see (an admin: any; a member: their own, else "not found") and
 * tells every process in the same transaction, so cached copies of it are dropped at once.
 */
async function changeVisibleKey(
  deps: Deps,
  p: UserPrincipal,
  id: string,
  set: UpdateObject<DB, 'api_keys'>,
): Promise<KeyView> {
  const row = await deps.db.transaction().execute(async (trx) => {
    let q = trx.updateTable('api_keys').set(set).where('id', '=', id);
    if (!seesAll(p)) q = q.where('user_id', '=', p.userId);
    const updated = await q.returningAll().executeTakeFirst();
    if (updated) await publishAuthEvent(trx, { k: 'key', id });
    return updated;
  });
  if (!row) throw new DomainError('not_found', 'key not found');
  deps.auth.invalidate({ k: 'key', id });
  return view(row);
}
