import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { upsertModel } from '@tollgate/core';
import { countInputTokens } from '@tollgate/providers';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
  // Prompt-caching prices of their own, to see cache reads and writes priced apart.
  await upsertModel(env.s.deps, {
    name: 'an-cached',
    provider: 'anthropic',
    upstreamModel: 'claude-sonnet-4-6',
    kind: 'chat',
    inputPricePerMTok: '3',
    outputPricePerMTok: '15',
    cachedInputPricePerMTok: '0.3',
    cacheWritePricePerMTok: '3.75',
  });
});
afterAll(() => env.close());
beforeEach(() => env.fake.reset());

type Json = Record<string, unknown>;

describe('POST /v1/messages/count_tokens (anthropic.messages.countTokens)', () => {
  it("returns the upstream's count for an Anthropic model", async () => {
    const tools = [
      {
        name: 'get_weather',
        description: 'weather',
        input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
      },
    ];
    const r = await env.anthropic.messages.countTokens({
      model: 'an-sonnet',
      system: 'be brief',
      messages: [{ role: 'user', content: 'how many tokens is this?' }],
      tools,
    });
    const upstream = env.fake.requests('POST /v1/messages/count_tokens');
    expect(upstream).toHaveLength(1);
    expect(upstream[0]?.body).toMatchObject({
      model: 'claude-sonnet-4-6',
      system: 'be brief',
      tools,
    });
    // The fake counts ceil(chars / 4) over prompt and tools, as it bills.
    const chars = 'how many tokens is this?be brief'.length + JSON.stringify(tools).length;
    expect(r.input_tokens).toBe(Math.ceil(chars / 4));
  });

  it('counts locally for a model whose provider has no count (documented estimate)', async () => {
    const messages = [{ role: 'user' as const, content: 'hello there, mock' }];
    const r = await env.anthropic.messages.countTokens({ model: 'mock-echo', messages });
    expect(r.input_tokens).toBe(countInputTokens(messages));
    expect(r.input_tokens).toBe(Math.ceil('hello there, mock'.length / 4) + 3);
    expect(env.fake.requests('POST /v1/messages/count_tokens')).toHaveLength(0);
  });

  it('refuses a bad body in Anthropic shape and an unknown model as not_found_error', async () => {
    await expect(
      env.anthropic.messages.countTokens({ model: 'an-sonnet', messages: [] }),
    ).rejects.toMatchObject({ status: 400, errorCode: 'bad_request' });
    await expect(
      env.anthropic.messages.countTokens({
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({
      status: 404,
      errorCode: 'model_not_found',
      error: { error: { type: 'not_found_error' } },
    });
  });
});

describe('extended thinking through /v1/messages to an Anthropic model', () => {
  it('streams thinking with its signature, which comes back unchanged on the next turn', async () => {
    const stream = env.anthropic.messages.stream({
      model: 'an-sonnet',
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'think about tea' }],
    });
    const deltaTypes: string[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') deltaTypes.push(e.delta.type);
    });
    const first = await stream.finalMessage();
    expect(deltaTypes).toContain('thinking_delta');
    expect(deltaTypes).toContain('signature_delta');
    expect(first.model).toBe('an-sonnet');
    const thinking = first.content.find((b) => b.type === 'thinking');
    expect(thinking).toMatchObject({ thinking: 'Thinking about: think about tea' });
    const signature = (thinking as { signature: string }).signature;
    expect(signature.length).toBeGreaterThan(10);
    expect(env.fake.requests('POST /v1/messages')[0]?.body).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });

    // Next turn: the assistant's blocks go back as received; the upstream checks the signature.
    const second = await env.anthropic.messages.create({
      model: 'an-sonnet',
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [
        { role: 'user', content: 'think about tea' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: 'and coffee?' },
      ],
    });
    expect(second.content[0]).toMatchObject({ type: 'thinking' });
    const sent = env.fake.requests('POST /v1/messages')[1]?.body as { messages: Json[] };
    const sentBlocks = sent.messages[1]?.content as Json[];
    expect(sentBlocks.find((b) => b.type === 'thinking')).toEqual({
      type: 'thinking',
      thinking: 'Thinking about: think about tea',
      signature,
    });
  });

  it('keeps redacted_thinking blocks as sent', async () => {
    const redacted = { type: 'redacted_thinking' as const, data: 'EmwKAhgBEgy3va3pzix/opaque' };
    await env.anthropic.messages.create({
      model: 'an-sonnet',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [redacted, { type: 'text', text: 'a' }] },
        { role: 'user', content: 'q2' },
      ],
    });
    const sent = env.fake.requests('POST /v1/messages')[0]?.body as { messages: Json[] };
    expect((sent.messages[1]?.content as Json[] | undefined)?.[0]).toEqual(redacted);
  });
});

