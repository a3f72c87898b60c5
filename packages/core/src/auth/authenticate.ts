import type { Deps } from '../deps.ts';
import { findKeyWithOwnerByHash } from '../keys/api-keys.repository.ts';
import { hashApiKey, KEY_PREFIX, looksLikeApiKey } from '../keys/key-material.ts';
import { findUserById } from '../users/users.repository.ts';
import { verifyAccessToken } from './access-tokens.ts';
import { AUTH_CACHE_TTL_MS, type CachedKey, type CachedUser, cacheSet } from './auth-runtime.ts';
import { type KeyScope, type Principal, scopesOfRole } from './principal.ts';

export type AuthHeaders = { authorization?: string | undefined; 'x-api-key'?: string | undefined };

/** The credential a request carries: `Authorization: Bearer …`, else `x-api-key` when allowed. */
export function credentialFrom(headers: AuthHeaders, allowXApiKey: boolean): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1] ?? '';
  }
  if (allowXApiKey && typeof headers['x-api-key'] === 'string') return headers['x-api-key'];
  return undefined;
}

const fresh = (cachedAt: number) => Date.now() - cachedAt < AUTH_CACHE_TTL_MS;

/**
 * SHA-256 (and its cache id) of recently presented API keys. The hash is a pure function of the
 * key, so remembering it changes nothing but the ~4–9 µs it cost on every call (bench/NOTES.md);
 * revocation, expiry and scopes are still read from the key state below. The raw keys sit in
 * this process's memory, where every request's headers pass anyway. Bounded: full, it starts over
 * (a flood of made-up keys costs the hashing of today, never memory).
 */
const recentKeys = new Map<string, { hash: Buffer; id: string }>();
const RECENT_KEYS_MAX = 10_000;

function hashedKey(key: string): { hash: Buffer; id: string } {
  let known = recentKeys.get(key);
  if (known === undefined) {
    if (recentKeys.size >= RECENT_KEYS_MAX) recentKeys.clear();
    const hash = hashApiKey(key);
    known = { hash, id: hash.toString('base64url') };
    recentKeys.set(key, known);
  }
  return known;
}

/**
 * The key behind a hash, from this process's cache when the invalidation listener is live, else
 * from the database (and then cached, unless an invalidation raced the read).
 */
async function keyState(deps: Deps, key: string): Promise<CachedKey | undefined> {
  const rt = deps.auth;
  const { hash, id } = hashedKey(key);
  const hit = rt.live() ? rt.keys.get(id) : undefined;
  if (hit && fresh(hit.cachedAt)) return hit;
  const gen = rt.generation();
  const row = await findKeyWithOwnerByHash(deps.db, hash);
  if (!row) return undefined;
  const entry: CachedKey = {
    keyId: row.id,
    userId: row.user_id,
    role: row.role,
    scopes: row.scopes as KeyScope[],
    expiresAt: row.expires_at,
    revoked: row.revoked_at !== null,
    disabled: row.disabled,
    key: { rpmLimit: row.rpm_limit, tpmLimit: row.tpm_limit, cache: row.cache },
    cachedAt: Date.now(),
  };
  if (rt.live() && rt.generation() === gen) cacheSet(rt.keys, id, entry);
  return entry;
}

/** A user's role and state, cached like keys (access JWTs must notice a disable within 1 s). */
export async function userState(deps: Deps, userId: string): Promise<CachedUser | undefined> {
  const rt = deps.auth;
  const hit = rt.live() ? rt.users.get(userId) : undefined;
  if (hit && fresh(hit.cachedAt)) return hit;
  const gen = rt.generation();
  const row = await findUserById(deps.db, userId);
  if (!row) return undefined;
  const entry: CachedUser = {
    id: row.id,
    role: row.role,
    disabled: row.disabled,
    tokenGeneration: row.token_generation,
    cachedAt: Date.now(),
  };
  if (rt.live() && rt.generation() === gen) cacheSet(rt.users, userId, entry);
  return entry;
}

async function authenticateApiKey(deps: Deps, key: string): Promise<Principal> {
  if (!looksLikeApiKey(key)) return { kind: 'invalid', reason: 'key_invalid' };
  const k = await keyState(deps, key);
  if (!k) return { kind: 'invalid', reason: 'key_invalid' };
  if (k.revoked) return { kind: 'invalid', reason: 'key_revoked' };
  const now = deps.clock.now();
  if (k.expiresAt && k.expiresAt <= now) return { kind: 'invalid', reason: 'key_expired' };
  if (k.disabled) return { kind: 'invalid', reason: 'user_disabled' };
  deps.auth.touch(k.keyId, now);
  return {
    kind: 'user',
    userId: k.userId,
    role: k.role,
    keyId: k.keyId,
    scopes: k.scopes,
    key: k.key,
  };
}

async function authenticateAccessToken(deps: Deps, token: string): Promise<Principal> {
  const v = await verifyAccessToken(deps, token);
  if (typeof v === 'string') return { kind: 'invalid', reason: v };
  const u = await userState(deps, v.userId);
  if (!u) return { kind: 'invalid', reason: 'token_invalid' };
  if (u.disabled) return { kind: 'invalid', reason: 'user_disabled' };
  // Issued before a password change or a disable: revoked.
  if (v.generation !== u.tokenGeneration) {
    return { kind: 'invalid', reason: 'token_invalid' };
  }
  // The role comes from the database, not the token: a demotion applies at once.
  return { kind: 'user', userId: u.id, role: u.role, keyId: null, scopes: scopesOfRole(u.role) };
}

/** Decides who is calling. Never throws for bad credentials: it says why they are bad. */
export async function authenticate(
  deps: Deps,
  headers: AuthHeaders,
  opts: { allowXApiKey?: boolean } = {},
): Promise<Principal> {
  const credential = credentialFrom(headers, opts.allowXApiKey ?? false);
  if (credential === undefined) return { kind: 'anonymous' };
  if (credential.startsWith(KEY_PREFIX)) return authenticateApiKey(deps, credential);
  return authenticateAccessToken(deps, credential);
}
