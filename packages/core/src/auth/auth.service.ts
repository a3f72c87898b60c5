import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { findUserByEmail, findUserById } from '../users/users.repository.ts';
import { signAccessToken } from './access-tokens.ts';
import { assertLoginAllowed, settleLoginAttempt } from './login-throttle.ts';
import { dummyPasswordHash, verifyPassword } from './passwords.ts';
import type { UserPrincipal } from './principal.ts';
import {
  consumeRefreshToken,
  findRefreshToken,
  insertRefreshToken,
  revokeFamily,
} from './refresh-tokens.repository.ts';
import { ACCESS_TOKEN_TTL_SECONDS } from './signing-keys.ts';

export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
const REFRESH_PREFIX = 'rt_';

export type TokenPair = { accessToken: string; refreshToken: string; expiresIn: number };

/** `rt_` + 32 random bytes: opaque, stored only as its SHA-256. */
function newRefreshToken(): { token: string; hash: Buffer } {
  const token = REFRESH_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function looksLikeRefreshToken(s: string): boolean {
  return /^rt_[A-Za-z0-9_-]{43}$/.test(s);
}

async function issuePair(
  deps: Deps,
  user: { id: string; role: 'admin' | 'member'; token_generation: number },
  familyId: string,
  db = deps.db,
): Promise<TokenPair> {
  const { token, hash } = newRefreshToken();
  const now = deps.clock.now();
  await insertRefreshToken(db, {
    userId: user.id,
    familyId,
    tokenHash: hash,
    expiresAt: new Date(now.getTime() + REFRESH_TOKEN_TTL_MS),
  });
  return {
    accessToken: await signAccessToken(deps, user),
    refreshToken: token,
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
  };
}

const badCredentials = () => new DomainError('invalid_credentials', 'invalid email or password');

/**
 * Email + password → a new token family. An unknown email costs the same scrypt work as a wrong
 * password and gets the same answer; failures are throttled per account and per address.
 */
export async function login(
  deps: Deps,
  input: { email: string; password: string },
  client: { ip: string },
): Promise<TokenPair> {
  const account = input.email.trim().toLowerCase();
  const ip = client.ip || 'unknown';
  await assertLoginAllowed(deps, account, ip);
  const user = await findUserByEmail(deps.db, account);
  const ok = await verifyPassword(input.password, user?.password_hash ?? (await dummyPasswordHash));
  // Decided after the (slow) password check, atomically with counting it: attempts that were in
  // flight together are answered as if they had come one by one.
  if (!user || !ok) {
    await settleLoginAttempt(deps, account, ip, 'failure');
    throw badCredentials();
  }
  if (user.disabled) {
    await settleLoginAttempt(deps, account, ip, 'neutral');
    throw new DomainError('user_disabled', 'user disabled');
  }
  await settleLoginAttempt(deps, account, ip, 'success');
  return issuePair(deps, user, randomUUID());
}

/**
 * Rotates a refresh token: the presented one is spent, a new one of the same family returned.
 * Presenting a spent (or revoked) token is treated as theft: the whole family is revoked.
 */
export async function refresh(deps: Deps, input: { refreshToken: string }): Promise<TokenPair> {
  if (!looksLikeRefreshToken(input.refreshToken)) {
    throw new DomainError('token_invalid', 'invalid refresh token');
  }
  const hash = hashRefreshToken(input.refreshToken);
  const now = deps.clock.now();
  const outcome = await deps.db.transaction().execute(async (trx) => {
    const won = await consumeRefreshToken(trx, hash, now);
    if (won) {
      const user = await findUserById(trx, won.user_id);
      if (!user || user.disabled) {
        await revokeFamily(trx, won.family_id, now);
        return { kind: 'disabled' } as const;
      }
      return { kind: 'ok', pair: await issuePair(deps, user, won.family_id, trx) } as const;
    }
    const row = await findRefreshToken(trx, hash);
    if (!row) return { kind: 'unknown' } as const;
    if (row.used_at !== null || row.revoked_at !== null) {
      await revokeFamily(trx, row.family_id, now);
      return { kind: 'reused' } as const;
    }
    return { kind: 'expired' } as const;
  });
  switch (outcome.kind) {
    case 'ok':
      return outcome.pair;
    case 'disabled':
      throw new DomainError('user_disabled', 'user disabled');
    case 'reused':
      deps.log.warn('refresh token reused: token family revoked');
      throw new DomainError('token_reused', 'refresh token already used; please log in again');
    case 'expired':
      throw new DomainError('token_expired', 'refresh token expired');
    default:
      throw new DomainError('token_invalid', 'invalid refresh token');
  }
}

/** Revokes the family of the caller's refresh token; someone else's or unknown tokens: no-op. */
export async function logout(
  deps: Deps,
  principal: UserPrincipal,
  input: { refreshToken: string },
): Promise<{ ok: true }> {
  if (looksLikeRefreshToken(input.refreshToken)) {
    const row = await findRefreshToken(deps.db, hashRefreshToken(input.refreshToken));
    if (row && row.user_id === principal.userId) {
      await revokeFamily(deps.db, row.family_id, deps.clock.now());
    }
  }
  return { ok: true };
}

export async function me(
  deps: Deps,
  principal: UserPrincipal,
): Promise<{ id: string; email: string; role: 'admin' | 'member' }> {
  const user = await findUserById(deps.db, principal.userId);
  if (!user) throw new DomainError('unauthenticated', 'user no longer exists');
  return { id: user.id, email: user.email, role: user.role };
}

/** Cron: drops expired refresh tokens, revoked ones after a week, and old login failures. */
export async function purgeAuthTokens(
  deps: Deps,
): Promise<{ refreshTokens: number; loginFailures: number }> {
  const now = deps.clock.now();
  const weekAgo = new Date(now.getTime() - 7 * 24 * 3600 * 1000);
  const tokens = await deps.db
    .deleteFrom('refresh_tokens')
    .where((eb) => eb.or([eb('expires_at', '<', now), eb('revoked_at', '<', weekAgo)]))
    .executeTakeFirst();
  const failures = await deps.db
    .deleteFrom('login_failures')
    .where('at', '<', new Date(now.getTime() - 24 * 3600 * 1000))
    .executeTakeFirst();
  return {
    refreshTokens: Number(tokens.numDeletedRows),
    loginFailures: Number(failures.numDeletedRows),
  };
}
