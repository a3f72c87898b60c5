import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeps, createTestUser } from '../testing.ts';
import { purgeAuthTokens } from './auth.service.ts';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(() => t.drop());

describe('purgeAuthTokens (cron)', () => {
  it('drops expired and long-revoked refresh tokens and old login failures, keeps live ones', async () => {
    const deps = createTestDeps(t.db, t.pool);
    const u = await createTestUser(t.db);
    const day = 24 * 3600 * 1000;
    const now = Date.now();
    const row = (name: string, expiresIn: number, revokedAgo: number | null) => ({
      user_id: u.id,
      family_id: crypto.randomUUID(),
      token_hash: Buffer.from(name.padEnd(32, '-')),
      expires_at: new Date(now + expiresIn),
      revoked_at: revokedAgo === null ? null : new Date(now - revokedAgo),
    });
    await t.db
      .insertInto('refresh_tokens')
      .values([
        row('live', 10 * day, null),
        row('expired', -1000, null),
        row('revoked-long-ago', 10 * day, 8 * day),
        row('revoked-recently', 10 * day, day),
      ])
      .execute();
    await t.db
      .insertInto('login_failures')
      .values([
        { account: 'a', ip: '1.1.1.1', at: new Date(now - 2 * day) },
        { account: 'a', ip: '1.1.1.1', at: new Date(now - 1000) },
      ])
      .execute();
    const r = await purgeAuthTokens(deps);
    expect(r).toEqual({ refreshTokens: 2, loginFailures: 1 });
    const left = await t.db.selectFrom('refresh_tokens').select('token_hash').execute();
    expect(left.map((x) => x.token_hash.toString().replace(/-+$/, '')).sort()).toEqual([
      'live',
      'revoked-recently',
    ]);
    await deps.auth.close();
    await deps.requestLog.close();
  });
});
