import { randomUUID } from 'node:crypto';
import { type Clock, seedModels, upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { type FakeUpstream, startFakeUpstream } from '@tollgate/test-kit';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';
import { parseSamples, sampleValue } from './metrics-text.ts';

let s: TestServer;
let fake: FakeUpstream;
let url: string;
let admin: TestUser;

// Windows (minutes, days) never roll over mid-test: the clock stands still.
const frozen = new Date();
const clock: Clock = { now: () => new Date(frozen) };

beforeAll(async () => {
  fake = await startFakeUpstream();
  s = await startTestServer(
    { OPENAI_API_KEY: 'sk-test-upstream', OPENAI_BASE_URL: `${fake.url}/v1` },
    { clock },
  );
  await seedModels(s.deps);
  await upsertModel(s.deps, {
    name: 'fake-priced',
    provider: 'openai',
    upstreamModel: 'gpt-x',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
  });
  await upsertModel(s.deps, {
    name: 'fake-unpriced',
    provider: 'openai',
    upstreamModel: 'gpt-free',
    kind: 'chat',
    inputPricePerMTok: null,
    outputPricePerMTok: null,
  });
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
  url = await listen(s.app);
});
afterAll(async () => {
  await closeTestServer(s);
  await fake?.close();
});
beforeEach(() => fake.reset());

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many routes, read field by field
type Json = any;
type Answer = { status: number; headers: Headers; body: Json; requestId: string };

async function post(path: string, key: string, body: unknown): Promise<Answer> {
  const requestId = `spend-${randomUUID()}`;
  const res = await fetch(`${url}${path}`, {
    method: path === '/api/budgets' ? 'PUT' : 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json(), requestId };
}

// "hello": 5 input tokens (ceil(5/4) + 3) and 2 output tokens on the mock = $0.000009 at $1/$2 per
// MTok; with max_tokens 2 the reservation is exactly that too.
const CALL_USD = 0.000009;
const chat = (key: string, path = '/v1/chat/completions', model = 'mock-echo') =>
  post(path, key, {
    model,
    max_tokens: 2,
    messages: [{ role: 'user', content: 'hello' }],
  });

async function setBudget(scope: 'key' | 'user', targetId: string, period: string, amount: string) {
  const r = await post('/api/budgets', admin.apiKey, {
    scope,
    targetId,
    period,
    amountUsd: amount,
  });
  expect(r.status).toBe(200);
  return r.body;
}

async function rows(userId: string) {
  await s.deps.requestLog.flush();
  return s.testDb.db
    .selectFrom('request_logs')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

describe('budgets', () => {
  it('refuses past a key budget with 429 budget_exceeded in each surface shape, billing nothing', async () => {
    const member = await createTestUser(s.testDb.db);
    const budget = await setBudget('key', member.apiKeyId, 'day', (5 * CALL_USD).toFixed(6));
    expect(budget).toMatchObject({ scope: 'key', period: 'day', amountUsd: '0.000045' });

    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await chat(member.apiKey));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);

    const openai = await chat(member.apiKey);
    expect(openai.status).toBe(429);
    expect(openai.body.error).toMatchObject({ type: 'rate_limit_error', code: 'budget_exceeded' });
    expect(Number(openai.headers.get('retry-after'))).toBeGreaterThan(0);

    const anthropic = await chat(member.apiKey, '/v1/messages');
    expect(anthropic.status).toBe(429);
    expect(anthropic.body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(anthropic.headers.get('retry-after'))).toBeGreaterThan(0);

    const rest = await chat(member.apiKey, '/api/chat/completions');
    expect(rest.status).toBe(429);
    expect(rest.body.error).toMatchObject({ code: 'budget_exceeded' });
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(0);

    const logged = await rows(member.id);
    const ok = logged.filter((r) => r.status === 'ok');
    const rejected = logged.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(5);
    expect(ok.reduce((a, r) => a + Number(r.cost_usd), 0)).toBeCloseTo(5 * CALL_USD, 12);
    expect(rejected.map((r) => [r.error_code, r.cost_usd, r.surface]).sort()).toEqual([
      ['budget_exceeded', '0.0000000000', 'anthropic'],
      ['budget_exceeded', '0.0000000000', 'openai'],
      ['budget_exceeded', '0.0000000000', 'rest'],
    ]);

    await s.deps.limiter.flush();
    const list = await fetch(`${url}/api/budgets`, {
      headers: { authorization: `Bearer ${member.apiKey}` },
    }).then((r) => r.json() as Promise<{ items: Json[] }>);
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({
      id: budget.id,
      spentUsd: '0.000045',
      remainingUsd: '0',
    });

    const samples = parseSamples((await s.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(sampleValue(samples, 'tollgate_rejections_total', { reason: 'budget' })).toBe(3);
  });

  it('a user budget covers every key of the user; a monthly one applies beside a daily one', async () => {
    const member = await createTestUser(s.testDb.db);
    await setBudget('user', member.id, 'month', (2 * CALL_USD).toFixed(6));
    await setBudget('user', member.id, 'day', '10');
    const second = await post('/api/keys', member.apiKey, { name: 'second' });
    expect((await chat(member.apiKey)).status).toBe(200);
    expect((await chat(second.body.key)).status).toBe(200);
    const third = await chat(second.body.key);
    expect(third.status).toBe(429);
    expect(third.body.error.message).toMatch(/monthly budget/);
  });

  it('releases the reservation of a call that failed upstream', async () => {
    const member = await createTestUser(s.testDb.db);
    // Worth one call's reservation (5 input + 2 output tokens on fake-priced), not two.
    await setBudget('user', member.id, 'day', (1.5 * CALL_USD).toFixed(7));
    fake.script('POST /v1/chat/completions', [{ status: 400 }]);
    const failed = await chat(member.apiKey, '/v1/chat/completions', 'fake-priced');
    expect(failed.status).toBe(400);
    const next = await chat(member.apiKey, '/v1/chat/completions', 'fake-priced');
    expect(next.status).toBe(200);
    expect(fake.requests('POST /v1/chat/completions')).toHaveLength(2);
    const logged = await rows(member.id);
    expect(logged.map((r) => r.status).sort()).toEqual(['error', 'ok']);
  });

  it('refuses an unpriced model under a budget (never counted as $0), allows it without one', async () => {
    const free = await createTestUser(s.testDb.db);
    expect((await chat(free.apiKey, '/v1/chat/completions', 'fake-unpriced')).status).toBe(200);
    const member = await createTestUser(s.testDb.db);
    await setBudget('user', member.id, 'day', '100');
    const refused = await chat(member.apiKey, '/v1/chat/completions', 'fake-unpriced');
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/no price/);
    expect(fake.requests('POST /v1/chat/completions')).toHaveLength(1);
    const logged = await rows(free.id);
    expect(logged[0]?.cost_usd).toBeNull();
  });

  it('budgets.set: admin only, clear 4xx for a bad amount, an unknown target, a team', async () => {
    const member = await createTestUser(s.testDb.db);
    const body = { scope: 'user', targetId: member.id, period: 'day', amountUsd: '1' };
    expect((await post('/api/budgets', member.apiKey, body)).status).toBe(403);
    const bad = await post('/api/budgets', admin.apiKey, { ...body, amountUsd: '-1' });
    expect(bad.status).toBe(400);
    const unknown = await post('/api/budgets', admin.apiKey, { ...body, targetId: randomUUID() });
    expect(unknown.status).toBe(404);
    const team = await post('/api/budgets', admin.apiKey, { ...body, scope: 'team' });
    expect(team.status).toBe(400);
    expect(team.body.error.message).toMatch(/team/);
    const n = await s.testDb.db
      .selectFrom('budgets')
      .select(sql<string>`count(*)`.as('n'))
      .where('target_id', '=', member.id)
      .executeTakeFirstOrThrow();
    expect(n.n).toBe('0');
  });
});

describe('rate limits per key', () => {
  it('RPM: x-ratelimit-* headers on /v1, then 429 rate_limit_exceeded with retry-after', async () => {
    const member = await createTestUser(s.testDb.db);
    const limited = await post('/api/keys', member.apiKey, { name: 'rpm', rpmLimit: 3 });
    const key = limited.body.key as string;
    const ok: Answer[] = [];
    for (let i = 0; i < 3; i++) ok.push(await chat(key));
    expect(ok.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(ok.map((a) => a.headers.get('x-ratelimit-limit-requests'))).toEqual(['3', '3', '3']);
    expect(ok.map((a) => a.headers.get('x-ratelimit-remaining-requests'))).toEqual(['2', '1', '0']);
    expect(ok[0]?.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s|m\d+s)$/);
    const refused = await chat(key);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limit_exceeded' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const logged = await rows(member.id);
    expect(logged.filter((r) => r.status === 'rejected').map((r) => r.error_code)).toEqual([
      'rate_limit_exceeded',
    ]);
    const samples = parseSamples((await s.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(sampleValue(samples, 'tollgate_rejections_total', { reason: 'rate_limit' })).toBe(1);
  });

  it('TPM: a call whose worst case exceeds what is left is refused', async () => {
    const member = await createTestUser(s.testDb.db);
    // Each call reserves 5 input + 2 output tokens: two fit in 15, the third does not.
    const limited = await post('/api/keys', member.apiKey, { name: 'tpm', tpmLimit: 15 });
    const key = limited.body.key as string;
    const a = await chat(key);
    expect(a.status).toBe(200);
    expect(a.headers.get('x-ratelimit-limit-tokens')).toBe('15');
    expect((await chat(key)).status).toBe(200);
    const refused = await chat(key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limit_exceeded');
  });
});
