import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { createTollgateClient, type TollgateClient } from '@tollgate/client';
import { upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeTestServer,
  listen,
  requestLogRows,
  startTestServer,
  type TestServer,
} from './helpers.ts';

// Our own catalog entry with a small output limit, answered by the mock (no seeded names).
const MODEL = 'limits-echo';
const LIMIT = 100;

let s: TestServer;
let member: TestUser;
let baseUrl: string;
let client: TollgateClient;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  s = await startTestServer();
  await upsertModel(s.deps, {
    name: MODEL,
    provider: 'mock',
    upstreamModel: 'mock-echo',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
    maxOutputTokens: LIMIT,
  });
  member = await createTestUser(s.testDb.db);
  baseUrl = await listen(s.app);
  client = createTollgateClient({ url: baseUrl, apiKey: member.apiKey });
  openai = new OpenAI({ apiKey: member.apiKey, baseURL: `${baseUrl}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: member.apiKey, baseURL: baseUrl, maxRetries: 0 });
});
afterAll(() => closeTestServer(s));

const messages = [{ role: 'user' as const, content: 'one two three four five six' }]; // 7 tokens

const post = (url: string, payload: Record<string, unknown>) =>
  s.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${member.apiKey}` },
    payload,
  });

const rowCount = () => requestLogRows(s);

const namesLimit = new RegExp(`max_tokens.*${LIMIT}`);

describe('max_tokens above the model limit: 400 naming max_tokens and the limit, on every surface', () => {
  it('/v1/chat/completions (max_tokens, max_completion_tokens, streamed or not)', async () => {
    const before = await rowCount();
    for (const body of [
      { max_tokens: 100_000_000 },
      { max_completion_tokens: LIMIT + 1 },
      { max_tokens: LIMIT + 1, stream: true },
    ]) {
      const res = await post('/v1/chat/completions', { model: MODEL, messages, ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      const err = res.json().error;
      expect(err).toMatchObject({ type: 'invalid_request_error', param: 'max_tokens' });
      expect(err.message).toMatch(namesLimit);
    }
    await expect(
      openai.chat.completions.create({ model: MODEL, messages, max_tokens: LIMIT + 1 }),
    ).rejects.toMatchObject({ status: 400, param: 'max_tokens' });
    expect(await rowCount()).toBe(before);
  });

  it('/v1/messages (streamed or not)', async () => {
    for (const stream of [false, true]) {
      const res = await post('/v1/messages', {
        model: MODEL,
        messages,
        max_tokens: LIMIT + 1,
        stream,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect(res.json().error.message).toMatch(namesLimit);
    }
    await expect(
      anthropic.messages.create({ model: MODEL, messages, max_tokens: LIMIT + 1 }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('POST /api/chat/completions, tRPC chat.complete and chat.stream', async () => {
    const before = await rowCount();
    const rest = await post('/api/chat/completions', {
      model: MODEL,
      messages,
      max_tokens: LIMIT + 1,
    });
    expect(rest.statusCode).toBe(400);
    expect(rest.body).toMatch(namesLimit);
    await expect(
      client.chat.complete.mutate({ model: MODEL, messages, max_tokens: LIMIT + 1 }),
    ).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST' },
      message: expect.stringMatching(namesLimit),
    });
    const streamError = await new Promise<unknown>((resolve) => {
      const sub = client.chat.stream.subscribe(
        { requestId: randomUUID(), model: MODEL, messages, max_tokens: LIMIT + 1 },
        {
          onData: () => {},
          onError: (e) => {
            sub.unsubscribe();
            resolve(e);
          },
          onComplete: () => resolve(null),
        },
      );
    });
    expect(streamError).toMatchObject({ message: expect.stringMatching(namesLimit) });
    expect(await rowCount()).toBe(before);
  });

  it('at the limit is accepted', async () => {
    const res = await post('/v1/chat/completions', { model: MODEL, messages, max_tokens: LIMIT });
    expect(res.statusCode).toBe(200);
  });
});

describe('the mock truncates to max_tokens like the real APIs', () => {
  it('OpenAI surface: finish_reason length, completion_tokens = max_tokens', async () => {
    const r = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 1 });
    expect(r.choices[0]?.finish_reason).toBe('length');
    expect(r.choices[0]?.message.content).toBe('one ');
    expect(r.usage?.completion_tokens).toBe(1);
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 2,
      stream: true,
    });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('one two ');
    expect(finish).toBe('length');
  });

  it('Anthropic surface: stop_reason max_tokens, streamed too', async () => {
    const m = await anthropic.messages.create({ model: MODEL, messages, max_tokens: 1 });
    expect(m.stop_reason).toBe('max_tokens');
    expect(m.usage.output_tokens).toBe(1);
    const final = await anthropic.messages
      .stream({ model: MODEL, messages, max_tokens: 2 })
      .finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    expect(final.content).toMatchObject([{ type: 'text', text: 'one two ' }]);
  });
});

describe('POST /api/chat/completions with "stream": true', () => {
  it('is refused with a 400 pointing at chat.stream; "stream": false is fine', async () => {
    const before = await rowCount();
    const res = await post('/api/chat/completions', { model: MODEL, messages, stream: true });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('chat.stream');
    expect(await rowCount()).toBe(before);
    const ok = await post('/api/chat/completions', { model: MODEL, messages, stream: false });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ content: 'one two three four five six' });
  });
});
