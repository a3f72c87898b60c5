import { randomUUID } from 'node:crypto';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { createTestDeps, createTestUser } from '../testing.ts';
import { type Admission, createLimiter, type LimitCheck, type Limiter } from './limiter.ts';

let testDb: TestDb;
let deps: Deps;
const made: Limiter[] = [];

beforeAll(async () => {
  testDb = await createTestDb();
  deps = createTestDeps(testDb.db, testDb.pool);
});
afterAll(async () => {
  for (const l of made) await l.close();
  await deps.limiter.close();
  await deps.requestLog.close();
  await testDb.drop();
});

function limiter(opts: { leaseTtlMs?: number; tickMs?: number; maxHoldMs?: number } = {}) {
  const l = createLimiter({ db: testDb.db, log: deps.log, clock: deps.clock, ...opts });
  made.push(l);
  return l;
}

async function budget(userId: string, amount: string) {
  await testDb.db
    .insertInto('budgets')
    .values({ scope: 'user', target_id: userId, period: 'month', amount_usd: amount })
    .execute();
}

const usd = (userId: string, amount: number | null): LimitCheck => ({
  subject: { kind: 'user', id: userId },
  metric: 'usd',
  period: 'month',
  cap: 'budget',
  amount,
});

async function attempt(l: Limiter, checks: LimitCheck[]): Promise<Admission | DomainError> {
  try {
    return await l.admit(checks);
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
}

describe('the shared limiter', () => {
  it('two processes admitting concurrently never reserve past the cap', async () => {
    const user = await createTestUser(testDb.db);
    await budget(user.id, '10');
    const a = limiter();
    const b = limiter();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => attempt(i % 2 ? a : b, [usd(user.id, 1)])),
    );
    const admitted = results.filter((r) => !(r instanceof DomainError)) as Admission[];
    const refused = results.filter((r) => r instanceof DomainError);
    expect(admitted.length).toBeLessThanOrEqual(10);
    expect(admitted.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.code === 'budget_exceeded' && (e.retryAfter ?? 0) > 0)).toBe(
      true,
    );
    for (const adm of admitted) adm.settle({ usd: 1 });
    await a.flush();
    await b.flush();
    const w = await testDb.db
      .selectFrom('limit_windows')
      .select('used')
      .where('subject', '=', `user:${user.id}`)
      .executeTakeFirstOrThrow();
    expect(Number(w.used)).toBe(admitted.length);
  });

  it('a holder that stops renewing loses its lease after the TTL; the allowance comes back', async () => {
    const user = await createTestUser(testDb.db);
    await budget(user.id, '5');
    // Never renews (as if SIGKILLed right after admitting).
    const dead = limiter({ leaseTtlMs: 300, tickMs: 3_600_000 });
    const live = limiter();
    expect(await attempt(dead, [usd(user.id, 5)])).not.toBeInstanceOf(DomainError);
    const during = await attempt(live, [usd(user.id, 5)]);
    expect(during).toBeInstanceOf(DomainError);
    await new Promise((r) => setTimeout(r, 400));
    expect(await attempt(live, [usd(user.id, 5)])).not.toBeInstanceOf(DomainError);
  });

  it('releases a settled reservation for the next call, and an abandoned one after maxHoldMs', async () => {
    const user = await createTestUser(testDb.db);
    await budget(user.id, '3');
    const l = limiter({ tickMs: 20, maxHoldMs: 50 });
    const first = (await l.admit([usd(user.id, 3)])) as Admission;
    expect(await attempt(l, [usd(user.id, 3)])).toBeInstanceOf(DomainError);
    first.settle({ usd: 0 }); // failed upstream: costs nothing
    const second = await attempt(l, [usd(user.id, 3)]);
    expect(second).not.toBeInstanceOf(DomainError);
    // Never settled (a stream nobody read): the tick releases it.
    await new Promise((r) => setTimeout(r, 200));
    expect(await attempt(l, [usd(user.id, 3)])).not.toBeInstanceOf(DomainError);
  });

  it('an unpriced call is refused under a budget, admitted without one', async () => {
    const budgeted = await createTestUser(testDb.db);
    await budget(budgeted.id, '100');
    const free = await createTestUser(testDb.db);
    const l = limiter();
    const refused = await attempt(l, [usd(budgeted.id, null)]);
    expect(refused).toMatchObject({ code: 'forbidden', param: 'model' });
    const ok = await attempt(l, [usd(free.id, null)]);
    expect(ok).toMatchObject({ budgeted: false });
  });

  it('requests per minute: the cap, then rate_limit_exceeded with retry-after within the minute', async () => {
    const l = limiter();
    const subject = { kind: 'key', id: randomUUID() } as const;
    const rpm: LimitCheck = { subject, metric: 'requests', period: 'minute', cap: 3, amount: 1 };
    const ok: Admission[] = [];
    for (let i = 0; i < 3; i++) ok.push((await l.admit([rpm])) as Admission);
    expect(ok[2]?.rateLimitHeaders()).toMatchObject({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
    });
    const refused = await attempt(l, [rpm]);
    expect(refused).toMatchObject({ code: 'rate_limit_exceeded' });
    expect((refused as DomainError).retryAfter).toBeLessThanOrEqual(60);
  });
});