describe('headers, prompt caching and errors on /v1/messages', () => {
  it('forwards anthropic-beta and anthropic-version', async () => {
    await env.anthropic.messages.create(
      { model: 'an-sonnet', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
      {
        headers: {
          'anthropic-beta': 'context-1m-2025-08-07,interleaved-thinking-2025-05-14',
          // An older version than Tollgate's own SDK speaks: the caller's choice wins.
          'anthropic-version': '2023-06-01',
        },
      },
    );
    const h = env.fake.requests('POST /v1/messages')[0]?.headers;
    expect(h?.['anthropic-beta']).toBe('context-1m-2025-08-07,interleaved-thinking-2025-05-14');
    expect(h?.['anthropic-version']).toBe('2023-06-01');
  });

  it('passes cache_control through and prices cache writes and reads apart', async () => {
    env.fake.script('POST /v1/messages', [
      {
        stream: ['cached answer'],
        usage: {
          input_tokens: 20,
          cache_creation_input_tokens: 1000,
          cache_read_input_tokens: 4000,
        },
      },
    ]);
    const requestId = `req-${randomUUID()}`;
    const system = [
      {
        type: 'text' as const,
        text: 'a long system prompt',
        cache_control: { type: 'ephemeral' as const },
      },
    ];
    const msg = await env.anthropic.messages.create(
      { model: 'an-cached', max_tokens: 50, system, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-request-id': requestId } },
    );
    expect(msg.usage).toMatchObject({
      input_tokens: 20,
      cache_creation_input_tokens: 1000,
      cache_read_input_tokens: 4000,
    });
    expect(env.fake.requests('POST /v1/messages')[0]?.body).toMatchObject({ system });

    await env.s.deps.requestLog.flush();
    const { rows } = await sql<{
      input_tokens: number;
      cached_input_tokens: number;
      cache_write_tokens: number;
      output_tokens: number;
      cost_usd: string;
    }>`select input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
              cost_usd::text from request_logs where request_id = ${requestId}`.execute(
      env.s.testDb.db,
    );
    const row = rows[0];
    expect(row).toMatchObject({
      input_tokens: 5020,
      cached_input_tokens: 4000,
      cache_write_tokens: 1000,
    });
    // 20 × $3 + 4000 × $0.30 + 1000 × $3.75 + output × $15, per million.
    const micro = 20 * 3 + 4000 * 0.3 + 1000 * 3.75 + (row?.output_tokens ?? 0) * 15;
    expect(Number(row?.cost_usd)).toBeCloseTo(micro / 1e6, 12);
  });

  it("carries Tollgate's code as error.details.error_code (the SDK's errorCode)", async () => {
    env.fake.script(
      'POST /v1/messages',
      Array.from({ length: 3 }, () => ({ status: 429, headers: { 'retry-after': '0' } })),
    );
    const err = await env.anthropic.messages
      .create({ model: 'an-sonnet', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err).toMatchObject({
      status: 429,
      errorCode: 'upstream_rate_limited',
      error: { type: 'error', error: { type: 'rate_limit_error' } },
    });
  });

  it('a stream cut upstream ends with an error event carrying the code', async () => {
    env.fake.script('POST /v1/messages', [{ stream: ['a', 'b', 'c'], errorAfter: 1 }]);
    const stream = await env.anthropic.messages.create({
      model: 'an-sonnet',
      max_tokens: 10,
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    const err = await (async () => {
      for await (const _ of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({
      errorCode: 'upstream_error',
      error: { error: { type: 'api_error' } },
    });
  });
});
