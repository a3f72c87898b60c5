import { loadConfig } from '@tollgate/config';
import { createPool } from '@tollgate/db';
import { createLogger } from '@tollgate/telemetry';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_CHANNEL, createAuthRuntime } from './auth-runtime.ts';

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(() => testDb.drop());

async function until(pred: () => boolean, what: string) {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!pred()) throw new Error(`timed out: ${what}`);
}

describe('DATABASE_DIRECT_URL', () => {
  it('the LISTEN connection uses the direct URL, not the pool (PgBouncer transaction mode)', async () => {
    const log = createLogger(loadConfig({ LOG_LEVEL: 'silent' }));
    // The pool's own URL reaches nothing: only the direct URL can make the listener live.
    const pooled = createPool('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    const auth = createAuthRuntime(pooled, log, testDb.url);
    try {
      auth.live();
      await until(() => auth.live(), 'listener up on the direct URL');
      auth.users.set('u1', {
        id: 'u1',
        role: 'member',
        disabled: false,
        tokenGeneration: 0,
        cachedAt: 0,
      });
      const before = auth.generation();
      await sql`select pg_notify(${AUTH_CHANNEL}, ${JSON.stringify({ k: 'user', id: 'u1' })})`.execute(
        testDb.db,
      );
      await until(() => !auth.users.has('u1'), 'notification heard');
      expect(auth.generation()).toBeGreaterThan(before);
    } finally {
      await auth.close();
      await pooled.end();
    }
  });
});
