import { randomUUID } from 'node:crypto';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { createTestDeps, createTestUser } from '../testing.ts';
import { login } from './auth.service.ts';
import { ensureSigningKey } from './signing-keys.ts';

let t: TestDb;
let deps: Deps;
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

beforeAll(async () => {
  t = await createTestDb();
  deps = createTestDeps(t.db, t.pool, { clock });
  await ensureSigningKey(deps);
});
afterAll(async () => {
  await deps.auth.close();
  await deps.requestLog.close();
  await t.drop();
});

let ipSeq = 0;
const freshIp = () => `10.99.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

type Outcome = { status: 'ok' } | { status: string; retryAfter?: number | undefined };

/** One login through the service, reduced to what a caller observes. */
async function attempt(email: string, password: string, ip: string): Promise<Outcome> {
  try {
    await login(deps, { email, password }, { ip });
    return { status: 'ok' };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { status: err.code, retryAfter: err.retryAfter };
  }
}

function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}

describe('login throttling under concurrency', () => {
  it('a burst of 20 wrong passwords on one account: exactly 5 evaluated, 15 refused', async () => {
    const u = await createTestUser(t.db);
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => attempt(u.email, 'wrong-password', freshIp())),
    );
    expect(tally(burst)).toEqual({ invalid_credentials: 5, too_many_attempts: 15 });
    for (const o of burst.filter((x) => x.status === 'too_many_attempts')) {
      expect(o).toMatchObject({ retryAfter: expect.any(Number) });
      const wait = (o as { retryAfter: number }).retryAfter;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(15 * 60);
    }
    // Only the evaluated ones were counted.
    const rows = await t.db
      .selectFrom('login_failures')
      .select('id')
      .where('account', '=', u.email.toLowerCase())
      .execute();
    expect(rows).toHaveLength(5);

    // The right password is refused too while inside the window...
    expect((await attempt(u.email, u.password, freshIp())).status).toBe('too_many_attempts');
    // ...and accepted once the window has passed.
    offsetMs = 15 * 60_000 + 1000;
    try {
      expect(await attempt(u.email, u.password, freshIp())).toEqual({ status: 'ok' });
    } finally {
      offsetMs = 0;
    }
  });

  it('an unknown email is throttled the same way under a burst', async () => {
    const ghost = `ghost-${randomUUID()}@example.test`;
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => attempt(ghost, 'wrong-password', freshIp())),
    );
    expect(tally(burst)).toEqual({ invalid_credentials: 5, too_many_attempts: 7 });
  });

  it('a burst of 40 failures from one address: exactly 30 evaluated, then the address is refused', async () => {
    const ip = '10.77.7.7';
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        attempt(`spray-${i}-${randomUUID()}@example.test`, 'wrong-password', ip),
      ),
    );
    expect(tally(burst)).toEqual({ invalid_credentials: 30, too_many_attempts: 10 });
    const member = await createTestUser(t.db);
    const refused = await attempt(member.email, member.password, ip);
    expect(refused.status).toBe('too_many_attempts');
    expect(refused).toMatchObject({ retryAfter: expect.any(Number) });
    expect((refused as { retryAfter: number }).retryAfter).toBeLessThanOrEqual(60);
    // Another address is unaffected.
    expect(await attempt(member.email, member.password, freshIp())).toEqual({ status: 'ok' });
  });

  it('concurrent right-password logins are not throttled by each other', async () => {
    const u = await createTestUser(t.db);
    const ip = freshIp();
    const burst = await Promise.all(
      Array.from({ length: 8 }, () => attempt(u.email, u.password, ip)),
    );
    expect(tally(burst)).toEqual({ ok: 8 });
  });

  it('a success forgives the account its earlier failures', async () => {
    const u = await createTestUser(t.db);
    for (let i = 0; i < 4; i++) {
      expect((await attempt(u.email, 'wrong-password', freshIp())).status).toBe(
        'invalid_credentials',
      );
    }
    expect(await attempt(u.email, u.password, freshIp())).toEqual({ status: 'ok' });
    const again = await Promise.all(
      Array.from({ length: 7 }, () => attempt(u.email, 'wrong-password', freshIp())),
    );
    expect(tally(again)).toEqual({ invalid_credentials: 5, too_many_attempts: 2 });
  });
});
