import { createTestUser } from '@tollgate/core/testing';
import { createDb, createPool } from '@tollgate/db';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  type IdentityServer,
  startIdentityServer,
  stopIdentityServer,
} from './identity-helpers.ts';

// Two servers on one database, each with its own pool, key cache and LISTEN connection: what two
// processes (or two instances) look like to each other.
let testDb: TestDb;
let a: IdentityServer;
let b: IdentityServer;

beforeAll(async () => {
  testDb = await createTestDb();
  a = await startIdentityServer(testDb);
  const poolB = createPool(testDb.url, { max: 5 });
  b = await startIdentityServer({ ...testDb, pool: poolB, db: createDb(poolB) });
});
afterAll(async () => {
  await stopIdentityServer(b, false);
  await b?.testDb.db.destroy();
  await stopIdentityServer(a);
});

/** Polls until the request is refused; returns how long that took (the contract: < 1 s). */
async function refusedWithin(s: IdentityServer, token: string, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    const r = await api(s.app, 'GET', '/api/me', { token });
    if (r.status === 401) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`still accepted after ${ms} ms`);
}

async function warm(s: IdentityServer, token: string) {
  // The listener connects on first use; wait until this process trusts (and fills) its cache.
  for (let i = 0; i < 100 && !s.deps.auth.live(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(s.deps.auth.live()).toBe(true);
  expect((await api(s.app, 'GET', '/api/me', { token })).status).toBe(200);
}

describe('cross-process revocation', () => {
  it('serves a known key from memory (a silent database change is not seen)', async () => {
    const u = await createTestUser(testDb.db);
    await warm(a, u.apiKey);
    // Revoked behind the app's back (no NOTIFY): the cached entry keeps answering.
    await testDb.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', u.apiKeyId)
      .execute();
    expect((await api(a.app, 'GET', '/api/me', { token: u.apiKey })).status).toBe(200);
    // The notification is what invalidates it.
    await sql`select pg_notify('tollgate_auth', ${JSON.stringify({ k: 'key', id: u.apiKeyId })})`.execute(
      testDb.db,
    );
    expect(await refusedWithin(a, u.apiKey, 1000)).toBeLessThan(1000);
  });

  it('a key revoked through server B is refused by server A within 1 s', async () => {
    const u = await createTestUser(testDb.db);
    await warm(a, u.apiKey);
    await warm(b, u.apiKey);
    const del = await api(b.app, 'DELETE', `/api/keys/${u.apiKeyId}`, { token: u.apiKey });
    expect(del.status).toBe(200);
    expect(await refusedWithin(a, u.apiKey, 1000)).toBeLessThan(1000);
    const r = await api(a.app, 'GET', '/api/me', { token: u.apiKey });
    expect(r.body).toMatchObject({ error: { code: 'key_revoked' } });
  });

  it('a user disabled through server B: their key and JWT are refused by A within 1 s', async () => {
    const admin = await createTestUser(testDb.db, { role: 'admin' });
    const u = await createTestUser(testDb.db);
    const login = await api(a.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
    });
    const jwt = login.body.accessToken as string;
    await warm(a, u.apiKey);
    await warm(a, jwt);
    const d = await api(b.app, 'PATCH', `/api/users/${u.id}`, {
      token: admin.apiKey,
      body: { disabled: true },
    });
    expect(d.status).toBe(200);
    expect(await refusedWithin(a, u.apiKey, 1000)).toBeLessThan(1000);
    expect(await refusedWithin(a, jwt, 1000)).toBeLessThan(1000);
  });

  it('a signing key rotated through B is used by A for new tokens, old ones still valid', async () => {
    const admin = await createTestUser(testDb.db, { role: 'admin' });
    const u = await createTestUser(testDb.db);
    const before = await api(a.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
    });
    const rot = await api(b.app, 'POST', '/api/auth/signing-keys/rotate', {
      token: admin.apiKey,
      body: {},
    });
    expect(rot.status).toBe(200);
    // B's token with the new kid verifies on A, and A's old token on B.
    const afterB = await api(b.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
    });
    expect(
      (await api(a.app, 'GET', '/api/me', { token: afterB.body.accessToken as string })).status,
    ).toBe(200);
    expect(
      (await api(b.app, 'GET', '/api/me', { token: before.body.accessToken as string })).status,
    ).toBe(200);
    const start = Date.now();
    let kid = '';
    while (Date.now() - start < 1000 && kid !== rot.body.kid) {
      const t = await api(a.app, 'POST', '/api/auth/login', {
        body: { email: u.email, password: u.password },
      });
      kid = JSON.parse(
        Buffer.from((t.body.accessToken as string).split('.')[0] ?? '', 'base64url').toString(),
      ).kid;
    }
    expect(kid).toBe(rot.body.kid);
  });
});
