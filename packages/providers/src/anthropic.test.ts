import type { FakeUpstream } from '@tollgate/test-kit/fake-upstream';
import { startFakeUpstream } from '@tollgate/test-kit/fake-upstream';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAnthropicProvider, toAnthropicParams } from './anthropic.ts';
import type { Provider, StreamEvent } from './types.ts';
import { ProviderError } from './types.ts';

const ROUTE = 'POST /v1/messages';
let fake: FakeUpstream;
let anthropic: Provider;

const call = () => ({ signal: new AbortController().signal, timeoutMs: 5_000 });
const hello = {
  model: 'claude-sonnet-4-6',
  messages: [{ role: 'user' as const, content: 'Hello' }],
};

async function collect(it: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

beforeAll(async () => {
  fake = await startFakeUpstream({ apiKey: 'sk-ant-test' });
  // The Anthropic SDK adds /v1 itself.
  anthropic = createAnthropicProvider({ apiKey: 'sk-ant-test', baseUrl: fake.url });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

describe('anthropic adapter', () => {
  it('maps the canonical request to the Messages API', async () => {
    const res = await anthropic.chat(
      {
        model: 'claude-sonnet-4-6',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: 'Let me check.',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
          { role: 'tool', content: 'sunny', tool_call_id: 'toolu_1' },
          { role: 'user', content: 'Thanks' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          },
        ],
        tool_choice: 'required',
        stop: 'END',
        response_format: { type: 'json_object' },
        user: 'u1',
      },
      call(),
    );
    expect(res.content).toBe('Thanks');
    expect(res.finishReason).toBe('stop');
    const body = fake.requests(ROUTE)[0]?.body as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'claude-sonnet-4-6',
      max_tokens: 4096,
      stop_sequences: ['END'],
      tool_choice: { type: 'any' },
      metadata: { user_id: 'u1' },
      tools: [
        {
          name: 'get_weather',
          description: 'Weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
    });
    expect(body.system).toContain('Be brief.');
    expect(body.system).toContain('JSON');
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });

  it('maps tool_use blocks back to tool calls with JSON arguments', async () => {
    fake.script(ROUTE, [
      {
        stream: ['Checking.'],
        toolCalls: [{ id: 'toolu_9', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
      },
    ]);
    const res = await anthropic.chat(
      {
        ...hello,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        tools: [{ type: 'function', function: { name: 'get_weather' } }],
      },
      call(),
    );
    expect(res.finishReason).toBe('tool_calls');
    expect(res.content).toBe('Checking.');
    expect(res.toolCalls).toEqual([
      {
        id: 'toolu_9',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    ]);
    const body = fake.requests(ROUTE)[0]?.body as Record<string, unknown>;
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(body.tools).toEqual([
      { name: 'get_weather', input_schema: { type: 'object', properties: {} } },
    ]);
  });

  it('normalizes usage: cache reads and writes are part of input', async () => {
    fake.script(ROUTE, [
      {
        stream: ['ok'],
        finishReason: 'max_tokens',
        usage: {
          input_tokens: 100,
          cache_read_input_tokens: 2000,
          cache_creation_input_tokens: 500,
          output_tokens: 40,
        },
      },
    ]);
    const res = await anthropic.chat(hello, call());
    expect(res.finishReason).toBe('length');
    expect(res.usage).toEqual({
      inputTokens: 2600,
      cachedInputTokens: 2000,
      cacheWriteTokens: 500,
      outputTokens: 40,
      reasoningTokens: 0,
    });
  });

  it('streams text, finish and usage from the real event sequence', async () => {
    fake.script(ROUTE, [
      {
        stream: ['Hel', 'lo'],
        usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 2 },
      },
    ]);
    const events = await collect(anthropic.chatStream(hello, call()));
    expect(events).toEqual([
      { type: 'delta', content: 'Hel' },
      { type: 'delta', content: 'lo' },
      { type: 'finish', finishReason: 'stop' },
      {
        type: 'usage',
        usage: {
          inputTokens: 15,
          cachedInputTokens: 5,
          cacheWriteTokens: 0,
          outputTokens: 2,
          reasoningTokens: 0,
        },
      },
    ]);
    expect(fake.requests(ROUTE)[0]?.body).toMatchObject({ stream: true });
  });

  it('streams tool_use blocks as indexed tool-call deltas', async () => {
    fake.script(ROUTE, [
      {
        stream: ['Let me look.'],
        toolCalls: [
          { id: 'toolu_a', name: 'a', arguments: '{"x":1}' },
          { id: 'toolu_b', name: 'b', arguments: '{"y":22}' },
        ],
      },
    ]);
    const events = await collect(anthropic.chatStream(hello, call()));
    expect(events[0]).toEqual({ type: 'delta', content: 'Let me look.' });
    const byIndex = new Map<number, { id?: string; name?: string; args: string }>();
    for (const e of events) {
      if (e.type !== 'delta') continue;
      for (const d of e.toolCalls ?? []) {
        const cur = byIndex.get(d.index) ?? { args: '' };
        if (d.id) cur.id = d.id;
        if (d.name) cur.name = d.name;
        cur.args += d.arguments ?? '';
        byIndex.set(d.index, cur);
      }
    }
    // Content-block indexes 1 and 2 become tool-call indexes 0 and 1.
    expect([...byIndex.entries()]).toEqual([
      [0, { id: 'toolu_a', name: 'a', args: '{"x":1}' }],
      [1, { id: 'toolu_b', name: 'b', args: '{"y":22}' }],
    ]);
    expect(events).toContainEqual({ type: 'finish', finishReason: 'tool_calls' });
  });

  it('429 → rate_limited with retryAfterMs; 529 → server; 404 → bad_request', async () => {
    const when = new Date(Date.now() + 30_000).toUTCString();
    fake.script(ROUTE, [
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 429, headers: { 'retry-after': when } },
      { status: 529 },
      { status: 404 },
    ]);
    const a = await anthropic.chat(hello, call()).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(ProviderError);
    expect(a).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 3000 });
    const b = (await anthropic.chat(hello, call()).catch((e: unknown) => e)) as ProviderError;
    expect(b.kind).toBe('rate_limited');
    expect(b.retryAfterMs).toBeGreaterThan(20_000);
    expect(b.retryAfterMs).toBeLessThanOrEqual(30_000);
    await expect(anthropic.chat(hello, call())).rejects.toMatchObject({
      kind: 'server',
      status: 529,
      retryable: true,
    });
    await expect(anthropic.chat(hello, call())).rejects.toMatchObject({ kind: 'bad_request' });
    expect(fake.requests(ROUTE)).toHaveLength(4);
  });

  it('500 before the stream starts → server', async () => {
    fake.script(ROUTE, [{ status: 500 }]);
    await expect(collect(anthropic.chatStream(hello, call()))).rejects.toMatchObject({
      kind: 'server',
      status: 500,
    });
  });

  it('a wrong key → auth', async () => {
    const wrong = createAnthropicProvider({ apiKey: 'sk-ant-wrong', baseUrl: fake.url });
    await expect(wrong.chat(hello, call())).rejects.toMatchObject({ kind: 'auth', status: 401 });
  });

  it('a connection dropped mid-stream throws after the deltas already seen', async () => {
    fake.script(ROUTE, [{ stream: ['a', 'b', 'c', 'd'], dropAfter: 2 }]);
    const seen: string[] = [];
    const run = async () => {
      for await (const e of anthropic.chatStream(hello, call())) {
        if (e.type === 'delta' && e.content) seen.push(e.content);
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'ProviderError', kind: 'connection' });
    expect(seen).toEqual(['a', 'b']);
  });

  it('an overloaded error event mid-stream → server', async () => {
    fake.script(ROUTE, [{ stream: ['a', 'b'], errorAfter: 1 }]);
    const seen: string[] = [];
    const run = async () => {
      for await (const e of anthropic.chatStream(hello, call())) {
        if (e.type === 'delta' && e.content) seen.push(e.content);
      }
    };
    await expect(run()).rejects.toMatchObject({ kind: 'server' });
    expect(seen).toEqual(['a']);
  });

  it('abort mid-stream closes the upstream socket and throws aborted', async () => {
    fake.script(ROUTE, [
      { stream: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 },
    ]);
    const ac = new AbortController();
    const seen: string[] = [];
    const run = async () => {
      for await (const e of anthropic.chatStream(hello, { signal: ac.signal, timeoutMs: 5_000 })) {
        if (e.type === 'delta' && e.content) seen.push(e.content);
        if (seen.length === 2) ac.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ kind: 'aborted' });
    expect(seen).toEqual(['w0 ', 'w1 ']);
    await vi.waitFor(() => expect(fake.requests(ROUTE)[0]?.aborted).toBe(true));
  });

  it('an upstream that never answers → timeout', async () => {
    fake.script(ROUTE, [{ hang: true }]);
    await expect(
      anthropic.chat(hello, { signal: new AbortController().signal, timeoutMs: 200 }),
    ).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('embeddings are not supported → bad_request, nothing sent', async () => {
    await expect(
      anthropic.embed({ model: 'claude-sonnet-4-6', input: ['x'] }, call()),
    ).rejects.toMatchObject({ kind: 'bad_request' });
    expect(fake.requests('POST /v1/embeddings')).toHaveLength(0);
  });
});

describe('toAnthropicParams', () => {
  it('maps images, json_schema, tool_choice none and string stop', () => {
    const p = toAnthropicParams({
      model: 'claude-haiku-4-5',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
      tool_choice: 'none',
      max_tokens: 12,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { type: 'object', required: ['a'] } },
      },
    });
    expect(p.max_tokens).toBe(12);
    expect(p.tool_choice).toEqual({ type: 'none' });
    expect(p.system).toContain('"required":["a"]');
    expect(p.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });

  it('rejects unsupported inline image types as bad_request', () => {
    expect(() =>
      toAnthropicParams({
        model: 'm',
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AA' } }],
          },
        ],
      }),
    ).toThrow(expect.objectContaining({ kind: 'bad_request' }));
  });
});
