import { randomUUID } from 'node:crypto';
import { loadConfig } from '@tollgate/config';
import { chatComplete, defaultGatewayTuning, seedModels, type UserPrincipal } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { createLogger } from '@tollgate/telemetry';
import {
  createTestDb,
  type FakeUpstream,
  startFakeUpstream,
  type TestDb,
} from '@tollgate/test-kit';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/app.ts';
import { listen } from './helpers.ts';

// Distinctive connection keys: each must never come back from a route, a log line or /metrics.
const keyA = `sk-conn-a-${randomUUID()}`;
const keyB = `sk-conn-b-${randomUUID()}`;
const azureKey = `az-${randomUUID()}`;
const AZURE_VERSION = '2024-10-21';
const CHAT = 'POST /v1/chat/completions';

let testDb: TestDb;
let app: FastifyInstance;
let deps: ReturnType<typeof createTestDeps>;
let fakeA: FakeUpstream;
let fakeB: FakeUpstream;
let fakeAz: FakeUpstream;
let admin: TestUser;
let member: TestUser;
let baseUrl: string;
const lines: string[] = [];
const bodies: string[] = []; // every /api response body of this file

type Json = Record<string, unknown>;

async function api(method: string, url: string, who: TestUser, payload?: unknown) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${who.apiKey}` },
    ...(payload !== undefined ? { payload: payload as Json } : {}),
  });
  bodies.push(res.body);
  return { status: res.statusCode, json: () => res.json() as Json };
}

async function connection(body: Json) {
  const res = await api('POST', '/api/providers', admin, body);
  expect(res.status, JSON.stringify(res.json())).toBe(200);
  return res.json();
}

async function model(name: string, body: Json) {
  const res = await api('PUT', `/api/models/${name}`, admin, {
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
    ...body,
  });
  expect(res.status, JSON.stringify(res.json())).toBe(200);
  return res.json();
}

async function logRow(requestId: string) {
  await deps.requestLog.flush();
  return testDb.db
    .selectFrom('request_logs')
    .selectAll()
    .where('request_id', '=', requestId)
    .executeTakeFirstOrThrow();
}

const call = (principal: UserPrincipal) => ({
  principal,
  requestId: `req-${randomUUID()}`,
  signal: new AbortController().signal,
  surface: 'rest' as const,
});

beforeAll(async () => {
  fakeA = await startFakeUpstream({ apiKey: keyA });
  fakeB = await startFakeUpstream({ apiKey: keyB });
  fakeAz = await startFakeUpstream({ azure: { apiKey: azureKey, apiVersion: AZURE_VERSION } });
  testDb = await createTestDb();
  const config = loadConfig({
    LOG_LEVEL: 'debug',
    TOLLGATE_SECRET: `providers-test-secret-${randomUUID()}`,
    UPSTREAM_TIMEOUT_MS: '3000',
  });
  deps = {
    ...createTestDeps(testDb.db, testDb.pool, { config }),
    log: createLogger(config, { write: (s: string) => void lines.push(s) }),
  };
  app = await buildServer(deps);
  baseUrl = await listen(app);
  await seedModels(deps);
  admin = await createTestUser(testDb.db, { role: 'admin' });
  member = await createTestUser(testDb.db);
  await connection({
    kind: 'openai-compatible',
    name: 'a',
    baseUrl: `${fakeA.url}/v1`,
    apiKey: keyA,
  });
  await connection({
    kind: 'openai-compatible',
    name: 'b',
    baseUrl: `${fakeB.url}/v1`,
    apiKey: keyB,
  });
});
afterAll(async () => {
  await app?.close();
  await deps?.requestLog.close();
  await testDb?.drop();
  await Promise.all([fakeA?.close(), fakeB?.close(), fakeAz?.close()]);
});
beforeEach(() => {
  fakeA.reset();
  fakeB.reset();
  fakeAz.reset();
});

describe('providers.* (connections as data)', () => {
  it('creates a connection whose key is stored encrypted and shown only as a prefix', async () => {
    const c = await connection({
      kind: 'openai',
      name: 'team-openai',
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: `sk-proj-${randomUUID()}`,
      headers: { 'OpenAI-Organization': 'org-123' },
      rpmLimit: 100,
    });
    expect(c).toMatchObject({
      name: 'team-openai',
      kind: 'openai',
      baseUrl: 'http://127.0.0.1:9/v1',
      keyPrefix: 'sk-pro…',
      builtIn: false,
      rpmLimit: 100,
      tpmLimit: null,
      headers: { 'OpenAI-Organization': 'org-123' },
    });
    expect(c).not.toHaveProperty('apiKey');
    const row = await testDb.db
      .selectFrom('provider_connections')
      .selectAll()
      .where('name', '=', 'team-openai')
      .executeTakeFirstOrThrow();
    expect(row.api_key_enc).toMatch(/^v1\./);
    expect(row.api_key_enc).not.toContain('sk-proj');

    const dup = await api('POST', '/api/providers', admin, {
      kind: 'openai',
      name: 'team-openai',
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: 'sk-other',
    });
    expect(dup.status).toBe(409);

    const changed = await api('PATCH', `/api/providers/${c.id}`, admin, { tpmLimit: 5000 });
    expect(changed.json()).toMatchObject({ tpmLimit: 5000, keyPrefix: 'sk-pro…' });
    const gone = await api('DELETE', `/api/providers/${c.id}`, admin);
    expect(gone.status).toBe(200);
    const list = await api('GET', '/api/providers', admin);
    expect((list.json().items as Json[]).map((i) => i.name)).not.toContain('team-openai');
  });

  it('lists the environment-configured providers as built-in connections', async () => {
    const testDb2 = await createTestDb();
    const d2 = createTestDeps(testDb2.db, testDb2.pool, {
      env: {
        OPENAI_API_KEY: `sk-env-${randomUUID()}`,
        ANTHROPIC_API_KEY: `sk-ant-${randomUUID()}`,
      },
    });
    const app2 = await buildServer(d2);
    try {
      const a2 = await createTestUser(testDb2.db, { role: 'admin' });
      const res = await app2.inject({
        url: '/api/providers',
        headers: { authorization: `Bearer ${a2.apiKey}` },
      });
      const items = (res.json() as { items: Json[] }).items;
      expect(items.map((i) => [i.name, i.kind, i.builtIn, i.baseUrl])).toEqual([
        ['openai', 'openai', true, 'https://api.openai.com/v1'],
        ['anthropic', 'anthropic', true, 'https://api.anthropic.com'],
      ]);
      expect(items[0]?.keyPrefix).toBe('sk-env…');
      const patch = await app2.inject({
        method: 'PATCH',
        url: `/api/providers/${items[0]?.id}`,
        headers: { authorization: `Bearer ${a2.apiKey}` },
        payload: { rpmLimit: 1 },
      });
      expect(patch.statusCode).toBe(400);
    } finally {
      await app2.close();
      await d2.requestLog.close();
      await testDb2.drop();
    }
  });

  it('a member can neither create nor list connections (403), and nothing is written', async () => {
    const before = await testDb.db
      .selectFrom('provider_connections')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const res = await api('POST', '/api/providers', member, {
      kind: 'openai-compatible',
      name: 'sneaky',
      baseUrl: 'http://127.0.0.1:1/v1',
      apiKey: 'sk-member',
    });
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/providers', member)).status).toBe(403);
    const after = await testDb.db
      .selectFrom('provider_connections')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it.each([
    'http://169.254.169.254/latest',
    'http://[fd00:ec2::254]/v1',
    'http://metadata.google.internal/v1',
    'http://2852039166/v1', // 169.254.169.254 spelled as one decimal number
    'http://[::ffff:169.254.169.254]/v1',
    'http://169.254.10.1:8000/v1', // link-local
  ])('refuses the base URL %s with a 400 naming baseUrl', async (url) => {
    const res = await api('POST', '/api/providers', admin, {
      kind: 'openai-compatible',
      name: `meta-${randomUUID().slice(0, 8)}`,
      baseUrl: url,
      apiKey: 'sk-whatever',
    });
    expect(res.status).toBe(400);
    const err = res.json().error as Json;
    expect(JSON.stringify(err)).toContain('baseUrl');
    const rows = await testDb.db
      .selectFrom('provider_connections')
      .select('name')
      .where('base_url', '=', url)
      .execute();
    expect(rows).toEqual([]);
  });

  it('accepts private-network hosts (an admin-run vLLM or Ollama)', async () => {
    const c = await connection({
      kind: 'openai-compatible',
      name: 'ollama',
      baseUrl: 'http://10.1.2.3:11434/v1',
      apiKey: 'ollama',
    });
    expect(c.baseUrl).toBe('http://10.1.2.3:11434/v1');
  });
});

describe('routing to deployments', () => {
  it('splits traffic by weight: 3:1 over 1,000 calls lands within ±6 points of 75 %', async () => {
    await model('split', {
      deployments: [
        { provider: 'a', upstreamModel: 'up-a', weight: 3 },
        { provider: 'b', upstreamModel: 'up-b', weight: 1 },
      ],
    });
    const n = 1000;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          chatComplete(
            deps,
            { model: 'split', messages: [{ role: 'user', content: 'hi' }] },
            call(member.principal),
          ),
        ),
      );
    }
    const a = fakeA.requests(CHAT).length;
    const b = fakeB.requests(CHAT).length;
    expect(a + b).toBe(n);
    // Binomial(1000, 0.75): one standard deviation is 1.4 points; 6 points is over 4 of them.
    expect(Math.abs(a / n - 0.75)).toBeLessThan(0.06);
    expect(fakeA.requests(CHAT)[0]?.body).toMatchObject({ model: 'up-a' });
    expect(fakeB.requests(CHAT)[0]?.body).toMatchObject({ model: 'up-b' });
  });

  it('cools a deployment down on 429 + retry-after and routes to the other one meanwhile', async () => {
    await model('pair', {
      deployments: [
        { provider: 'a', upstreamModel: 'pair-a' },
        { provider: 'b', upstreamModel: 'pair-b' },
      ],
    });
    // Equal weights and a constant random source: `a` comes first in every healthy order.
    const tuning = { ...defaultGatewayTuning, random: () => 0.1 };
    fakeA.script(CHAT, [{ status: 429, headers: { 'retry-after': '30' } }]);
    const first = call(member.principal);
    const r = await chatComplete(
      deps,
      { model: 'pair', messages: [{ role: 'user', content: 'one' }] },
      first,
      tuning,
    );
    expect(r.content).toBe('one');
    expect(fakeA.requests(CHAT)).toHaveLength(1); // not retried: the other deployment took it
    expect((await logRow(first.requestId)).connection).toBe('b');
    for (let i = 0; i < 5; i++) {
      await chatComplete(
        deps,
        { model: 'pair', messages: [{ role: 'user', content: `n${i}` }] },
        call(member.principal),
        tuning,
      );
    }
    expect(fakeA.requests(CHAT)).toHaveLength(1); // cooled down for its retry-after
    expect(fakeB.requests(CHAT)).toHaveLength(6);
  });

  it('both deployments down: the fallback model answers, and the request log says which', async () => {
    await model('both-down', {
      deployments: [
        { provider: 'a', upstreamModel: 'bd-a' },
        { provider: 'b', upstreamModel: 'bd-b' },
      ],
      fallbacks: ['mock-echo'],
    });
    fakeA.script(CHAT, [{ status: 503 }]);
    fakeB.script(CHAT, [{ status: 503 }]);
    const res = await fetch(`${baseUrl}/api/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'both-down', messages: [{ role: 'user', content: 'fb' }] }),
    });
    const body = (await res.json()) as Json;
    expect(res.status).toBe(200);
    expect(body.model).toBe('mock-echo');
    expect(fakeA.requests(CHAT)).toHaveLength(1);
    expect(fakeB.requests(CHAT)).toHaveLength(1);
    const row = await logRow(body.requestId as string);
    expect(row).toMatchObject({ model: 'mock-echo', connection: 'mock', provider: 'mock' });
    // Both are cooled down now: the next call goes straight to the fallback.
    const again = await api('POST', '/api/chat/completions', member, {
      model: 'both-down',
      messages: [{ role: 'user', content: 'fb2' }],
    });
    expect(again.json().model).toBe('mock-echo');
    expect(fakeA.requests(CHAT)).toHaveLength(1);
    expect(fakeB.requests(CHAT)).toHaveLength(1);
  });

  it("a connection's TPM quota (shared limiter) sends the rest to the other deployment", async () => {
    // Stay inside one UTC minute: the quota is per fixed window.
    const second = new Date().getUTCSeconds();
    if (second > 55) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const tq = await connection({
      kind: 'openai-compatible',
      name: 'tpm-a',
      baseUrl: `${fakeA.url}/v1`,
      apiKey: keyA,
      tpmLimit: 30,
    });
    await model('tpm-pair', {
      deployments: [
        { provider: 'tpm-a', upstreamModel: 'tpm-up-a' },
        { provider: 'b', upstreamModel: 'tpm-up-b' },
      ],
    });
    // Equal weights and a constant random source: `tpm-a` comes first while it has allowance.
    const tuning = { ...defaultGatewayTuning, random: () => 0.1 };
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const c = call(member.principal);
      ids.push(c.requestId);
      await chatComplete(
        deps,
        { model: 'tpm-pair', max_tokens: 10, messages: [{ role: 'user', content: `tpm ${i}` }] },
        c,
        tuning,
      );
    }
    const a = fakeA.requests(CHAT).length;
    expect(a).toBeGreaterThanOrEqual(1);
    expect(a).toBeLessThan(12);
    expect(a + fakeB.requests(CHAT).length).toBe(12);
    await deps.requestLog.flush();
    const rows = await testDb.db
      .selectFrom('request_logs')
      .select(['connection', 'input_tokens', 'output_tokens'])
      .where('request_id', 'in', ids)
      .execute();
    const onA = rows.filter((r) => r.connection === 'tpm-a');
    expect(onA).toHaveLength(a);
    // Never past the quota: each call reserved its worst case (~15 tokens, using ~4) first.
    const used = onA.reduce((n, r) => n + r.input_tokens + r.output_tokens, 0);
    expect(used).toBeLessThanOrEqual(30);
    // The books are the shared limiter's: the connection's minute window.
    await deps.limiter.flush();
    const w = await testDb.db
      .selectFrom('limit_windows')
      .select('used')
      .where('subject', '=', `connection:${tq.id}`)
      .where('metric', '=', 'tokens')
      .execute();
    expect(w.reduce((n, r) => n + Number(r.used), 0)).toBe(used);
  });

  it('the old provider + upstreamModel form still routes, now recording its connection', async () => {
    await model('legacy-b', { provider: 'b', upstreamModel: 'legacy-up' });
    const res = await api('POST', '/api/chat/completions', member, {
      model: 'legacy-b',
      messages: [{ role: 'user', content: 'old form' }],
    });
    expect(res.status).toBe(200);
    expect(fakeB.requests(CHAT)[0]?.body).toMatchObject({ model: 'legacy-up' });
    await deps.requestLog.flush();
    const got = await api('GET', `/api/requests/${res.json().requestId}`, member);
    expect(got.json()).toMatchObject({
      connection: 'b',
      provider: 'openai-compatible',
      upstreamModel: 'legacy-up',
    });
  });

  it('a deployment price override is what the call costs', async () => {
    await model('priced', {
      inputPricePerMTok: '1',
      outputPricePerMTok: '2',
      deployments: [
        {
          provider: 'a',
          upstreamModel: 'cheap',
          inputPricePerMTok: '1000000',
          outputPricePerMTok: '0',
        },
      ],
    });
    const c = call(member.principal);
    const r = await chatComplete(
      deps,
      { model: 'priced', messages: [{ role: 'user', content: 'abcd' }] },
      c,
    );
    const row = await logRow(c.requestId);
    expect(row.cost_usd).not.toBeNull();
    expect(Number(row.cost_usd)).toBe(r.usage.inputTokens); // $1M per MTok = $1 per token
  });

  it('refuses a deployment on a connection that does not exist (400 naming deployments)', async () => {
    const res = await api('PUT', '/api/models/nowhere', admin, {
      kind: 'chat',
      inputPricePerMTok: '1',
      outputPricePerMTok: '1',
      deployments: [{ provider: 'no-such-connection', upstreamModel: 'x' }],
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json())).toContain('deployments');
  });
});

