import { randomUUID } from 'node:crypto';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  type IdentityServer,
  type Json,
  startIdentityServer,
  stopIdentityServer,
} from './identity-helpers.ts';

let s: IdentityServer;
let member: TestUser;
let other: TestUser;
let admin: TestUser;

beforeAll(async () => {
  s = await startIdentityServer();
  member = await createTestUser(s.testDb.db, { role: 'member' });
  other = await createTestUser(s.testDb.db, { role: 'member' });
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
});
afterAll(() => stopIdentityServer(s));

let ipSeq = 0;
const freshIp = () => `10.2.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

async function accessToken(email: string, password: string): Promise<string> {
  const r = await api(s.app, 'POST', '/api/auth/login', {
    body: { email, password },
    ip: freshIp(),
  });
  expect(r.status).toBe(200);
  return r.body.accessToken as string;
}

describe('keys: create once, list by prefix, ownership', () => {
  it('creates a key shown once; lists show only the prefix; the key works', async () => {
    const c = await api(s.app, 'POST', '/api/keys', {
      token: member.apiKey,
      body: { name: 'ci', rpmLimit: 60, cache: true },
    });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({
      name: 'ci',
      userId: member.id,
      scopes: ['gateway', 'batches', 'read'],
      rpmLimit: 60,
      cache: true,
      revokedAt: null,
    });
    const key = c.body.key as string;
    expect(key).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(c.body.prefix as string)).toBe(true);
    const list = await api(s.app, 'GET', '/api/keys', { token: key });
    expect(list.status).toBe(200);
    expect(list.raw).not.toContain(key);
    expect(list.raw).not.toContain(member.apiKey);
    const items = list.body.items as Json[];
    expect(items[0]).toMatchObject({ id: c.body.id, prefix: c.body.prefix });
    expect(items.every((k) => k.userId === member.id)).toBe(true);
    expect(list.body).toHaveProperty('nextCursor', null);
    const row = await s.testDb.db
      .selectFrom('api_keys')
      .select('key_hash')
      .where('id', '=', c.body.id as string)
      .executeTakeFirstOrThrow();
    expect(row.key_hash.toString('utf8')).not.toContain(key);
  });

  it('pages newest first with limit and cursor', async () => {
    const u = await createTestUser(s.testDb.db);
    for (const name of ['a', 'b', 'c']) {
      await api(s.app, 'POST', '/api/keys', { token: u.apiKey, body: { name } });
    }
    const p1 = await api(s.app, 'GET', '/api/keys?limit=2', { token: u.apiKey });
    expect((p1.body.items as Json[]).map((k) => k.name)).toEqual(['c', 'b']);
    const p2 = await api(s.app, 'GET', `/api/keys?limit=2&cursor=${p1.body.nextCursor}`, {
      token: u.apiKey,
    });
    expect((p2.body.items as Json[]).map((k) => k.name)).toEqual(['a', 'test key']);
    expect(p2.body.nextCursor).toBeNull();
    const bad = await api(s.app, 'GET', '/api/keys?limit=9999', { token: u.apiKey });
    expect(bad.status).toBe(400);
  });

  it("answers 404 for someone else's key, exactly as for a missing one", async () => {
    const theirs = other.apiKeyId;
    const missing = randomUUID();
    for (const id of [theirs, missing]) {
      const patch = await api(s.app, 'PATCH', `/api/keys/${id}`, {
        token: member.apiKey,
        body: { name: 'mine now' },
      });
      const del = await api(s.app, 'DELETE', `/api/keys/${id}`, { token: member.apiKey });
      expect(patch.status).toBe(404);
      expect(del.status).toBe(404);
      expect(patch.body).toEqual({ error: { code: 'not_found', message: 'key not found' } });
      expect(del.body).toEqual(patch.body);
    }
    // And nothing changed: the other member's key still works.
    expect((await api(s.app, 'GET', '/api/me', { token: other.apiKey })).status).toBe(200);
    const list = await api(s.app, 'GET', '/api/keys', { token: member.apiKey });
    expect((list.body.items as Json[]).some((k) => k.id === theirs)).toBe(false);
  });

  it('lets an admin see and revoke any key', async () => {
    const victim = await createTestUser(s.testDb.db);
    const list = await api(s.app, 'GET', '/api/keys?limit=500', { token: admin.apiKey });
    expect((list.body.items as Json[]).some((k) => k.id === victim.apiKeyId)).toBe(true);
    const del = await api(s.app, 'DELETE', `/api/keys/${victim.apiKeyId}`, {
      token: admin.apiKey,
    });
    expect(del.status).toBe(200);
    expect(del.body.revokedAt).toEqual(expect.any(String));
    const refused = await api(s.app, 'GET', '/api/me', { token: victim.apiKey });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { code: 'key_revoked' } });
  });

  it('refuses mass assignment: owner, revocation, scopes on update, admin scope', async () => {
    const create = await api(s.app, 'POST', '/api/keys', {
      token: member.apiKey,
      body: { name: 'x', userId: admin.id, revokedAt: null },
    });
    expect(create.status).toBe(400);
    const adminScope = await api(s.app, 'POST', '/api/keys', {
      token: await accessToken(member.email, member.password),
      body: { name: 'x', scopes: ['admin'] },
    });
    expect(adminScope.status).toBe(403);
    const c = await api(s.app, 'POST', '/api/keys', {
      token: member.apiKey,
      body: { name: 'narrow', scopes: ['read'] },
    });
    expect(c.status).toBe(200);
    const upScope = await api(s.app, 'PATCH', `/api/keys/${c.body.id}`, {
      token: member.apiKey,
      body: { scopes: ['gateway', 'read', 'admin'] },
    });
    expect(upScope.status).toBe(400);
    // A narrow key cannot mint a wider one.
    const widen = await api(s.app, 'POST', '/api/keys', {
      token: c.body.key as string,
      body: { name: 'wider', scopes: ['gateway'] },
    });
    expect(widen.status).toBe(403);
    const rows = await s.testDb.db
      .selectFrom('api_keys')
      .select(['user_id', 'scopes'])
      .where('user_id', '=', admin.id)
      .execute();
    expect(rows).toHaveLength(1); // only createTestUser's key
    const self = await api(s.app, 'PATCH', `/api/users/${member.id}`, {
      token: member.apiKey,
      body: { role: 'admin' },
    });
    expect(self.status).toBe(403);
    const still = await s.testDb.db
      .selectFrom('users')
      .select('role')
      .where('id', '=', member.id)
      .executeTakeFirstOrThrow();
    expect(still.role).toBe('member');
    const email = await api(s.app, 'PATCH', `/api/users/${member.id}`, {
      token: admin.apiKey,
      body: { email: 'taken@example.test' },
    });
    expect(email.status).toBe(400);
  });
});

describe('member × admin matrix', () => {
  const memberRefused: [string, string, (() => unknown) | undefined][] = [
    ['GET', '/api/users', undefined],
    ['POST', '/api/users', () => ({ email: 'new@example.test', role: 'admin' })],
    ['PATCH', '/api/users/{member}', () => ({ role: 'admin' })],
    ['POST', '/api/auth/signing-keys/rotate', () => ({})],
  ];

  it('refuses members (403) and lets admins through on every admin route', async () => {
    const memberJwt = await accessToken(member.email, member.password);
    const adminJwt = await accessToken(admin.email, admin.password);
    for (const [method, path, body] of memberRefused) {
      const url = path.replace('{member}', other.id);
      for (const token of [member.apiKey, memberJwt]) {
        const r = await api(s.app, method as 'GET', url, { token, body: body?.() });
        expect(r.status, `${method} ${url}`).toBe(403);
      }
    }
    const created = await api(s.app, 'POST', '/api/users', {
      token: adminJwt,
      body: { email: `Made-${randomUUID().slice(0, 6)}@Example.test`, role: 'member' },
    });
    expect(created.status).toBe(200);
    expect(created.body.password).toEqual(expect.any(String));
    const dup = await api(s.app, 'POST', '/api/users', {
      token: adminJwt,
      body: { email: (created.body.email as string).toLowerCase(), role: 'member' },
    });
    expect(dup.status).toBe(409);
    const list = await api(s.app, 'GET', '/api/users?limit=1', { token: admin.apiKey });
    expect(list.status).toBe(200);
    expect((list.body.items as Json[])[0]).toMatchObject({ id: created.body.id });
    expect(list.raw).not.toContain('password');
    // The new user logs in with the generated password.
    await accessToken(created.body.email as string, created.body.password as string);
    const patch = await api(s.app, 'PATCH', `/api/users/${created.body.id}`, {
      token: admin.apiKey,
      body: { role: 'admin' },
    });
    expect(patch.body).toMatchObject({ role: 'admin' });
    expect(
      (await api(s.app, 'PATCH', `/api/users/${randomUUID()}`, { token: admin.apiKey, body: {} }))
        .status,
    ).toBe(404);
    // An admin's key without the admin scope is not an admin credential.
    const narrow = await api(s.app, 'POST', '/api/keys', {
      token: admin.apiKey,
      body: { name: 'no-admin', scopes: ['read'] },
    });
    const r = await api(s.app, 'GET', '/api/users', { token: narrow.body.key as string });
    expect(r.status).toBe(403);
  });

  it('lets every authenticated caller use me, keys and logout', async () => {
    for (const u of [member, admin]) {
      const me = await api(s.app, 'GET', '/api/me', { token: u.apiKey });
      expect(me.body).toEqual({ id: u.id, email: u.email, role: u.role });
    }
  });
});

describe('disabling a user, changing a password', () => {
  it('refuses a disabled user everywhere at once and revokes their refresh tokens', async () => {
    const u = await createTestUser(s.testDb.db);
    const login = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
      ip: freshIp(),
    });
    const { accessToken: jwt, refreshToken } = login.body as Record<string, string>;
    expect((await api(s.app, 'GET', '/api/me', { token: jwt })).status).toBe(200);
    expect((await api(s.app, 'GET', '/api/me', { token: u.apiKey })).status).toBe(200);
    const d = await api(s.app, 'PATCH', `/api/users/${u.id}`, {
      token: admin.apiKey,
      body: { disabled: true },
    });
    expect(d.body).toMatchObject({ disabled: true });
    for (const token of [jwt, u.apiKey]) {
      const r = await api(s.app, 'GET', '/api/me', { token });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: { code: 'user_disabled' } });
    }
    expect((await api(s.app, 'POST', '/api/auth/refresh', { body: { refreshToken } })).status).toBe(
      401,
    );
    const again = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
      ip: freshIp(),
    });
    expect(again.status).toBe(401);
    // Re-enabled: keys work again, but the old JWT and refresh token stay revoked.
    await api(s.app, 'PATCH', `/api/users/${u.id}`, {
      token: admin.apiKey,
      body: { disabled: false },
    });
    expect((await api(s.app, 'GET', '/api/me', { token: u.apiKey })).status).toBe(200);
    expect((await api(s.app, 'GET', '/api/me', { token: jwt })).status).toBe(401);
    // An admin cannot lock themselves out.
    const selfDisable = await api(s.app, 'PATCH', `/api/users/${admin.id}`, {
      token: admin.apiKey,
      body: { disabled: true },
    });
    expect(selfDisable.status).toBe(409);
  });

  it('a password change revokes refresh tokens and earlier access JWTs', async () => {
    const u = await createTestUser(s.testDb.db);
    const login = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
      ip: freshIp(),
    });
    const { accessToken: jwt, refreshToken } = login.body as Record<string, string>;
    const newPassword = 'a-brand-new-password-1';
    const r = await api(s.app, 'PATCH', `/api/users/${u.id}`, {
      token: admin.apiKey,
      body: { password: newPassword },
    });
    expect(r.status).toBe(200);
    expect((await api(s.app, 'GET', '/api/me', { token: jwt })).status).toBe(401);
    expect((await api(s.app, 'POST', '/api/auth/refresh', { body: { refreshToken } })).status).toBe(
      401,
    );
    const fresh = await accessToken(u.email, newPassword);
    expect((await api(s.app, 'GET', '/api/me', { token: fresh })).status).toBe(200);
  });
});

describe('login throttling', () => {
  it('refuses the 6th attempt on one account within 15 minutes with 429 and retry-after', async () => {
    const u = await createTestUser(s.testDb.db);
    for (let i = 0; i < 5; i++) {
      const r = await api(s.app, 'POST', '/api/auth/login', {
        body: { email: u.email, password: 'wrong-password' },
        ip: freshIp(),
      });
      expect(r.status).toBe(401);
    }
    // Even the right password is refused while the account is throttled.
    const locked = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
      ip: freshIp(),
    });
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: { code: 'too_many_attempts' } });
    const wait = Number(locked.headers['retry-after']);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(15 * 60);
    // An unknown email is throttled the same way.
    const ghost = `ghost-${randomUUID()}@example.test`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (
          await api(s.app, 'POST', '/api/auth/login', {
            body: { email: ghost, password: 'wrong-password' },
            ip: freshIp(),
          })
        ).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    // After the window the account may log in again.
    s.clock.advance(15 * 60 * 1000 + 1000);
    try {
      await accessToken(u.email, u.password);
    } finally {
      s.clock.advance(-(15 * 60 * 1000 + 1000));
    }
  });

  it('refuses the 31st failure from one address within a minute', async () => {
    const ip = '10.77.0.1';
    for (let i = 0; i < 30; i++) {
      const r = await api(s.app, 'POST', '/api/auth/login', {
        body: { email: `spray-${i}@example.test`, password: 'wrong-password' },
        ip,
      });
      expect(r.status).toBe(401);
    }
    const r = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: member.email, password: member.password },
      ip,
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another address is unaffected.
    await accessToken(member.email, member.password);
  });
});

describe('route inventory', () => {
  it('every non-public operation in /openapi.json refuses anonymous calls with 401', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { security?: unknown[]; url?: string }>>;
    };
    const publicOps = new Set(['post /auth/login', 'post /auth/refresh']);
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      // The /v1 routes carry their own server, the root; the rest are under the document's /api.
      const servers = item.servers as unknown as { url: string }[] | undefined;
      const base = servers?.[0]?.url === '/' ? '' : '/api';
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const name = `${method} ${path}`;
        if (publicOps.has(name)) {
          expect(op.security, name).toEqual([]);
          continue;
        }
        const url = `${base}${path.replace(/\{[^}]+\}/g, randomUUID())}`;
        const hasBody = method !== 'get' && method !== 'delete';
        for (const headers of [{}, { authorization: 'Bearer nonsense' }]) {
          const r = await s.app.inject({
            method: method.toUpperCase() as 'GET',
            url,
            headers: { ...headers, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
            ...(hasBody ? { payload: '{}' } : {}),
          });
          expect(r.statusCode, name).toBe(401);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});

describe('secrets stay out of logs and error bodies', () => {
  it('never logs passwords, keys, refresh or access tokens', async () => {
    const u = await createTestUser(s.testDb.db);
    const bodies: string[] = [];
    const wrong = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: 'canary-wrong-password-42' },
      ip: freshIp(),
    });
    bodies.push(wrong.raw);
    const good = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: u.email, password: u.password },
      ip: freshIp(),
    });
    const { accessToken: jwt, refreshToken } = good.body as Record<string, string>;
    const rotated = await api(s.app, 'POST', '/api/auth/refresh', { body: { refreshToken } });
    bodies.push((await api(s.app, 'POST', '/api/auth/refresh', { body: { refreshToken } })).raw);
    const k = await api(s.app, 'POST', '/api/keys', { token: jwt, body: { name: 'canary' } });
    const key = k.body.key as string;
    await api(s.app, 'DELETE', `/api/keys/${k.body.id}`, { token: jwt });
    bodies.push((await api(s.app, 'GET', '/api/me', { token: key })).raw);
    bodies.push((await api(s.app, 'GET', '/api/me', { token: `${jwt}x` })).raw);
    bodies.push(
      (
        await api(s.app, 'POST', '/api/users', {
          token: admin.apiKey,
          body: { email: 'bad', password: 'short-canary', role: 'member' },
        })
      ).raw,
    );
    await s.deps.auth.flush();
    const secrets = [
      u.password,
      'canary-wrong-password-42',
      'short-canary',
      refreshToken,
      (rotated.body as Record<string, string>).refreshToken,
      jwt,
      key,
      u.apiKey,
    ];
    const logs = s.logs.join('\n');
    expect(s.logs.length).toBeGreaterThan(5);
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      for (const b of bodies) expect(b).not.toContain(secret);
    }
  });

  it('records last-used time without a write per request', async () => {
    const u = await createTestUser(s.testDb.db);
    for (let i = 0; i < 3; i++) await api(s.app, 'GET', '/api/me', { token: u.apiKey });
    await s.deps.auth.flush();
    const row = await s.testDb.db
      .selectFrom('api_keys')
      .select('last_used_at')
      .where('id', '=', u.apiKeyId)
      .executeTakeFirstOrThrow();
    expect(row.last_used_at).toBeInstanceOf(Date);
    const list = await api(s.app, 'GET', '/api/keys', { token: u.apiKey });
    expect((list.body.items as Json[])[0]?.lastUsedAt).toEqual(expect.any(String));
  });
});
