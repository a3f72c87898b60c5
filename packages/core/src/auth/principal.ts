export const keyScopes = ['gateway', 'batches', 'read', 'admin'] as const;
export type KeyScope = (typeof keyScopes)[number];
export const defaultScopes: readonly KeyScope[] = ['gateway', 'batches', 'read'];

/** What an access JWT may do: every scope its role may hold. */
export function scopesOfRole(role: 'admin' | 'member'): readonly KeyScope[] {
  return role === 'admin' ? keyScopes : defaultScopes;
}

export type InvalidReason =
  | 'token_expired'
  | 'token_invalid'
  | 'key_invalid'
  | 'key_revoked'
  | 'key_expired'
  | 'user_disabled';

/** What each credential refusal tells the caller; every surface renders it in its own shape. */
export const invalidReasonMessages: Readonly<Record<InvalidReason, string>> = {
  token_expired: 'access token expired',
  token_invalid: 'invalid access token',
  key_invalid: 'invalid API key',
  key_revoked: 'API key revoked',
  key_expired: 'API key expired',
  user_disabled: 'user disabled',
};

/** Who is calling, decided once per request; never throws, records why credentials failed. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'invalid'; reason: InvalidReason }
  | UserPrincipal;

export type UserPrincipal = {
  kind: 'user';
  userId: string;
  role: 'admin' | 'member';
  /** Set when the caller used an API key; null for an access JWT (all scopes of the role). */
  keyId: string | null;
  scopes: readonly KeyScope[];
  /**
   * The API key's own limits and cache default (absent for access JWTs): read with the key, so
   * the gateway's admission checks need no lookup of their own.
   */
  key?: KeyLimits | undefined;
};

/** Per-key settings the gateway enforces on every call (keys.create/update). */
export type KeyLimits = { rpmLimit: number | null; tpmLimit: number | null; cache: boolean };

export function hasScope(p: UserPrincipal, scope: KeyScope): boolean {
  return p.keyId === null ? scope !== 'admin' || p.role === 'admin' : p.scopes.includes(scope);
}