describe('connection kinds', () => {
  it('azure-openai: calls the deployment path with api-key and api-version', async () => {
    await connection({
      kind: 'azure-openai',
      name: 'azure-east',
      baseUrl: fakeAz.url,
      apiKey: azureKey,
      apiVersion: AZURE_VERSION,
    });
    await model('az-4o', { deployments: [{ provider: 'azure-east', upstreamModel: 'my-gpt4o' }] });
    const openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: member.apiKey, maxRetries: 0 });
    const r = await openai.chat.completions.create({
      model: 'az-4o',
      messages: [{ role: 'user', content: 'hello azure' }],
    });
    expect(r.choices[0]?.message.content).toBe('hello azure');
    const seen = fakeAz.requests(CHAT);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.path).toBe('/openai/deployments/my-gpt4o/chat/completions');
    expect(seen[0]?.query).toEqual({ 'api-version': AZURE_VERSION });
    expect(seen[0]?.headers['api-key']).toBe(azureKey);
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('anthropic: speaks the Messages API to its base URL, with the extra headers', async () => {
    await connection({
      kind: 'anthropic',
      name: 'anth',
      baseUrl: fakeB.url,
      apiKey: keyB,
      headers: { 'x-team': 'ml' },
    });
    await model('claude-via-conn', {
      deployments: [{ provider: 'anth', upstreamModel: 'claude-x' }],
    });
    const res = await api('POST', '/api/chat/completions', member, {
      model: 'claude-via-conn',
      messages: [{ role: 'user', content: 'hello anthropic' }],
    });
    expect(res.status).toBe(200);
    expect(res.json().content).toBe('hello anthropic');
    const seen = fakeB.requests('POST /v1/messages');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body).toMatchObject({ model: 'claude-x' });
    expect(seen[0]?.headers['x-team']).toBe('ml');
  });

  it('openai-compatible without usage in its stream: usage is estimated and flagged', async () => {
    await model('compat-stream', { deployments: [{ provider: 'a', upstreamModel: 'llama' }] });
    fakeA.script(CHAT, [{ stream: ['Hel', 'lo ', 'there'], noUsage: true }]);
    const openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: member.apiKey, maxRetries: 0 });
    const stream = await openai.chat.completions.create(
      {
        model: 'compat-stream',
        messages: [{ role: 'user', content: 'say hello' }],
        stream: true,
      },
      { headers: { 'x-request-id': `req-${randomUUID()}` } },
    );
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello there');
    await deps.requestLog.flush();
    const row = await testDb.db
      .selectFrom('request_logs')
      .selectAll()
      .where('model', '=', 'compat-stream')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ connection: 'a', usage_estimated: true, status: 'ok' });
    expect(row.output_tokens).toBeGreaterThan(0);
    expect(row.input_tokens).toBeGreaterThan(0);
  });
});

describe('connection keys stay secret', () => {
  it('no route, log line or metric carries a connection key, even when the upstream refuses it', async () => {
    // A wrong key on a connection: the upstream answers 401; Tollgate's error must not echo keys.
    await connection({
      kind: 'openai-compatible',
      name: 'wrong-key',
      baseUrl: `${fakeB.url}/v1`,
      apiKey: keyA,
    });
    await model('wrong-key-model', {
      deployments: [{ provider: 'wrong-key', upstreamModel: 'x' }],
    });
    const bad = await api('POST', '/api/chat/completions', member, {
      model: 'wrong-key-model',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    await api('GET', '/api/providers', admin);
    await api('GET', '/api/models?limit=500', admin);
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.body).toContain('connection="b"');
    await deps.requestLog.flush();
    const everything = [...bodies, ...lines, metrics.body].join('\n');
    expect(bodies.length).toBeGreaterThan(10);
    expect(lines.length).toBeGreaterThan(0);
    for (const key of [keyA, keyB, azureKey]) expect(everything).not.toContain(key);
  });
});
