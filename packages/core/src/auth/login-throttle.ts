import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';

/** PRODUCT: 5 failures per account within 15 minutes, or 30 per client address per minute. */
export const ACCOUNT_LIMIT = { max: 5, windowMs: 15 * 60_000 } as const;
export const ADDRESS_LIMIT = { max: 30, windowMs: 60_000 } as const;

// Advisory-lock namespaces (the two-int4 form, apart from the one-bigint locks used elsewhere).
const ACCOUNT_LOCK = 7_214_101;
const ADDRESS_LOCK = 7_214_102;

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
  // Clamped to the window: a concurrent attempt may have stamped its row a moment after `now`.
  const seconds = Math.ceil((row.at.getTime() + limit.windowMs - now.getTime()) / 1000);
  return Math.min(Math.ceil(limit.windowMs / 1000), Math.max(1, seconds));
}

async function throwIfOver(db: Kysely<DB>, account: string, ip: string, now: Date): Promise<void> {
  const wait = Math.max(
    await waitFor(db, 'account', account, ACCOUNT_LIMIT, now),
    await waitFor(db, 'ip', ip, ADDRESS_LIMIT, now),
  );
  if (wait > 0) {
    throw new DomainError('too_many_attempts', 'too many failed login attempts; try again later', {
      retryAfter: wait,
    });
  }
}

/**
 * Cheap early refusal (429 with retry-after) while the account or the address is already over its
 * limit, so a throttled attacker costs no password hashing. Not the decision: attempts in flight
 * all pass it together; `settleLoginAttempt` is what counts them exactly.
 */
export async function assertLoginAllowed(deps: Deps, account: string, ip: string): Promise<void> {
  await throwIfOver(deps.db, account, ip, deps.clock.now());
}

/**
 * What a checked attempt turned out to be: a wrong guess counts against the limits, the right
 * password forgives the account's failures (not the address's), anything else changes nothing.
 */
export type LoginOutcome = 'failure' | 'success' | 'neutral';

/**
 * The decision, taken once the password has been checked: under per-account and per-address
 * advisory locks, the limits are checked and the outcome counted in one transaction, so
 * concurrent attempts are decided one after another exactly as if they had come in sequence —
 * a burst gets `max` answers and 429s after that, and even the right password is refused while
 * over the limit. State lives in Postgres so every server process and instance counts alike.
 * Throws too_many_attempts (429 with retry-after) when over the limit; that attempt is not counted.
 */
export async function settleLoginAttempt(
  deps: Deps,
  account: string,
  ip: string,
  outcome: LoginOutcome,
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    // Always the account lock first, then the address lock: no two attempts wait for each other
    // in opposite orders, so no deadlock.
    await sql`select pg_advisory_xact_lock(${ACCOUNT_LOCK}::int4, hashtext(${account})),
      pg_advisory_xact_lock(${ADDRESS_LOCK}::int4, hashtext(${ip}))`.execute(trx);
    const now = deps.clock.now();
    await throwIfOver(trx, account, ip, now);
    if (outcome === 'failure') {
      await trx.insertInto('login_failures').values({ account, ip, at: now }).execute();
    } else if (outcome === 'success') {
      await trx.deleteFrom('login_failures').where('account', '=', account).execute();
    }
  });
}
