import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, webRoutes } from '../src/web-static.ts';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let user: TestUser;
const origin = 'http://localhost:80';

beforeAll(async () => {
  s = await startTestServer();
  user = await createTestUser(s.testDb.db);
});
afterAll(() => closeTestServer(s));

type Res = Awaited<ReturnType<TestServer['app']['inject']>>;

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return s.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', origin, ...headers },
    payload: JSON.stringify(body),
  });
}

/** The `name=value` pair of the refresh cookie a response set, and its attributes. */
function refreshCookie(res: Res) {
  const c = res.cookies.find((x) => x.name === 'tollgate_refresh');
  if (!c) throw new Error(`no refresh cookie in ${JSON.stringify(res.headers['set-cookie'])}`);
  return c;
}

async function loginCookie(): Promise<{ cookie: string; accessToken: string }> {
  const res = await post('/auth/session', { email: user.email, password: user.password });
  expect(res.statusCode).toBe(200);
  return {
    cookie: `tollgate_refresh=${refreshCookie(res).value}`,
    accessToken: res.json().accessToken,
  };
}

describe('the dashboard session (/auth/session)', () => {
  it('login answers an access token and keeps the refresh token in a strict httpOnly cookie', async () => {
    const res = await post('/auth/session', { email: user.email, password: user.password });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn']);
    expect(res.body).not.toContain('rt_');
    const c = refreshCookie(res);
    expect(c.value).toMatch(/^rt_/);
    expect(c).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/auth/session' });
    expect(c.secure).toBeFalsy(); // plain http here; https sets Secure
    expect(res.headers['cache-control']).toBe('no-store');

    const me = await s.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${body.accessToken}` },
    });
    expect(me.json()).toMatchObject({ email: user.email });
  });

  it('a wrong password is 401 invalid_credentials and sets no cookie', async () => {
    const res = await post('/auth/session', { email: user.email, password: 'wrong-password-1' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({
      error: { code: 'invalid_credentials', message: 'invalid email or password' },
    });
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('refresh rotates the cookie; the spent cookie then revokes the family', async () => {
    const { cookie } = await loginCookie();
    const first = await post('/auth/session/refresh', {}, { cookie });
    expect(first.statusCode).toBe(200);
    expect(first.json().accessToken).toEqual(expect.any(String));
    const rotated = `tollgate_refresh=${refreshCookie(first).value}`;
    expect(rotated).not.toBe(cookie);

    const replay = await post('/auth/session/refresh', {}, { cookie });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.code).toBe('token_reused');
    expect(refreshCookie(replay).value).toBe(''); // cleared

    const afterTheft = await post('/auth/session/refresh', {}, { cookie: rotated });
    expect(afterTheft.statusCode).toBe(401);
  });

  it('refresh without a cookie is 204 with no token (a logged-out browser)', async () => {
    const res = await post('/auth/session/refresh', {});
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
  });

  it('refuses another origin and non-JSON bodies (CSRF), before touching the session', async () => {
    const { cookie } = await loginCookie();
    const cross = await post('/auth/session/refresh', {}, { cookie, origin: 'https://evil.test' });
    expect(cross.statusCode).toBe(403);
    const form = await s.app.inject({
      method: 'POST',
      url: '/auth/session/refresh',
      headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=b',
    });
    expect(form.statusCode).toBe(415);
    // Neither spent the token: it still refreshes once.
    expect((await post('/auth/session/refresh', {}, { cookie })).statusCode).toBe(200);
  });

  it('logout revokes the family and clears the cookie', async () => {
    const { cookie, accessToken } = await loginCookie();
    const out = await post(
      '/auth/session/logout',
      {},
      { cookie, authorization: `Bearer ${accessToken}` },
    );
    expect(out.statusCode).toBe(200);
    expect(refreshCookie(out).value).toBe('');
    const after = await post('/auth/session/refresh', {}, { cookie });
    expect(after.statusCode).toBe(401);
  });

  it("logout with someone else's access token clears the cookie but revokes nothing", async () => {
    const { cookie } = await loginCookie();
    const other = await createTestUser(s.testDb.db);
    const out = await post(
      '/auth/session/logout',
      {},
      { cookie, authorization: `Bearer ${other.apiKey}` },
    );
    expect(out.statusCode).toBe(200);
    expect((await post('/auth/session/refresh', {}, { cookie })).statusCode).toBe(200);
  });
});

describe('the dashboard files (/)', () => {
  let dir: string;
  let app: ReturnType<typeof Fastify>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title><div id="root"></div>');
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    app = Fastify();
    app.get('/api/x', async () => ({ ok: true }));
    await webRoutes(app, { root: dir });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with the strict CSP', async () => {
    const res = await app.inject({ url: '/', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<div id="root">');
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('serves hashed assets as immutable', async () => {
    const res = await app.inject({ url: '/assets/app-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('answers client-side routes with index.html, API misses with a JSON 404', async () => {
    const page = await app.inject({ url: '/requests/abc', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    const api = await app.inject({ url: '/api/nope', headers: { accept: 'text/html' } });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ statusCode: 404 });
    const json = await app.inject({
      url: '/requests/abc',
      headers: { accept: 'application/json' },
    });
    expect(json.statusCode).toBe(404);
  });

  it('without a build, pages say how to build it', async () => {
    const bare = Fastify();
    await webRoutes(bare, { root: join(dir, 'missing') });
    const res = await bare.inject({ url: '/', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('pnpm --filter @tollgate/web build');
    await bare.close();
  });
});
