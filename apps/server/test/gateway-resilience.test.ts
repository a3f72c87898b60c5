import { randomUUID } from 'node:crypto';
import { createTollgateClient, type TollgateClient } from '@tollgate/client';
import { seedModels, upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { type FakeUpstream, startFakeUpstream } from '@tollgate/test-kit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let fake: FakeUpstream;
let member: TestUser;
let client: TollgateClient;
let baseUrl: string;

const CHAT = 'POST /v1/chat/completions';

beforeAll(async () => {
  fake = await startFakeUpstream();
  s = await startTestServer({
    OPENAI_API_KEY: 'sk-test-upstream',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    UPSTREAM_TIMEOUT_MS: '1500',
    UPSTREAM_TTFT_TIMEOUT_MS: '1500',
    STREAM_IDLE_TIMEOUT_MS: '1500',
  });
  await seedModels(s.deps);
  const base = {
    provider: 'openai',
    kind: 'chat',
    inputPricePerMTok: '0.15',
    outputPricePerMTok: '0.6',
  } as const;
  await upsertModel(s.deps, { ...base, name: 'fake-b', upstreamModel: 'gpt-b' });
  await upsertModel(s.deps, {
    ...base,
    name: 'fake-a',
    upstreamModel: 'gpt-a',
    fallbacks: ['fake-b'],
  });
  await upsertModel(s.deps, { ...base, name: 'fake-solo', upstreamModel: 'gpt-solo' });
  member = await createTestUser(s.testDb.db);
  baseUrl = await listen(s.app);
  client = createTollgateClient({ url: baseUrl, apiKey: member.apiKey });
});
afterAll(async () => {
  await closeTestServer(s);
  await fake?.close();
});
beforeEach(() => fake.reset());

/** Over a real socket, as a third-party REST caller does (the request's abort signal is real). */
async function chat(model: string, content = 'hello upstream') {
  const res = await fetch(`${baseUrl}/api/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  const text = await res.text();
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers),
    body: text,
    json: () => JSON.parse(text),
  };
}

async function row(requestId: string) {
  await s.deps.requestLog.flush();
  return s.testDb.db
    .selectFrom('request_logs')
    .selectAll()
    .where('request_id', '=', requestId)
    .executeTakeFirst();
}

type Ev = { type: string; [k: string]: unknown };

/** Runs chat.stream to its end; `stopAfter` unsubscribes (client abort) after that many deltas. */
function runStream(
  input: { model: string; content: string },
  stopAfter?: number,
): Promise<{ events: Ev[]; error: unknown; requestId: string }> {
  const requestId = randomUUID();
  return new Promise((resolve) => {
    const events: Ev[] = [];
    let deltas = 0;
    const sub = client.chat.stream.subscribe(
      {
        requestId,
        model: input.model,
        messages: [{ role: 'user', content: input.content }],
      },
      {
        onData: (ev) => {
          events.push(ev as Ev);
          if (ev.type === 'delta' && ++deltas === stopAfter) {
            sub.unsubscribe();
            resolve({ events, error: null, requestId });
          }
        },
        onError: (error) => {
          sub.unsubscribe();
          resolve({ events, error, requestId });
        },
        onComplete: () => resolve({ events, error: null, requestId }),
      },
    );
  });
}

async function until<T>(f: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('retries and fallbacks', () => {
  it('retries a 429 and succeeds', async () => {
    fake.script(CHAT, [{ status: 429, headers: { 'retry-after': '0' } }]);
    const res = await chat('fake-a');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ model: 'fake-a', content: 'hello upstream' });
    expect(fake.requests(CHAT)).toHaveLength(2);
    expect(await row(res.json().requestId)).toMatchObject({ status: 'ok', model: 'fake-a' });
  });

  it('falls back to the next model when one keeps failing with 500', async () => {
    fake.script(CHAT, [{ status: 500 }, { status: 500 }, { status: 500 }]);
    const res = await chat('fake-a');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ model: 'fake-b', provider: 'openai' });
    const models = fake.requests(CHAT).map((r) => (r.body as { model: string }).model);
    expect(models).toEqual(['gpt-a', 'gpt-a', 'gpt-a', 'gpt-b']);
    expect(await row(res.json().requestId)).toMatchObject({
      status: 'ok',
      model: 'fake-b',
      upstream_model: 'gpt-b',
    });
  });

  it('answers 502 upstream_error when the whole chain fails, and records the failure', async () => {
    fake.script(
      CHAT,
      Array.from({ length: 6 }, () => ({ status: 503 })),
    );
    const res = await chat('fake-a');
    expect(res.statusCode).toBe(502);
    expect(res.json().error.code).toBe('upstream_error');
    const r = await row(res.headers['x-request-id'] as string);
    expect(r).toMatchObject({ status: 'error', error_code: 'upstream_error', model: 'fake-b' });
    // Nothing leaked from upstream bodies or our provider key.
    expect(res.body).not.toContain('sk-test-upstream');
  });

  it('answers 429 upstream_rate_limited when the upstream keeps rate limiting', async () => {
    fake.script(
      CHAT,
      Array.from({ length: 3 }, () => ({ status: 429 })),
    );
    const res = await chat('fake-solo');
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe('upstream_rate_limited');
  });

  it('does not retry an upstream 400', async () => {
    fake.script(CHAT, [{ status: 400 }]);
    const res = await chat('fake-a');
    expect(res.statusCode).toBe(400);
    expect(fake.requests(CHAT)).toHaveLength(1);
  });

  it('answers 504 upstream_timeout when the upstream hangs', async () => {
    fake.script(CHAT, [{ hang: true }]);
    const res = await chat('fake-solo');
    expect(res.statusCode).toBe(504);
    expect(res.json().error.code).toBe('upstream_timeout');
    expect(await row(res.headers['x-request-id'] as string)).toMatchObject({
      status: 'error',
      error_code: 'upstream_timeout',
    });
  });
});

describe('chat.stream', () => {
  it('streams through the typed client and records provider usage', async () => {
    const { events, error, requestId } = await runStream({
      model: 'mock-echo',
      content: 'one two three',
    });
    expect(error).toBeNull();
    expect(events[0]).toMatchObject({ type: 'start', model: 'mock-echo', provider: 'mock' });
    const text = events
      .filter((e) => e.type === 'delta')
      .map((e) => e.content ?? '')
      .join('');
    expect(text).toBe('one two three');
    expect(events.some((e) => e.type === 'finish')).toBe(true);
    expect(events[0]).toMatchObject({ requestId });
    const r = await row(requestId);
    expect(r).toMatchObject({ status: 'ok', usage_estimated: false, output_tokens: 4 });
    expect(r?.ttft_ms).not.toBeNull();
  });

  it('refuses a second call with the same requestId (a reconnect never bills twice)', async () => {
    const requestId = randomUUID();
    const input = {
      requestId,
      model: 'mock-echo',
      messages: [{ role: 'user' as const, content: 'once' }],
    };
    const first = await new Promise<unknown>((resolve) => {
      const sub = client.chat.stream.subscribe(input, {
        onComplete: () => resolve(null),
        onError: (e) => {
          sub.unsubscribe();
          resolve(e);
        },
      });
    });
    expect(first).toBeNull();
    const second = await new Promise<unknown>((resolve) => {
      const sub = client.chat.stream.subscribe(input, {
        onData: () => resolve('data'),
        onComplete: () => resolve('complete'),
        onError: (e) => {
          sub.unsubscribe();
          resolve(e);
        },
      });
    });
    expect(second).toMatchObject({ data: { code: 'CONFLICT' } });
    await s.deps.requestLog.flush();
    const rows = await s.testDb.db
      .selectFrom('request_logs')
      .select('id')
      .where('request_id', '=', requestId)
      .execute();
    expect(rows).toHaveLength(1);
  });

  it('ends a stream cut mid-way with an error event and records partial usage', async () => {
    fake.script(CHAT, [{ stream: ['alpha ', 'beta ', 'gamma ', 'delta '], dropAfter: 2 }]);
    const { events, error, requestId } = await runStream({ model: 'fake-solo', content: 'x' });
    expect(error).toBeNull();
    const last = events.at(-1);
    expect(last).toMatchObject({ type: 'error', code: 'upstream_error' });
    expect(events.some((e) => e.type === 'finish')).toBe(false);
    const text = events
      .filter((e) => e.type === 'delta')
      .map((e) => e.content ?? '')
      .join('');
    expect(text).toBe('alpha beta ');
    const r = await row(requestId);
    expect(r).toMatchObject({
      status: 'error',
      error_code: 'upstream_error',
      usage_estimated: true,
    });
    expect(r?.output_tokens).toBe(Math.ceil('alpha beta '.length / 4));
    expect(r?.cost_usd).not.toBeNull();
  });

  it('fails over before the first byte: a 500 then the fallback streams', async () => {
    fake.script(CHAT, [{ status: 500 }, { status: 500 }, { status: 500 }]);
    const { events, error } = await runStream({ model: 'fake-a', content: 'fallback works' });
    expect(error).toBeNull();
    expect(events[0]).toMatchObject({ type: 'start', model: 'fake-b' });
    expect(events.at(-1)?.type).not.toBe('error');
  });

  it('tells an upstream failure before the first byte in-band, once, without a reconnect', async () => {
    fake.script(CHAT, [{ status: 500 }, { status: 500 }, { status: 500 }]);
    const { events, error, requestId } = await runStream({ model: 'fake-solo', content: 'x' });
    expect(error).toBeNull();
    expect(events).toEqual([
      { type: 'error', code: 'upstream_error', message: expect.any(String) },
    ]);
    expect(fake.requests(CHAT)).toHaveLength(3);
    expect(await row(requestId)).toMatchObject({ status: 'error', error_code: 'upstream_error' });
  });

  it('a client abort mid-stream stops the upstream and records the row as aborted', async () => {
    fake.script(CHAT, [{ stream: ['a ', 'b ', 'c ', 'd ', 'e ', 'f '], chunkDelayMs: 100 }]);
    const { events, requestId } = await runStream({ model: 'fake-solo', content: 'x' }, 2);
    expect(events[0]).toMatchObject({ type: 'start', requestId });
    const r = await until(() => row(requestId), 'the aborted row');
    expect(r).toMatchObject({ status: 'aborted', error_code: null });
    expect(r.output_tokens).toBeGreaterThan(0);
    await until(
      async () => (fake.requests(CHAT)[0]?.aborted ? true : undefined),
      'the upstream socket to close',
    );
  });

  it('refuses an unknown model before streaming (NOT_FOUND, no row)', async () => {
    const { events, error } = await runStream({ model: 'nope-model', content: 'x' });
    expect(events).toEqual([]);
    expect(error).toMatchObject({ data: { code: 'NOT_FOUND', reason: 'model_not_found' } });
  });
});
