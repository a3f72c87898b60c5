import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '@tollgate/config';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { createLogger } from '@tollgate/telemetry';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/app.ts';

// Every secret a request can carry, each distinctive enough to find anywhere in the output.
const canary = (what: string) => `${what}-canary-${randomUUID().slice(0, 8)}`;
const password = canary('password');
const wrongPassword = canary('wrong-password');
const providerKey = `sk-${canary('openai-provider-key')}`;
const anthropicKey = canary('anthropic-provider-key');
const metricsToken = canary('metrics-token');
const secret = `${canary('tollgate-secret')}-0123456789abcdef0123456789`;
const cookie = canary('cookie');
const bogusKey = `tg_${randomBytes(32).toString('base64url')}`;
const webhookSecret = canary('webhook-secret');

let testDb: TestDb;
let app: FastifyInstance;
let member: TestUser;
const lines: string[] = [];
const issued: string[] = []; // tokens the server handed out during the test

beforeAll(async () => {
  testDb = await createTestDb();
  const config = loadConfig({
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'logstash',
    OPENAI_API_KEY: providerKey,
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    ANTHROPIC_API_KEY: anthropicKey,
    METRICS_TOKEN: metricsToken,
    TOLLGATE_SECRET: secret,
  });
  const deps = {
    ...createTestDeps(testDb.db, testDb.pool, { config }),
    log: createLogger(config, { write: (s: string) => void lines.push(s) }),
  };
  app = await buildServer(deps);
  // A route standing in for a gateway call: it names the model for the request line.
  app.get('/test/model-call', async (req) => {
    req.logModel = 'mock-echo';
    return { ok: true };
  });
  member = await createTestUser(testDb.db, { password });
});
afterAll(async () => {
  await app?.close();
  await testDb?.drop();
});

const json = { 'content-type': 'application/json' };

async function exerciseEverySecret() {
  // Login with the right and a wrong password (REST and tRPC), then use what login hands out.
  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { ...json, cookie: `session=${cookie}` },
    payload: { email: member.email, password },
  });
  if (login.statusCode === 200) {
    const body = login.json() as { accessToken: string; refreshToken: string };
    issued.push(body.accessToken, body.refreshToken);
    await app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${body.accessToken}` },
    });
    const refreshed = await app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      headers: json,
      payload: { refreshToken: body.refreshToken },
    });
    if (refreshed.statusCode === 200) {
      const pair = refreshed.json() as { accessToken: string; refreshToken: string };
      issued.push(pair.accessToken, pair.refreshToken);
    }
    // Reusing the rotated refresh token is an error path (family revoked): logged, never echoed.
    await app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      headers: json,
      payload: { refreshToken: body.refreshToken },
    });
  }
  await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: json,
    payload: { email: member.email, password: wrongPassword },
  });
  await app.inject({
    method: 'POST',
    url: '/trpc/auth.login',
    headers: json,
    payload: { email: member.email, password },
  });
  // Malformed JSON whose text holds the password: Fastify's parser error path.
  await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: json,
    payload: `{"email":"${member.email}","password":"${password}"`,
  });
  // API keys: valid and unknown, as Bearer and as x-api-key.
  await app.inject({
    method: 'GET',
    url: '/api/system/info',
    headers: { authorization: `Bearer ${member.apiKey}` },
  });
  await app.inject({
    method: 'GET',
    url: '/api/system/info',
    headers: { authorization: `Bearer ${bogusKey}` },
  });
  await app.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { ...json, 'x-api-key': member.apiKey },
    payload: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  });
  await app.inject({
    method: 'POST',
    url: '/api/webhooks/secret',
    headers: { ...json, authorization: `Bearer ${member.apiKey}` },
    payload: { secret: webhookSecret },
  });
  await app.inject({
    method: 'GET',
    url: '/test/model-call',
    headers: { authorization: `Bearer ${member.apiKey}` },
  });
  await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${metricsToken}` },
  });
}

describe('request logs', () => {
  let parsed: Array<Record<string, unknown>>;
  beforeAll(async () => {
    await exerciseEverySecret();
    parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  });

  it('never contain a password, key, token, cookie or secret', async () => {
    expect(lines.length).toBeGreaterThan(10);
    const all = lines.join('');
    for (const c of [
      password,
      wrongPassword,
      providerKey,
      anthropicKey,
      metricsToken,
      secret,
      cookie,
      bogusKey,
      webhookSecret,
      member.apiKey,
      ...issued,
    ]) {
      expect(all).not.toContain(c);
    }
  });

  it('never reach /metrics either', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(res.statusCode).toBe(200);
    for (const c of [password, providerKey, metricsToken, member.apiKey, bogusKey, ...issued]) {
      expect(res.body).not.toContain(c);
    }
    expect(res.body).not.toContain(member.id);
  });

  it('are logstash lines: @timestamp, @version, message, string level', () => {
    for (const l of parsed) {
      expect(l).toMatchObject({ '@version': '1', message: expect.any(String) });
      expect(typeof l.level).toBe('string');
      expect(new Date(String(l['@timestamp'])).toISOString()).toBe(l['@timestamp']);
    }
  });

  it('have one line per request with id, principal, route template, status and latency', () => {
    const requests = parsed.filter((l) => l.message === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(10);
    for (const l of requests) {
      expect(l).toMatchObject({
        reqId: expect.any(String),
        route: expect.any(String),
        status: expect.any(Number),
        latencyMs: expect.any(Number),
      });
    }
    const info = requests.find((l) => l.route === '/api/system/info' && l.userId === member.id);
    expect(info).toMatchObject({ keyId: member.apiKeyId });
    const model = requests.find((l) => l.route === '/test/model-call');
    expect(model).toMatchObject({ model: 'mock-echo', status: 200 });
    expect(requests.find((l) => l.route === '/metrics')).toMatchObject({ status: 200 });
    // A model call's line names the model it asked for.
    expect(requests.find((l) => l.route === '/v1/chat/completions')).toMatchObject({
      model: 'gpt-4o-mini',
      userId: member.id,
      keyId: member.apiKeyId,
    });
    // Routes are templates: no raw ids or unknown paths.
    expect(requests.some((l) => String(l.route).includes(member.id))).toBe(false);
  });
});
