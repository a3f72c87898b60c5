import { randomUUID } from 'node:crypto';
import { createTollgateClient } from '@tollgate/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';

/*
 * Which stop sequence ended a generation, on every surface: the fake upstream honours stop
 * sequences as the real APIs do (text cut before the sequence; Anthropic names it, OpenAI does not).
 */

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
afterAll(() => env.close());
beforeEach(() => env.fake.reset());

const prompt = (content: string) => [{ role: 'user' as const, content }];

describe('stop sequences on /v1/messages (official @anthropic-ai/sdk)', () => {
  it('non-streaming: an Anthropic model that hit a stop sequence answers stop_sequence + the string', async () => {
    const msg = await env.anthropic.messages.create({
      model: 'an-sonnet',
      max_tokens: 64,
      messages: prompt('first part ### second part'),
      stop_sequences: ['END', '###'],
    });
    expect(msg).toMatchObject({
      content: [{ type: 'text', text: 'first part ' }],
      stop_reason: 'stop_sequence',
      stop_sequence: '###',
    });
    expect(env.fake.requests('POST /v1/messages')[0]?.body).toMatchObject({
      model: 'claude-sonnet-4-6',
      stop_sequences: ['END', '###'],
    });
  });

  it('streaming: message_delta carries stop_sequence + the string, and the SDK assembles it', async () => {
    const raw = await env.anthropic.messages.create({
      model: 'an-sonnet',
      max_tokens: 64,
      messages: prompt('alpha beta END gamma'),
      stop_sequences: ['END'],
      stream: true,
    });
    let text = '';
    let delta: { stop_reason: string | null; stop_sequence: string | null } | undefined;
    for await (const ev of raw) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta')
        text += ev.delta.text;
      if (ev.type === 'message_delta') delta = ev.delta;
    }
    expect(text).toBe('alpha beta ');
    expect(delta).toEqual({ stop_reason: 'stop_sequence', stop_sequence: 'END' });

    const final = await env.anthropic.messages
      .stream({
        model: 'an-sonnet',
        max_tokens: 64,
        messages: prompt('one two STOP three'),
        stop_sequences: ['STOP'],
      })
      .finalMessage();
    expect(final.stop_reason).toBe('stop_sequence');
    expect(final.stop_sequence).toBe('STOP');
  });

  it('a generation that ended on its own answers end_turn and null, stream and non-stream', async () => {
    const msg = await env.anthropic.messages.create({
      model: 'an-sonnet',
      max_tokens: 64,
      messages: prompt('nothing to stop on'),
      stop_sequences: ['###'],
    });
    expect(msg).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });

    const final = await env.anthropic.messages
      .stream({
        model: 'an-sonnet',
        max_tokens: 64,
        messages: prompt('nothing to stop on'),
        stop_sequences: ['###'],
      })
      .finalMessage();
    expect(final).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
  });

  it('an OpenAI model never names the sequence: end_turn and null, though the text was cut', async () => {
    const msg = await env.anthropic.messages.create({
      model: 'oa-mini',
      max_tokens: 64,
      messages: prompt('keep this ### not this'),
      stop_sequences: ['###'],
    });
    expect(msg).toMatchObject({
      content: [{ type: 'text', text: 'keep this ' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(env.fake.requests('POST /v1/chat/completions')[0]?.body).toMatchObject({
      stop: ['###'],
    });
  });
});

describe('stop sequences on /v1/chat/completions (official openai SDK)', () => {
  it('the same Anthropic model stopped by a sequence still answers finish_reason "stop"', async () => {
    const res = await env.openai.chat.completions.create({
      model: 'an-sonnet',
      messages: prompt('first part ### second part'),
      stop: ['###'],
    });
    expect(res.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'first part ' },
      finish_reason: 'stop',
    });
    expect(Object.keys(res.choices[0] ?? {})).not.toContain('stop_sequence');

    const stream = await env.openai.chat.completions.create({
      model: 'an-sonnet',
      messages: prompt('alpha beta END gamma'),
      stop: 'END',
      stream: true,
    });
    let text = '';
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      text += choice.delta.content ?? '';
      if (choice.finish_reason !== null) finishes.push(choice.finish_reason);
    }
    expect(text).toBe('alpha beta ');
    expect(finishes).toEqual(['stop']);
  });
});

describe('stop sequences on the typed API (tRPC client and REST)', () => {
  it('chat.complete and POST /api/chat/completions name the sequence; chat.stream on its finish event', async () => {
    const client = createTollgateClient({ url: env.url, apiKey: env.user.apiKey });
    const input = {
      model: 'an-sonnet',
      messages: prompt('first part ### second part'),
      stop: ['###'],
    };
    const done = await client.chat.complete.mutate(input);
    expect(done).toMatchObject({
      content: 'first part ',
      finishReason: 'stop',
      stopSequence: '###',
    });

    const rest = await fetch(`${env.url}/api/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.user.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    expect(rest.status).toBe(200);
    expect(await rest.json()).toMatchObject({ finishReason: 'stop', stopSequence: '###' });

    const finishes: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = client.chat.stream.subscribe(
        { ...input, requestId: randomUUID() },
        {
          onData: (e) => {
            if (e.type === 'finish') finishes.push(e);
          },
          onComplete: () => resolve(),
          onError: (e) => {
            sub.unsubscribe();
            reject(e);
          },
        },
      );
    });
    expect(finishes).toEqual([{ type: 'finish', finishReason: 'stop', stopSequence: '###' }]);

    const plain = await client.chat.complete.mutate({ ...input, messages: prompt('no marker') });
    expect(plain.stopSequence).toBeUndefined();
  });
});
