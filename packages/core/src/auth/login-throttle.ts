import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';

/** PRODUCT: 5 failures per account within 15 minutes, or 30 per client address per minute. */
export const ACCOUNT_LIMIT = { max: 5, windowMs: 15 * 60_000 } as const;
export const ADDRESS_LIMIT = { max: 30, windowMs: 60_000 } as const;

/** Seconds until the `max`-th most recent failure leaves the window, or 0 when under the limit. */
async function waitFor(
  db: Kysely<DB>,
  column: 'account' | 'ip',
  value: string,
  limit: { max: number; windowMs: number },
  now: Date,
): Promise<number> {
  const row = await db
    .selectFrom('login_failures')
    .select('at')
    .where(column, '=', value)
    .where('at', '>', new Date(now.getTime() - limit.windowMs))
    .orderBy('at', 'desc')
    .offset(limit.max - 1)
    .limit(1)
    .executeTakeFirst();
  if (!row) return 0;
  return Math.max(1, Math.ceil((row.at.getTime() + limit.windowMs - now.getTime()) / 1000));
}

/**
 * Refuses a login attempt (429 with retry-after) while the account or the address is over its
 * limit. State lives in Postgres so every server process and instance counts the same failures.
 */
export async function assertLoginAllowed(deps: Deps, account: string, ip: string): Promise<void> {
  const now = deps.clock.now();
  const wait = Math.max(
    await waitFor(deps.db, 'account', account, ACCOUNT_LIMIT, now),
    await waitFor(deps.db, 'ip', ip, ADDRESS_LIMIT, now),
  );
  if (wait > 0) {
    throw new DomainError('too_many_attempts', 'too many failed login attempts; try again later', {
      retryAfter: wait,
    });
  }
}

export async function recordLoginFailure(deps: Deps, account: string, ip: string): Promise<void> {
  await deps.db
    .insertInto('login_failures')
    .values({ account, ip, at: deps.clock.now() })
    .execute();
}

/** A successful login forgives the account's failures (not the address's). */
export async function clearAccountFailures(deps: Deps, account: string): Promise<void> {
  await deps.db.deleteFrom('login_failures').where('account', '=', account).execute();
}
