import { describe, expect, it } from 'vitest';
import { countInputTokens, createMockProvider, mockEmbedding, splitWords } from './mock.ts';
import { createProviders } from './registry.ts';
import type { StreamEvent } from './types.ts';
import { ProviderError } from './types.ts';

const opts = () => ({ signal: new AbortController().signal, timeoutMs: 10_000 });

async function collect(it: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('mock provider', () => {
  const mock = createMockProvider();

  it('is always present in the registry, openai/anthropic only with keys', () => {
    const p = createProviders({});
    expect(p.mock.name).toBe('mock');
    expect(p.openai).toBeUndefined();
    expect(p.anthropic).toBeUndefined();
  });

  it('mock-echo answers with the last user message and deterministic usage', async () => {
    const res = await mock.chat(
      {
        model: 'mock-echo',
        messages: [
          { role: 'system', content: 'be brief' }, // 8 chars → 2 + 3
          { role: 'user', content: 'first' }, // 5 chars → 2 + 3
          { role: 'assistant', content: 'ok' }, // 2 chars → 1 + 3
          { role: 'user', content: [{ type: 'text', text: 'Hello there, world!' }] }, // 19 → 5 + 3
        ],
      },
      opts(),
    );
    expect(res.content).toBe('Hello there, world!');
    expect(res.finishReason).toBe('stop');
    expect(res.toolCalls).toEqual([]);
    expect(res.usage).toEqual({
      inputTokens: 22,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 5,
      reasoningTokens: 0,
    });
  });

  it('streams words that concatenate to the exact content, then finish and usage', async () => {
    const events = await collect(
      mock.chatStream(
        { model: 'mock-slow', messages: [{ role: 'user', content: ' one two  three ' }] },
        opts(),
      ),
    );
    const deltas = events.filter((e) => e.type === 'delta');
    expect(deltas).toHaveLength(3);
    expect(deltas.map((d) => d.content).join('')).toBe(' one two  three ');
    expect(events.at(-2)).toEqual({ type: 'finish', finishReason: 'stop' });
    expect(events.at(-1)).toMatchObject({
      type: 'usage',
      usage: { inputTokens: 7, outputTokens: 4 },
    });
  });

  it('truncates to max_tokens with finish reason length, streamed and not', async () => {
    const req = {
      model: 'mock-echo',
      messages: [{ role: 'user' as const, content: 'one two three four five six' }], // 27 chars: 7 tokens
      max_tokens: 2,
    };
    const res = await mock.chat(req, opts());
    expect(res.content).toBe('one two ');
    expect(res.finishReason).toBe('length');
    expect(res.usage.outputTokens).toBe(2);
    const events = await collect(mock.chatStream(req, opts()));
    const text = events.map((e) => (e.type === 'delta' ? e.content : '')).join('');
    expect(text).toBe('one two ');
    expect(events.at(-2)).toEqual({ type: 'finish', finishReason: 'length' });
    expect(events.at(-1)).toMatchObject({ type: 'usage', usage: { outputTokens: 2 } });
    // Room enough: the whole answer, finish reason stop.
    const whole = await mock.chat({ ...req, max_tokens: 7 }, opts());
    expect(whole.content).toBe('one two three four five six');
    expect(whole.finishReason).toBe('stop');
  });

  it('mock-slow stops with kind aborted when the signal fires mid-stream', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    const run = async () => {
      for await (const e of mock.chatStream(
        { model: 'mock-slow', messages: [{ role: 'user', content: 'a b c d e f g h i j' }] },
        { signal: ac.signal, timeoutMs: 10_000 },
      )) {
        if (e.type === 'delta' && e.content) seen.push(e.content);
        if (seen.length === 2) ac.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'ProviderError', kind: 'aborted' });
    expect(seen).toEqual(['a ', 'b ']);
  });

  it('an AbortSignal.timeout() signal ends mock-slow with kind timeout', async () => {
    const run = async () => {
      for await (const _ of mock.chatStream(
        { model: 'mock-slow', messages: [{ role: 'user', content: 'a b c d e f g h' }] },
        { signal: AbortSignal.timeout(30), timeoutMs: 10_000 },
      )) {
        // consume
      }
    };
    await expect(run()).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('mock-slow non-stream honours the call timeout', async () => {
    await expect(
      mock.chat(
        { model: 'mock-slow', messages: [{ role: 'user', content: 'a b c d e f' }] },
        { signal: new AbortController().signal, timeoutMs: 20 },
      ),
    ).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('answers a forced tool choice with a tool call carrying the user text', async () => {
    const res = await mock.chat(
      {
        model: 'mock-echo',
        messages: [{ role: 'user', content: 'Paris' }],
        tools: [{ type: 'function', function: { name: 'get_weather' } }],
        tool_choice: 'required',
      },
      opts(),
    );
    expect(res.finishReason).toBe('tool_calls');
    expect(res.toolCalls[0]?.function).toEqual({
      name: 'get_weather',
      arguments: '{"input":"Paris"}',
    });
  });

  it('rejects unknown models as bad_request', async () => {
    const err = await mock
      .chat({ model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }] }, opts())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'bad_request', retryable: false });
    await expect(mock.embed({ model: 'mock-echo', input: ['x'] }, opts())).rejects.toMatchObject({
      kind: 'bad_request',
    });
  });

  it('mock-embed returns deterministic 256-dimension unit vectors', async () => {
    const res = await mock.embed(
      { model: 'mock-embed', input: ['hello', 'world', 'hello'] },
      opts(),
    );
    expect(res.vectors).toHaveLength(3);
    for (const v of res.vectors) {
      expect(v).toHaveLength(256);
      expect(Math.sqrt(v.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 10);
    }
    expect(res.vectors[0]).toEqual(res.vectors[2]);
    expect(res.vectors[0]).not.toEqual(res.vectors[1]);
    expect(res.vectors[0]).toEqual(mockEmbedding('hello'));
    expect(res.usage.inputTokens).toBe(6);
  });

  it('helpers are deterministic', () => {
    expect(splitWords('')).toEqual([]);
    expect(splitWords('   ')).toEqual(['   ']);
    expect(countInputTokens([{ role: 'user', content: '' }])).toBe(3);
  });
});
