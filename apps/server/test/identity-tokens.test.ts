import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from './helpers.ts';
import {
  api,
  decodePart,
  forgeJwt,
  type IdentityServer,
  startIdentityServer,
  stopIdentityServer,
} from './identity-helpers.ts';

/** The status line of a hand-written HTTP request (clients refuse to send NUL in headers). */
function rawStatus(port: number, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', reject);
    sock.write(
      `GET /api/me HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${authorization}\r\nconnection: close\r\n\r\n`,
      'latin1',
    );
  });
}

let s: IdentityServer;
let member: TestUser;
let admin: TestUser;

beforeAll(async () => {
  s = await startIdentityServer();
  member = await createTestUser(s.testDb.db, { role: 'member' });
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
});
afterAll(() => stopIdentityServer(s));

async function loginAs(u: TestUser) {
  const r = await api(s.app, 'POST', '/api/auth/login', {
    body: { email: u.email, password: u.password },
    ip: `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  });
  expect(r.status).toBe(200);
  return r.body as { accessToken: string; refreshToken: string; expiresIn: number };
}

const me = (token: string) => api(s.app, 'GET', '/api/me', { token });

describe('login, me, refresh, logout', () => {
  it('logs in and answers me with a 15-minute EdDSA access JWT', async () => {
    const pair = await loginAs(member);
    expect(pair.expiresIn).toBe(900);
    const header = decodePart(pair.accessToken, 0);
    const claims = decodePart(pair.accessToken, 1);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
    expect(claims).toMatchObject({
      iss: 'tollgate',
      aud: 'tollgate-api',
      sub: member.id,
      role: 'member',
      token_use: 'access',
      jti: expect.any(String),
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    const r = await me(pair.accessToken);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id: member.id, email: member.email, role: 'member' });
    // The same on tRPC.
    const t = await s.app.inject({
      method: 'GET',
      url: `/trpc/auth.me?input=${encodeURIComponent('{}')}`,
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(t.json().result.data).toEqual({ id: member.id, email: member.email, role: 'member' });
  });

  it('publishes the signing key at /.well-known/jwks.json without private parts', async () => {
    const pair = await loginAs(member);
    const r = await s.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(r.statusCode).toBe(200);
    const keys = r.json().keys as Record<string, unknown>[];
    expect(keys.map((k) => k.kid)).toContain(decodePart(pair.accessToken, 0).kid);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(k).not.toHaveProperty('d');
    }
    const row = await s.testDb.db.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow();
    expect(row.private_jwk_enc).toMatch(/^v1\./);
    expect(row.private_jwk_enc).not.toContain('"d"');
  });

  it('rotates the refresh token on every use; reuse of a spent one revokes the family', async () => {
    const first = await loginAs(member);
    const second = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: first.refreshToken },
    });
    expect(second.status).toBe(200);
    const pair2 = second.body as { accessToken: string; refreshToken: string };
    expect(pair2.refreshToken).not.toBe(first.refreshToken);
    expect((await me(pair2.accessToken)).status).toBe(200);

    const reuse = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: first.refreshToken },
    });
    expect(reuse.status).toBe(401);
    expect(reuse.body).toMatchObject({ error: { code: 'token_reused' } });
    // The family is dead: the newer token no longer refreshes either.
    const after = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: pair2.refreshToken },
    });
    expect(after.status).toBe(401);
  });

  it('lets exactly one of two concurrent refreshes with one token win', async () => {
    const pair = await loginAs(member);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        api(s.app, 'POST', '/api/auth/refresh', { body: { refreshToken: pair.refreshToken } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(4);
    const rows = await s.testDb.db
      .selectFrom('refresh_tokens')
      .innerJoin('refresh_tokens as first', 'first.family_id', 'refresh_tokens.family_id')
      .select('refresh_tokens.id')
      .where('first.user_id', '=', member.id)
      .execute();
    expect(rows.length).toBeGreaterThan(0);
  });

  it('logout revokes the family; someone else cannot log me out', async () => {
    const pair = await loginAs(member);
    const other = await loginAs(admin);
    // Admin presents the member's refresh token: nothing happens to it.
    const foreign = await api(s.app, 'POST', '/api/auth/logout', {
      token: other.accessToken,
      body: { refreshToken: pair.refreshToken },
    });
    expect(foreign.status).toBe(200);
    const refreshed = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: pair.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    const next = refreshed.body as { accessToken: string; refreshToken: string };

    const out = await api(s.app, 'POST', '/api/auth/logout', {
      token: next.accessToken,
      body: { refreshToken: next.refreshToken },
    });
    expect(out.status).toBe(200);
    const again = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: next.refreshToken },
    });
    expect(again.status).toBe(401);
    const anon = await api(s.app, 'POST', '/api/auth/logout', {
      body: { refreshToken: next.refreshToken },
    });
    expect(anon.status).toBe(401);
  });

  it('refuses a refresh token as access token and an access token as refresh token', async () => {
    const pair = await loginAs(member);
    const asAccess = await me(pair.refreshToken);
    expect(asAccess.status).toBe(401);
    expect(asAccess.body).toMatchObject({ error: { code: 'token_invalid' } });
    const asRefresh = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: pair.accessToken.slice(0, 256) },
    });
    expect(asRefresh.status).toBe(401);
    // An API key is not a refresh token either.
    const key = await api(s.app, 'POST', '/api/auth/refresh', {
      body: { refreshToken: member.apiKey },
    });
    expect(key.status).toBe(401);
  });

  it('answers wrong password and unknown email identically', async () => {
    const wrong = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: member.email, password: 'not-the-password' },
      ip: '10.9.0.1',
    });
    const unknown = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: 'nobody@example.test', password: 'not-the-password' },
      ip: '10.9.0.2',
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body).toMatchObject({ error: { code: 'invalid_credentials' } });
    // Email matching is case-insensitive.
    const upper = await api(s.app, 'POST', '/api/auth/login', {
      body: { email: member.email.toUpperCase(), password: member.password },
      ip: '10.9.0.3',
    });
    expect(upper.status).toBe(200);
  });
});

describe('forged and broken access tokens', () => {
  let valid: string;
  let claims: Record<string, unknown>;
  let header: Record<string, unknown>;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    valid = (await loginAs(member)).accessToken;
    claims = decodePart(valid, 1);
    header = decodePart(valid, 0);
  });

  async function expect401(token: string, code = 'token_invalid') {
    const r = await me(token);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: { code } });
  }

  it('refuses alg none', async () => {
    await expect401(forgeJwt({ alg: 'none', typ: 'at+jwt', kid: header.kid }, claims));
    await expect401(forgeJwt({ alg: 'none' }, claims).slice(0, -1));
  });

  it('refuses HS256 signed with the public key bytes (algorithm confusion)', async () => {
    const jwks = (await s.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const pub = jwks.keys[0] as { x: string };
    for (const secret of [pub.x, Buffer.from(pub.x, 'base64url'), JSON.stringify(pub)]) {
      await expect401(forgeJwt({ ...header, alg: 'HS256' }, claims, { hs256: secret }));
    }
  });

  it('refuses a token from a foreign key, with a known and with an unknown kid', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await expect401(forgeJwt(header, claims, { ed25519: privateKey }));
    await expect401(forgeJwt({ ...header, kid: 'not-our-kid' }, claims, { ed25519: privateKey }));
    await expect401(forgeJwt({ alg: 'EdDSA', typ: 'at+jwt' }, claims, { ed25519: privateKey }));
  });

  it('ignores jku and jwk headers pointing elsewhere', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: header.kid };
    await expect401(
      forgeJwt({ ...header, jwk }, { ...claims, sub: admin.id }, { ed25519: privateKey }),
    );
    await expect401(
      forgeJwt({ ...header, jku: 'http://127.0.0.1:1/jwks.json', kid: 'attacker' }, claims, {
        ed25519: privateKey,
      }),
    );
    await expect401(
      forgeJwt({ ...header, x5u: 'http://127.0.0.1:1/cert' }, claims, { ed25519: privateKey }),
    );
  });

  it('refuses a tampered payload and a tampered signature', async () => {
    const [h, , sig] = valid.split('.');
    const body = Buffer.from(JSON.stringify({ ...claims, role: 'admin', sub: admin.id })).toString(
      'base64url',
    );
    await expect401(`${h}.${body}.${sig}`);
    const flipped = `${valid.slice(0, -2)}${valid.at(-2) === 'A' ? 'B' : 'A'}${valid.at(-1)}`;
    await expect401(flipped);
  });

  it('refuses wrong typ, issuer, audience and a missing token_use', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    // Even with our kid these are foreign-signed; the real checks are covered by the claims below.
    await expect401(forgeJwt({ ...header, typ: 'JWT' }, claims, { ed25519: privateKey }));
    await expect401(
      valid.replace(
        /^[^.]+/,
        Buffer.from(JSON.stringify({ ...header, typ: 'JWT' })).toString('base64url'),
      ),
    );
  });

  it('refuses an expired token with token_expired', async () => {
    const pair = await loginAs(member);
    s.clock.advance(16 * 60 * 1000);
    try {
      await expect401(pair.accessToken, 'token_expired');
    } finally {
      s.clock.advance(-16 * 60 * 1000);
    }
    expect((await me(pair.accessToken)).status).toBe(200);
    expect(now()).toBeGreaterThan(0);
  });

  it('answers 401, never 500, for odd credential strings', async () => {
    const odd = [
      "tg_' or '1'='1",
      `tg_${"'; drop table users; --".padEnd(43, 'x')}`,
      'tg_%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%',
      `tg_${'a'.repeat(10_000)}`,
      'a'.repeat(10_000),
      'tg_ключключключключключключключключключключклю',
      'eyJhbGciOiJFZERTQSJ9.eyJ9.',
      'x.y.z',
      '...',
    ];
    for (const cred of odd) {
      // On the wire a header is bytes: UTF-8 arrives as Latin-1 characters, as Node parses it.
      const wire = Buffer.from(cred, 'utf8').toString('latin1');
      const res = await s.app.inject({
        method: 'GET',
        url: '/api/me',
        headers: { authorization: `Bearer ${wire}` },
      });
      expect(res.statusCode, JSON.stringify(cred.slice(0, 40))).toBe(401);
      expect(res.json().error.code).toMatch(/^(key_invalid|token_invalid|unauthenticated)$/);
    }
  });

  it('answers 4xx, never 500, to a NUL byte in the credential on a real socket', async () => {
    const base = await listen(s.app);
    const { port } = new URL(base);
    for (const cred of ['tg_\u0000abc', `tg_${'a'.repeat(20)}\u0000${'b'.repeat(22)}`, '\u0000']) {
      const status = await rawStatus(Number(port), `Bearer ${cred}`);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
  });
});

describe('rotation of the signing key', () => {
  it('signs new tokens with the new kid while old tokens still verify (admin only)', async () => {
    const adminPair = await loginAs(admin);
    const oldKid = decodePart(adminPair.accessToken, 0).kid;
    const denied = await api(s.app, 'POST', '/api/auth/signing-keys/rotate', {
      token: member.apiKey,
      body: {},
    });
    expect(denied.status).toBe(403);
    const r = await api(s.app, 'POST', '/api/auth/signing-keys/rotate', {
      token: admin.apiKey,
      body: {},
    });
    expect(r.status).toBe(200);
    const newKid = r.body.kid;
    expect(newKid).not.toBe(oldKid);
    const fresh = await loginAs(member);
    expect(decodePart(fresh.accessToken, 0).kid).toBe(newKid);
    expect((await me(fresh.accessToken)).status).toBe(200);
    expect((await me(adminPair.accessToken)).status).toBe(200);
    const kids = (await s.app.inject({ method: 'GET', url: '/.well-known/jwks.json' }))
      .json()
      .keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    // Once every token of the old key has expired, it is retired from the JWKS and refused.
    s.clock.advance(25 * 60 * 1000);
    try {
      s.deps.auth.invalidate({ k: 'signing' });
      const later = (await s.app.inject({ method: 'GET', url: '/.well-known/jwks.json' }))
        .json()
        .keys.map((k: { kid: string }) => k.kid);
      expect(later).toEqual([newKid]);
    } finally {
      s.clock.advance(-25 * 60 * 1000);
      s.deps.auth.invalidate({ k: 'signing' });
    }
  });
});
