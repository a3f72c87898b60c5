import { randomUUID } from 'node:crypto';
import { type Clock, seedModels, upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { type FakeUpstream, startFakeUpstream } from '@tollgate/test-kit';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';
import { parseSamples, sampleValue } from './metrics-text.ts';

let s: TestServer;
let fake: FakeUpstream;
let url: string;
let member: TestUser;

let nowMs = Date.now();
const clock: Clock = { now: () => new Date(nowMs) };
const CHAT = 'POST /v1/chat/completions';

beforeAll(async () => {
  fake = await startFakeUpstream();
  s = await startTestServer(
    {
      OPENAI_API_KEY: 'sk-test-upstream',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      CACHE_TTL_SECONDS: '60',
    },
    { clock },
  );
  await seedModels(s.deps);
  await upsertModel(s.deps, {
    name: 'fake-cached',
    provider: 'openai',
    upstreamModel: 'gpt-c',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
  });
  member = await createTestUser(s.testDb.db);
  url = await listen(s.app);
});
afterAll(async () => {
  await closeTestServer(s);
  await fake?.close();
});
beforeEach(() => fake.reset());

async function chat(
  key: string,
  content: string,
  opts: { cache?: 'on' | 'off'; stream?: boolean; path?: string } = {},
) {
  const requestId = `cache-${randomUUID()}`;
  const res = await fetch(`${url}${opts.path ?? '/v1/chat/completions'}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
      ...(opts.cache ? { 'x-tollgate-cache': opts.cache } : {}),
    },
    body: JSON.stringify({
      model: 'fake-cached',
      temperature: 0,
      messages: [{ role: 'user', content }],
      ...(opts.stream ? { stream: true } : {}),
    }),
  });
  const text = await res.text();
  return { status: res.status, cache: res.headers.get('x-tollgate-cache'), text, requestId };
}

async function row(requestId: string) {
  await s.deps.requestLog.flush();
  return s.testDb.db
    .selectFrom('request_logs')
    .selectAll()
    .where('request_id', '=', requestId)
    .executeTakeFirstOrThrow();
}

/** Concatenated delta contents of an OpenAI SSE body. */
function sseContent(text: string): string {
  let out = '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] };
    out += chunk.choices[0]?.delta?.content ?? '';
  }
  return out;
}

describe('exact-match cache', () => {
  it('miss then hit: same answer, x-tollgate-cache, cacheHit at cost 0, counted, one upstream call', async () => {
    const content = `question ${randomUUID()}`;
    fake.script(CHAT, [{ stream: ['the ', 'answer'] }]);
    const first = await chat(member.apiKey, content, { cache: 'on' });
    const second = await chat(member.apiKey, content, { cache: 'on' });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.cache, second.cache]).toEqual(['miss', 'hit']);
    const a = JSON.parse(first.text);
    const b = JSON.parse(second.text);
    expect(b.choices[0].message.content).toBe('the answer');
    expect(b.choices[0]).toEqual(a.choices[0]);
    expect(b.usage).toEqual(a.usage);
    expect(fake.requests(CHAT)).toHaveLength(1);
    const hitRow = await row(second.requestId);
    expect(hitRow).toMatchObject({ cache_hit: true, status: 'ok', cost_usd: '0.0000000000' });
    expect((await row(first.requestId)).cache_hit).toBe(false);
    const samples = parseSamples((await s.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(
      sampleValue(samples, 'tollgate_cache_hits_total', { model: 'fake-cached' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('without opting in nothing is cached; entries expire after CACHE_TTL_SECONDS', async () => {
    const content = `ttl ${randomUUID()}`;
    expect((await chat(member.apiKey, content)).cache).toBe('miss');
    expect((await chat(member.apiKey, content)).cache).toBe('miss');
    expect(fake.requests(CHAT)).toHaveLength(2);
    expect((await chat(member.apiKey, content, { cache: 'on' })).cache).toBe('miss');
    expect((await chat(member.apiKey, content, { cache: 'on' })).cache).toBe('hit');
    await s.deps.responseCache.flush();
    nowMs += 61_000;
    try {
      expect((await chat(member.apiKey, content, { cache: 'on' })).cache).toBe('miss');
    } finally {
      nowMs -= 61_000;
    }
    expect(fake.requests(CHAT)).toHaveLength(4);
  });

  it('a stream replays a cached answer as SSE, and a stream fills the cache', async () => {
    const content = `stream ${randomUUID()}`;
    fake.script(CHAT, [{ stream: ['one ', 'two'] }]);
    const filled = await chat(member.apiKey, content, { cache: 'on', stream: true });
    expect(filled.cache).toBe('miss');
    expect(sseContent(filled.text)).toBe('one two');
    const replayed = await chat(member.apiKey, content, { cache: 'on', stream: true });
    expect(replayed.cache).toBe('hit');
    expect(sseContent(replayed.text)).toBe('one two');
    expect(replayed.text.trim().endsWith('data: [DONE]')).toBe(true);
    const plain = await chat(member.apiKey, content, { cache: 'on' });
    expect(JSON.parse(plain.text).choices[0].message.content).toBe('one two');
    expect(fake.requests(CHAT)).toHaveLength(1);

    // Through the official SDK too: a cached stream reads like any other.
    const sdk = new OpenAI({
      apiKey: member.apiKey,
      baseURL: `${url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-tollgate-cache': 'on' },
    });
    const stream = await sdk.chat.completions.create({
      model: 'fake-cached',
      temperature: 0,
      messages: [{ role: 'user', content }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('one two');
    expect(fake.requests(CHAT)).toHaveLength(1);
  });

  it('is never shared between users', async () => {
    const other = await createTestUser(s.testDb.db);
    const content = `owner ${randomUUID()}`;
    await chat(member.apiKey, content, { cache: 'on' });
    expect((await chat(member.apiKey, content, { cache: 'on' })).cache).toBe('hit');
    expect((await chat(other.apiKey, content, { cache: 'on' })).cache).toBe('miss');
    expect(fake.requests(CHAT)).toHaveLength(2);
  });

  it('a key with cache: true caches by default; x-tollgate-cache: off bypasses it', async () => {
    const created = await fetch(`${url}/api/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cached', cache: true }),
    }).then((r) => r.json() as Promise<{ key: string }>);
    const content = `default ${randomUUID()}`;
    expect((await chat(created.key, content)).cache).toBe('miss');
    expect((await chat(created.key, content)).cache).toBe('hit');
    const bypass = await chat(created.key, content, { cache: 'off' });
    expect(bypass.cache).toBe('miss');
    expect(fake.requests(CHAT)).toHaveLength(2);
    expect((await row(bypass.requestId)).cache_hit).toBe(false);
  });

  it('chat.complete takes the opt-in as an input field too (cache: "on")', async () => {
    const content = `input flag ${randomUUID()}`;
    const send = () =>
      fetch(`${url}/api/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fake-cached',
          cache: 'on',
          messages: [{ role: 'user', content }],
        }),
      }).then(async (r) => ({
        header: r.headers.get('x-tollgate-cache'),
        body: (await r.json()) as { cacheHit: boolean },
      }));
    const first = await send();
    const second = await send();
    expect([first.header, second.header]).toEqual(['miss', 'hit']);
    expect([first.body.cacheHit, second.body.cacheHit]).toEqual([false, true]);
    expect(fake.requests(CHAT)).toHaveLength(1);
    // The flag is Tollgate's, never sent upstream.
    expect(fake.requests(CHAT)[0]?.body).not.toHaveProperty('cache');
  });

  it('REST: chat.complete reports cacheHit and sends the header', async () => {
    const content = `rest ${randomUUID()}`;
    await chat(member.apiKey, content, { cache: 'on', path: '/api/chat/completions' });
    const hit = await chat(member.apiKey, content, { cache: 'on', path: '/api/chat/completions' });
    expect(hit.cache).toBe('hit');
    expect(JSON.parse(hit.text)).toMatchObject({ cacheHit: true });
    expect(fake.requests(CHAT)).toHaveLength(1);
  });
});
