import type { Deps } from '../deps.ts';
import { findKeyWithOwnerByHash } from '../keys/api-keys.repository.ts';
import { hashApiKey, KEY_PREFIX, looksLikeApiKey } from '../keys/key-material.ts';
import type { KeyScope, Principal } from './principal.ts';

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

async function authenticateApiKey(deps: Deps, key: string): Promise<Principal> {
  if (!looksLikeApiKey(key)) return { kind: 'invalid', reason: 'key_invalid' };
  const row = await findKeyWithOwnerByHash(deps.db, hashApiKey(key));
  if (!row) return { kind: 'invalid', reason: 'key_invalid' };
  if (row.revoked_at) return { kind: 'invalid', reason: 'key_revoked' };
  if (row.expires_at && row.expires_at <= deps.clock.now())
    return { kind: 'invalid', reason: 'key_expired' };
  if (row.disabled) return { kind: 'invalid', reason: 'user_disabled' };
  return {
    kind: 'user',
    userId: row.user_id,
    role: row.role,
    keyId: row.id,
    scopes: row.scopes as KeyScope[],
  };
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
  // Access JWTs: verified by the identity issue's token service.
  return { kind: 'invalid', reason: 'token_invalid' };
}
