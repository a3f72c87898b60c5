import type { FakeUpstream } from '@tollgate/test-kit/fake-upstream';
import { startFakeUpstream } from '@tollgate/test-kit/fake-upstream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { anthropicFinish, createAnthropicProvider } from './anthropic.ts';
import type { Provider, StreamEvent } from './types.ts';

const ROUTE = 'POST /v1/messages';
let fake: FakeUpstream;
let anthropic: Provider;

const call = () => ({ signal: new AbortController().signal, timeoutMs: 5_000 });
const ask = (content: string, stop?: string[]) => ({
  model: 'claude-sonnet-4-6',
  messages: [{ role: 'user' as const, content }],
  ...(stop ? { stop } : {}),
});

async function collect(it: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

beforeAll(async () => {
  fake = await startFakeUpstream({ apiKey: 'sk-ant-test' });
  anthropic = createAnthropicProvider({ apiKey: 'sk-ant-test', baseUrl: fake.url });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

describe('anthropicFinish', () => {
  it("maps stop_sequence to 'stop' carrying the matched string", () => {
    expect(anthropicFinish('stop_sequence', '###')).toEqual({
      finishReason: 'stop',
      stopSequence: '###',
    });
  });

  it('carries no stopSequence for other reasons, or when the upstream names none', () => {
    expect(anthropicFinish('end_turn', null)).toEqual({ finishReason: 'stop' });
    expect(anthropicFinish('max_tokens', null)).toEqual({ finishReason: 'length' });
    expect(anthropicFinish('tool_use', null)).toEqual({ finishReason: 'tool_calls' });
    expect(anthropicFinish('refusal', null)).toEqual({ finishReason: 'content_filter' });
    expect(anthropicFinish('stop_sequence', null)).toEqual({ finishReason: 'stop' });
  });
});

describe('anthropic adapter: stop sequences from the upstream', () => {
  it('a non-streaming answer that hit a stop sequence names it', async () => {
    const res = await anthropic.chat(ask('one two ### three', ['END', '###']), call());
    expect(res).toMatchObject({
      content: 'one two ',
      finishReason: 'stop',
      stopSequence: '###',
    });
    expect(fake.requests(ROUTE)[0]?.body).toMatchObject({ stop_sequences: ['END', '###'] });
  });

  it('an answer that ended on its own has no stopSequence', async () => {
    const res = await anthropic.chat(ask('no marker here', ['###']), call());
    expect(res.content).toBe('no marker here');
    expect(res.finishReason).toBe('stop');
    expect(res).not.toHaveProperty('stopSequence');
  });

  it("the stream's finish event carries the stop sequence from message_delta", async () => {
    fake.script(ROUTE, [{ stream: ['alpha ', 'beta', ' END gamma'] }]);
    const events = await collect(anthropic.chatStream(ask('ignored', ['END']), call()));
    const text = events.map((e) => (e.type === 'delta' ? (e.content ?? '') : '')).join('');
    expect(text).toBe('alpha beta ');
    expect(events.find((e) => e.type === 'finish')).toEqual({
      type: 'finish',
      finishReason: 'stop',
      stopSequence: 'END',
    });
    expect(events.at(-1)?.type).toBe('usage');
  });

  it('a stream that ended on its own finishes without a stop sequence', async () => {
    fake.script(ROUTE, [{ stream: ['alpha ', 'beta'] }]);
    const events = await collect(anthropic.chatStream(ask('ignored', ['END']), call()));
    expect(events.find((e) => e.type === 'finish')).toEqual({
      type: 'finish',
      finishReason: 'stop',
    });
  });
});
