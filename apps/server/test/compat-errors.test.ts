import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { createTestUser } from '@tollgate/core/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CompatEnv, sdkClients, startCompatEnv } from './compat-fixtures.ts';

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
beforeEach(() => env.fake.reset());
afterAll(() => env.close());

/** Request ids of calls that must leave no request-log row. */
const invalidIds: string[] = [];

async function post(
  path: string,
  body: string,
  headers: Record<string, string> = { authorization: `Bearer ${env.user.apiKey}` },
) {
  const requestId = `invalid-${randomUUID()}`;
  invalidIds.push(requestId);
  const res = await fetch(`${env.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as unknown, headers: res.headers };
}

const chatBody = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }], ...over });
const messagesBody = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: 'mock-echo',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
    ...over,
  });

const openaiShape = (type: string, code: string, param: string | null = null) => ({
  error: { message: expect.any(String), type, param, code },
});
const anthropicShape = (type: string) => ({
  type: 'error',
  error: { type, message: expect.any(String) },
});

describe('/v1 error shapes', () => {
  it('unknown model: 404 in each surface shape, also through the SDKs', async () => {
    expect(await post('/v1/chat/completions', chatBody({ model: 'no-such-model' }))).toMatchObject({
      status: 404,
      body: openaiShape('not_found_error', 'model_not_found', 'model'),
    });
    expect(await post('/v1/messages', messagesBody({ model: 'no-such-model' }))).toMatchObject({
      status: 404,
      body: anthropicShape('not_found_error'),
    });

    const oErr = await env.openai.chat.completions
      .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(oErr).toBeInstanceOf(OpenAI.NotFoundError);
    expect(oErr).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });

    const aErr = await env.anthropic.messages
      .create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(aErr).toBeInstanceOf(Anthropic.NotFoundError);
    expect((aErr as InstanceType<typeof Anthropic.APIError>).error).toMatchObject(
      anthropicShape('not_found_error'),
    );
  });

  it('bad or missing key: 401 on both surfaces, Bearer and x-api-key alike', async () => {
    const bad = { authorization: 'Bearer tg_not_a_real_key' };
    expect(await post('/v1/chat/completions', chatBody(), bad)).toMatchObject({
      status: 401,
      body: openaiShape('authentication_error', 'key_invalid'),
    });
    expect(
      await post('/v1/messages', messagesBody(), { 'x-api-key': 'tg_not_a_real_key' }),
    ).toMatchObject({ status: 401, body: anthropicShape('authentication_error') });
    expect(
      await post('/v1/chat/completions', chatBody(), { 'x-api-key': 'garbage' }),
    ).toMatchObject({
      status: 401,
      body: openaiShape('authentication_error', 'key_invalid'),
    });
    expect(await post('/v1/messages', messagesBody(), {})).toMatchObject({
      status: 401,
      body: anthropicShape('authentication_error'),
    });
    const models = await fetch(`${env.url}/v1/models`);
    expect(models.status).toBe(401);
    expect(await models.json()).toMatchObject(
      openaiShape('authentication_error', 'unauthenticated'),
    );

    const { openai, anthropic } = sdkClients(env.url, 'tg_wrong');
    await expect(openai.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(
      anthropic.messages.create({
        model: 'mock-echo',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it("a key without the 'gateway' scope: 403", async () => {
    const reader = await createTestUser(env.s.testDb.db, { scopes: ['read'] });
    const auth = { authorization: `Bearer ${reader.apiKey}` };
    expect(await post('/v1/chat/completions', chatBody(), auth)).toMatchObject({
      status: 403,
      body: openaiShape('permission_error', 'forbidden'),
    });
    expect(
      await post('/v1/messages', messagesBody(), { 'x-api-key': reader.apiKey }),
    ).toMatchObject({
      status: 403,
      body: anthropicShape('permission_error'),
    });
  });

  it('malformed JSON and invalid bodies: 400 naming the field', async () => {
    expect(await post('/v1/chat/completions', '{"model": "mock-echo", ')).toMatchObject({
      status: 400,
      body: openaiShape('invalid_request_error', 'bad_request'),
    });
    expect(await post('/v1/messages', '{not json')).toMatchObject({
      status: 400,
      body: anthropicShape('invalid_request_error'),
    });
    expect(
      await post('/v1/chat/completions', JSON.stringify({ model: 'mock-echo' })),
    ).toMatchObject({
      status: 400,
      body: openaiShape('invalid_request_error', 'bad_request', 'messages'),
    });
    expect(await post('/v1/chat/completions', chatBody({ n: 2 }))).toMatchObject({
      status: 400,
      body: openaiShape('invalid_request_error', 'bad_request', 'n'),
    });
    expect(await post('/v1/chat/completions', chatBody({ temperature: 7 }))).toMatchObject({
      status: 400,
      body: openaiShape('invalid_request_error', 'bad_request', 'temperature'),
    });
    const noMax = await post(
      '/v1/messages',
      JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(noMax).toMatchObject({ status: 400, body: anthropicShape('invalid_request_error') });
    expect((noMax.body as { error: { message: string } }).error.message).toContain('max_tokens');
    expect(await post('/v1/embeddings', JSON.stringify({ model: 'mock-embed' }))).toMatchObject({
      status: 400,
      body: openaiShape('invalid_request_error', 'bad_request', 'input'),
    });
    // a chat model is not an embedding model
    expect(
      await post('/v1/embeddings', JSON.stringify({ model: 'mock-echo', input: 'x' })),
    ).toMatchObject({
      status: 400,
      body: openaiShape('invalid_request_error', 'bad_request', 'model'),
    });
  });

  it('bodies over 20 MiB: 413 in each surface shape', async () => {
    const big = 'x'.repeat(21 * 1024 * 1024);
    const payload = chatBody({ messages: [{ role: 'user', content: big }] });
    const o = await env.s.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${env.user.apiKey}`, 'content-type': 'application/json' },
      payload,
    });
    expect(o.statusCode).toBe(413);
    expect(o.json()).toMatchObject(openaiShape('invalid_request_error', 'payload_too_large'));
    const a = await env.s.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { 'x-api-key': env.user.apiKey, 'content-type': 'application/json' },
      payload,
    });
    expect(a.statusCode).toBe(413);
    expect(a.json()).toMatchObject(anthropicShape('request_too_large'));
    // a body just under the limit is accepted
    const ok = await env.s.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${env.user.apiKey}`, 'content-type': 'application/json' },
      payload: chatBody({ messages: [{ role: 'user', content: 'y'.repeat(2 * 1024 * 1024) }] }),
    });
    expect(ok.statusCode).toBe(200);
  });

  it('upstream 429 after retries: 429 with retry-after in each surface shape', async () => {
    const limited = { status: 429, headers: { 'retry-after': '0' } };
    env.fake.script('POST /v1/chat/completions', [limited, limited, limited]);
    const o = await fetch(`${env.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.user.apiKey}` },
      body: chatBody({ model: 'oa-mini' }),
    });
    expect(o.status).toBe(429);
    expect(o.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await o.json()).toMatchObject(openaiShape('rate_limit_error', 'upstream_rate_limited'));

    env.fake.script('POST /v1/messages', [limited, limited, limited]);
    const a = await fetch(`${env.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': env.user.apiKey },
      body: messagesBody({ model: 'an-sonnet' }),
    });
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await a.json()).toMatchObject(anthropicShape('rate_limit_error'));
  });

  it('unknown /v1 routes: 404 in OpenAI shape', async () => {
    const res = await fetch(`${env.url}/v1/completions-nope`, {
      headers: { authorization: `Bearer ${env.user.apiKey}` },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject(openaiShape('not_found_error', 'not_found'));
  });

  it('writes no request-log row for any invalid request above', async () => {
    await env.s.deps.requestLog.flush();
    const rows = await env.s.testDb.db
      .selectFrom('request_logs')
      .select('request_id')
      .where('request_id', 'in', invalidIds)
      .execute();
    expect(invalidIds.length).toBeGreaterThan(10);
    expect(rows).toEqual([]);
  });
});

