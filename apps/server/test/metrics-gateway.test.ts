import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';
import { parseSamples, sampleValue } from './metrics-text.ts';

let s: TestServer;
let member: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
  await seedModels(s.deps); // the built-in mock models
});
afterAll(() => closeTestServer(s));

const call = (body: Record<string, unknown>) =>
  s.app.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { authorization: `Bearer ${member.apiKey}` },
    payload: { messages: [{ role: 'user', content: 'one two three' }], ...body },
  });

describe('gateway metrics', () => {
  it('after 3 model calls a scrape shows their upstream calls, tokens and cost', async () => {
    let input = 0;
    let output = 0;
    for (let i = 0; i < 3; i++) {
      const res = await call({ model: 'mock-echo' });
      expect(res.statusCode, res.body).toBe(200);
      const usage = (res.json() as { usage: { prompt_tokens: number; completion_tokens: number } })
        .usage;
      input += usage.prompt_tokens;
      output += usage.completion_tokens;
    }
    const samples = parseSamples((await s.app.inject({ method: 'GET', url: '/metrics' })).body);
    const mock = { provider: 'mock', model: 'mock-echo' };
    expect(
      sampleValue(samples, 'tollgate_http_request_duration_seconds_count', {
        route: '/v1/chat/completions',
        method: 'POST',
        status: '200',
      }),
    ).toBe(3);
    expect(sampleValue(samples, 'tollgate_upstream_request_duration_seconds_count', mock)).toBe(3);
    expect(sampleValue(samples, 'tollgate_tokens_total', { ...mock, direction: 'input' })).toBe(
      input,
    );
    expect(sampleValue(samples, 'tollgate_tokens_total', { ...mock, direction: 'output' })).toBe(
      output,
    );
    // Mock prices: $1 per M input tokens, $2 per M output tokens (PRODUCT.md).
    expect(sampleValue(samples, 'tollgate_cost_usd_total', mock)).toBeCloseTo(
      (input + 2 * output) / 1e6,
      12,
    );
  });

  it('a streamed call records time to first token', async () => {
    const res = await call({ model: 'mock-echo', stream: true });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('[DONE]');
    const samples = parseSamples((await s.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(
      sampleValue(samples, 'tollgate_upstream_ttft_seconds_count', {
        provider: 'mock',
        model: 'mock-echo',
      }),
    ).toBe(1);
  });

  it('unknown model names never become label values', async () => {
    for (let i = 0; i < 200; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => call({ model: `no-such-model-${i + j}` })),
      );
    }
    const text = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).not.toContain('no-such-model');
    expect(
      sampleValue(parseSamples(text), 'tollgate_http_request_duration_seconds_count', {
        route: '/v1/chat/completions',
        status: '404',
      }),
    ).toBe(200);
  });
});
