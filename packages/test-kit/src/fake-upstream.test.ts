import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeUpstream } from './fake-upstream.ts';
import { startFakeUpstream } from './fake-upstream.ts';

let fake: FakeUpstream;
beforeAll(async () => {
  fake = await startFakeUpstream();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${fake.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('fake upstream wire formats', () => {
  it('echoes the last user message by default and records the request', async () => {
    const res = await post(
      '/v1/chat/completions',
      { model: 'm', messages: [{ role: 'user', content: 'ping' }] },
      { authorization: 'Bearer k' },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toBe('ping');
    const [req] = fake.requests('POST /v1/chat/completions');
    expect(req?.headers.authorization).toBe('Bearer k');
    expect(req?.aborted).toBe(false);
  });

  it('streams OpenAI SSE with a usage chunk and [DONE]', async () => {
    fake.script('POST /v1/chat/completions', [{ stream: ['Hel', 'lo'] }]);
    const res = await post('/v1/chat/completions', {
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const frames = text.trim().split('\n\n');
    expect(frames.at(-1)).toBe('data: [DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice('data: '.length)));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? null)).toEqual([
      '',
      'Hel',
      'lo',
      null,
      null,
    ]);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 2 } });
  });

  it('streams Anthropic events with event: lines in the real order', async () => {
    fake.script('POST /v1/messages', [{ stream: ['a', 'b'] }]);
    const res = await post('/v1/messages', {
      model: 'c',
      max_tokens: 10,
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    const names = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('event: '))
      .map((l) => l.slice(7));
    expect(names).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('answers scripted errors with real error bodies and headers, then recovers', async () => {
    fake.script('POST /v1/messages', [{ status: 429, headers: { 'retry-after': '1' } }]);
    const limited = await post('/v1/messages', { model: 'c', messages: [] });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    });
    fake.script('POST /v1/chat/completions', [{ status: 500 }]);
    const failed = await post('/v1/chat/completions', { model: 'm', messages: [] });
    expect(await failed.json()).toMatchObject({ error: { type: 'server_error', code: null } });
    const ok = await post('/v1/messages', { model: 'c', messages: [] });
    expect(ok.status).toBe(200);
  });

  it('serves embeddings as floats or base64 float32', async () => {
    const floats = (await (
      await post('/v1/embeddings', { model: 'e', input: ['a'], dimensions: 3 })
    ).json()) as { data: { embedding: number[] }[] };
    expect(floats.data[0]?.embedding).toHaveLength(3);
    const b64 = (await (
      await post('/v1/embeddings', {
        model: 'e',
        input: 'a',
        dimensions: 3,
        encoding_format: 'base64',
      })
    ).json()) as { data: { embedding: string }[] };
    const raw = Buffer.from(b64.data[0]?.embedding ?? '', 'base64');
    const decoded = Array.from(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4));
    expect(decoded).toHaveLength(3);
    expect(decoded[0]).toBeCloseTo(floats.data[0]?.embedding[0] ?? Number.NaN, 5);
  });

  it('lists models in OpenAI or Anthropic shape', async () => {
    const o = (await (await fetch(`${fake.url}/v1/models`)).json()) as { object: string };
    expect(o.object).toBe('list');
    const a = (await (
      await fetch(`${fake.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } })
    ).json()) as { has_more: boolean; data: { type: string }[] };
    expect(a.has_more).toBe(false);
    expect(a.data[0]?.type).toBe('model');
  });

  it('flags requests whose client went away', async () => {
    fake.script('POST /v1/chat/completions', [{ hang: true }]);
    const ac = new AbortController();
    const pending = fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      body: '{}',
      signal: ac.signal,
    }).catch((e: unknown) => e);
    await expect.poll(() => fake.requests('POST /v1/chat/completions').length).toBe(1);
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    await expect.poll(() => fake.requests('POST /v1/chat/completions')[0]?.aborted).toBe(true);
    expect(fake.closedConnections).toBe(1);
  });
});

describe('fake upstream for the benchmark', () => {
  it('keepRequests: false answers the same and keeps nothing', async () => {
    const lean = await startFakeUpstream({ keepRequests: false });
    try {
      const res = await fetch(`${lean.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'ping' }] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]?.message.content).toBe('ping');
      expect(lean.requests('POST /v1/chat/completions')).toEqual([]);
    } finally {
      await lean.close();
    }
  });
});