describe('/v1 streams that fail', () => {
  it('an upstream drop mid-stream reaches the OpenAI SDK as an error, not a clean finish', async () => {
    env.fake.script('POST /v1/chat/completions', [{ stream: ['a', 'b', 'c', 'd'], dropAfter: 2 }]);
    const stream = await env.openai.chat.completions.create({
      model: 'oa-mini',
      messages: [{ role: 'user', content: 'go' }],
      stream: true,
    });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ code: 'upstream_error' });
    expect(text).toBe('ab');
  });

  it('an upstream drop mid-stream reaches the Anthropic SDK as an error event', async () => {
    env.fake.script('POST /v1/messages', [{ stream: ['a', 'b', 'c', 'd'], dropAfter: 2 }]);
    const stream = env.anthropic.messages.stream({
      model: 'an-sonnet',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'go' }],
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    // the stream had started: this is the in-band error event, not an HTTP error status
    expect(text).toBe('ab');
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject(
      anthropicShape('api_error'),
    );
  });

  it('a client abort mid-stream closes the upstream connection', async () => {
    env.fake.script('POST /v1/chat/completions', [
      { stream: Array.from({ length: 40 }, (_, i) => `w${i} `), chunkDelayMs: 50 },
    ]);
    const ac = new AbortController();
    const stream = await env.openai.chat.completions.create(
      { model: 'oa-mini', messages: [{ role: 'user', content: 'go' }], stream: true },
      { signal: ac.signal },
    );
    let seen = 0;
    await (async () => {
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) seen++;
        if (seen === 2) ac.abort();
      }
    })().catch(() => undefined);
    expect(seen).toBe(2);
    await vi.waitFor(() => expect(env.fake.closedConnections).toBe(1), { timeout: 5000 });
    expect(env.fake.requests('POST /v1/chat/completions')[0]?.aborted).toBe(true);
    // recorded as aborted, billed for what was produced
    await vi.waitFor(async () => {
      await env.s.deps.requestLog.flush();
      const row = await env.s.testDb.db
        .selectFrom('request_logs')
        .selectAll()
        .where('model', '=', 'oa-mini')
        .where('status', '=', 'aborted')
        .executeTakeFirst();
      expect(row?.output_tokens).toBeGreaterThan(0);
    });
  });
});
