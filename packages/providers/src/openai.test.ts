import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeUpstream } from '@tollgate/test-kit/fake-upstream';
import { startFakeUpstream } from '@tollgate/test-kit/fake-upstream';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createOpenAIProvider } from './openai.ts';
import type { Provider, StreamEvent } from './types.ts';
import { ProviderError } from './types.ts';

const ROUTE = 'POST /v1/chat/completions';
let fake: FakeUpstream;
let openai: Provider;

const call = () => ({ signal: new AbortController().signal, timeoutMs: 5_000 });
const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hello' }] };

async function collect(it: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

beforeAll(async () => {
  fake = await startFakeUpstream({ apiKey: 'sk-test-key' });
  openai = createOpenAIProvider({ apiKey: 'sk-test-key', baseUrl: `${fake.url}/v1` });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

describe('openai adapter', () => {
  it('sends the canonical request and maps the answer', async () => {
    const res = await openai.chat(
      { ...hello, temperature: 0.2, max_tokens: 50, stop: ['END'], user: 'u1' },
      call(),
    );
    expect(res.content).toBe('Hello');
    expect(res.finishReason).toBe('stop');
    expect(res.id).toMatch(/^chatcmpl-/);
    const [req] = fake.requests(ROUTE);
    expect(req?.headers.authorization).toBe('Bearer sk-test-key');
    expect(req?.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      temperature: 0.2,
      // a compatible server (not api.openai.com) gets max_tokens
      max_tokens: 50,
      stop: ['END'],
      user: 'u1',
      stream: false,
    });
  });

  it('normalizes usage incl. cached and reasoning tokens', async () => {
    fake.script(ROUTE, [
      {
        stream: ['ok'],
        usage: {
          prompt_tokens: 1200,
          completion_tokens: 300,
          total_tokens: 1500,
          prompt_tokens_details: { cached_tokens: 1024 },
          completion_tokens_details: { reasoning_tokens: 200 },
        },
      },
    ]);
    const res = await openai.chat(hello, call());
    expect(res.usage).toEqual({
      inputTokens: 1200,
      cachedInputTokens: 1024,
      cacheWriteTokens: 0,
      outputTokens: 300,
      reasoningTokens: 200,
    });
  });

  it('streams text, finish and usage (asks for include_usage)', async () => {
    fake.script(ROUTE, [
      { stream: ['Hel', 'lo', ' world'], usage: { prompt_tokens: 7, completion_tokens: 3 } },
    ]);
    const events = await collect(openai.chatStream(hello, call()));
    expect(events).toEqual([
      { type: 'delta', content: 'Hel' },
      { type: 'delta', content: 'lo' },
      { type: 'delta', content: ' world' },
      { type: 'finish', finishReason: 'stop' },
      {
        type: 'usage',
        usage: {
          inputTokens: 7,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 3,
          reasoningTokens: 0,
        },
      },
    ]);
    expect(fake.requests(ROUTE)[0]?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('passes tools out and maps tool calls back (non-stream)', async () => {
    fake.script(ROUTE, [
      { toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
    ]);
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const res = await openai.chat(
      {
        ...hello,
        messages: [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_0',
                type: 'function',
                function: { name: 'get_weather', arguments: '{}' },
              },
            ],
          },
          { role: 'tool', content: 'sunny', tool_call_id: 'call_0' },
        ],
        tools,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      },
      call(),
    );
    expect(res.finishReason).toBe('tool_calls');
    expect(res.content).toBeNull();
    expect(res.toolCalls).toEqual([
      {
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
    const body = fake.requests(ROUTE)[0]?.body as Record<string, unknown>;
    expect(body.tools).toEqual(tools);
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(body.messages).toHaveLength(3);
  });

  it('streams tool-call deltas with indexes', async () => {
    fake.script(ROUTE, [
      {
        stream: [],
        toolCalls: [
          { id: 'call_a', name: 'a', arguments: '{"x":1}' },
          { id: 'call_b', name: 'b', arguments: '{"y":2}' },
        ],
      },
    ]);
    const events = await collect(openai.chatStream(hello, call()));
    const deltas = events.flatMap((e) => (e.type === 'delta' ? (e.toolCalls ?? []) : []));
    const byIndex = new Map<number, { id?: string; name?: string; args: string }>();
    for (const d of deltas) {
      const cur = byIndex.get(d.index) ?? { args: '' };
      if (d.id) cur.id = d.id;
      if (d.name) cur.name = d.name;
      cur.args += d.arguments ?? '';
      byIndex.set(d.index, cur);
    }
    expect([...byIndex.entries()]).toEqual([
      [0, { id: 'call_a', name: 'a', args: '{"x":1}' }],
      [1, { id: 'call_b', name: 'b', args: '{"y":2}' }],
    ]);
    expect(events).toContainEqual({ type: 'finish', finishReason: 'tool_calls' });
  });

  it('429 → rate_limited with retryAfterMs (seconds, date, ms)', async () => {
    fake.script(ROUTE, [
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 429, headers: { 'retry-after-ms': '1500' } },
    ]);
    const a = await openai.chat(hello, call()).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(ProviderError);
    expect(a).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 2000,
      retryable: true,
    });
    const b = await openai.chat(hello, call()).catch((e: unknown) => e);
    expect(b).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1500 });
    // maxRetries: 0 — one upstream request per call
    expect(fake.requests(ROUTE)).toHaveLength(2);
  });

  it('500 → server, 400 → bad_request, 401 → auth (key not leaked)', async () => {
    fake.script(ROUTE, [{ status: 500 }, { status: 400 }]);
    await expect(openai.chat(hello, call())).rejects.toMatchObject({ kind: 'server', status: 500 });
    await expect(openai.chat(hello, call())).rejects.toMatchObject({
      kind: 'bad_request',
      retryable: false,
    });
    const wrongKey = createOpenAIProvider({
      apiKey: 'sk-wrong-secret-1234',
      baseUrl: `${fake.url}/v1`,
    });
    const err = (await wrongKey.chat(hello, call()).catch((e: unknown) => e)) as ProviderError;
    expect(err.kind).toBe('auth');
    expect(err.message).not.toContain('sk-wrong-secret-1234');
  });

  it('stream errors before the first byte are ProviderErrors too', async () => {
    fake.script(ROUTE, [{ status: 503 }]);
    await expect(collect(openai.chatStream(hello, call()))).rejects.toMatchObject({
      kind: 'server',
      status: 503,
    });
  });

  it('a connection dropped mid-stream throws after the deltas already seen', async () => {
    fake.script(ROUTE, [{ stream: ['a', 'b', 'c', 'd'], dropAfter: 2 }]);
    const seen: string[] = [];
    const run = async () => {
      for await (const e of openai.chatStream(hello, call())) {
        if (e.type === 'delta' && e.content) seen.push(e.content);
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'ProviderError', kind: 'connection' });
    expect(seen).toEqual(['a', 'b']);
  });

  it('an error event inside the stream → server', async () => {
    fake.script(ROUTE, [{ stream: ['a', 'b'], errorAfter: 1 }]);
    await expect(collect(openai.chatStream(hello, call()))).rejects.toMatchObject({
      kind: 'server',
    });
  });

  it('abort mid-stream closes the upstream socket and throws aborted', async () => {
    fake.script(ROUTE, [
      { stream: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 },
    ]);
    const ac = new AbortController();
    const seen: string[] = [];
    const run = async () => {
      for await (const e of openai.chatStream(hello, { signal: ac.signal, timeoutMs: 5_000 })) {
        if (e.type === 'delta' && e.content) seen.push(e.content);
        if (seen.length === 2) ac.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ kind: 'aborted', retryable: false });
    expect(seen).toEqual(['w0 ', 'w1 ']);
    await vi.waitFor(() => expect(fake.requests(ROUTE)[0]?.aborted).toBe(true));
    expect(fake.closedConnections).toBe(1);
  });

  it('a signal aborted with a TimeoutError reason (our TTFT/idle limit) → timeout', async () => {
    fake.script(ROUTE, [
      { stream: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 },
    ]);
    const ac = new AbortController();
    const run = async () => {
      for await (const e of openai.chatStream(hello, { signal: ac.signal, timeoutMs: 5_000 })) {
        if (e.type === 'delta') ac.abort(new DOMException('stream idle', 'TimeoutError'));
      }
    };
    await expect(run()).rejects.toMatchObject({ kind: 'timeout', retryable: true });
    await vi.waitFor(() => expect(fake.requests(ROUTE)[0]?.aborted).toBe(true));
  });

  it('breaking out of the stream early closes the upstream socket', async () => {
    fake.script(ROUTE, [
      { stream: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 },
    ]);
    for await (const e of openai.chatStream(hello, call())) {
      if (e.type === 'delta') break;
    }
    await vi.waitFor(() => expect(fake.requests(ROUTE)[0]?.aborted).toBe(true));
  });

  it('a finished stream hands its socket back: later calls reuse one connection', async () => {
    const own = createOpenAIProvider({ apiKey: 'sk-test-key', baseUrl: `${fake.url}/v1` });
    fake.script(ROUTE, [{ stream: ['a', 'b'] }, { stream: ['c'] }, {}]);
    const before = fake.connections;
    // The body's last bytes (the chunked terminator) land just after [DONE]: let them arrive.
    const settle = () => new Promise((r) => setTimeout(r, 50));
    expect((await collect(own.chatStream(hello, call()))).some((e) => e.type === 'usage')).toBe(
      true,
    );
    await settle();
    expect((await collect(own.chatStream(hello, call()))).length).toBeGreaterThan(0);
    await settle();
    await own.chat(hello, call());
    expect(fake.connections - before).toBe(1);
    expect(fake.requests(ROUTE).every((r) => !r.aborted)).toBe(true);
  });

  it('JSON calls reuse one pooled connection, one after another', async () => {
    const own = createOpenAIProvider({ apiKey: 'sk-test-key', baseUrl: `${fake.url}/v1` });
    const before = fake.connections;
    for (let i = 0; i < 3; i++) {
      const res = await own.chat(hello, call());
      expect(res.content).toBe('Hello');
      await new Promise((r) => setImmediate(r)); // the socket is released on the next ticks
    }
    expect(fake.connections - before).toBe(1);
  });

  it('an upstream that never answers → timeout', async () => {
    fake.script(ROUTE, [{ hang: true }]);
    await expect(
      openai.chat(hello, { signal: new AbortController().signal, timeoutMs: 200 }),
    ).rejects.toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('a refused connection → connection', async () => {
    const dead = createOpenAIProvider({ apiKey: 'k', baseUrl: 'http://127.0.0.1:1/v1' });
    await expect(dead.chat(hello, call())).rejects.toMatchObject({ kind: 'connection' });
  });

  it('embeds in input order with usage', async () => {
    const res = await openai.embed(
      { model: 'text-embedding-3-small', input: ['a', 'bb'], dimensions: 4 },
      call(),
    );
    expect(res.vectors).toHaveLength(2);
    expect(res.vectors[0]).toHaveLength(4);
    expect(res.vectors[0]).not.toEqual(res.vectors[1]);
    expect(res.usage.inputTokens).toBe(2);
    expect(fake.requests('POST /v1/embeddings')[0]?.body).toEqual({
      model: 'text-embedding-3-small',
      input: ['a', 'bb'],
      encoding_format: 'float',
      dimensions: 4,
    });
  });
});

describe('openai adapter against a misbehaving server', () => {
  // What a proxy in front of a compatible server can answer: not the OpenAI wire at all.
  let url = '';
  const server = createServer((req, res) => {
    req.resume();
    if (req.url?.endsWith('/html/chat/completions')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login required</html>');
    } else if (req.url?.endsWith('/garbage/chat/completions')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"ok "}}]}\n\n');
      res.end('data: {not json\n\n');
    } else if (req.url?.endsWith('/nodone/chat/completions')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n');
      res.end(); // a clean end without [DONE]
    } else {
      res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    }
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const at = (path: string) => createOpenAIProvider({ apiKey: 'k', baseUrl: `${url}/${path}` });

  it('a 200 that is not JSON → server error, retryable', async () => {
    await expect(at('html').chat(hello, call())).rejects.toMatchObject({
      kind: 'server',
      retryable: true,
      message: 'openai: upstream answered with invalid JSON',
    });
  });

  it('a stream event that is not JSON → server error after the deltas already seen', async () => {
    const seen: StreamEvent[] = [];
    await expect(
      (async () => {
        for await (const e of at('garbage').chatStream(hello, call())) seen.push(e);
      })(),
    ).rejects.toMatchObject({ kind: 'server' });
    expect(seen).toEqual([{ type: 'delta', content: 'ok ' }]);
  });

  it('a stream that ends cleanly without [DONE] ends with what it sent', async () => {
    expect(await collect(at('nodone').chatStream(hello, call()))).toEqual([
      { type: 'delta', content: 'partial' },
    ]);
  });

  it('a redirect is not followed (base URLs are configuration, not something to chase)', async () => {
    await expect(at('moved').chat(hello, call())).rejects.toMatchObject({
      kind: 'bad_request',
      status: 302,
    });
  });
});
