import { randomUUID } from 'node:crypto';
import { purgeStoredObjects } from '@tollgate/core';
import { createTestUser } from '@tollgate/core/testing';
import { sql } from 'kysely';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';
import { httpRouteCounts } from './metrics-text.ts';

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
afterAll(() => env.close());
beforeEach(() => env.fake.reset());

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: true,
};

type Json = Record<string, unknown>;

/** The request-log row of one call (the writer flushed first). */
async function logRow(requestId: string) {
  await env.s.deps.requestLog.flush();
  const { rows } = await sql<{
    model: string;
    provider: string;
    status: string;
    surface: string;
    input_tokens: number;
    output_tokens: number;
    cost_usd: string | null;
  }>`select model, provider, status, surface, input_tokens, output_tokens, cost_usd::text
     from request_logs where request_id = ${requestId}`.execute(env.s.testDb.db);
  return rows;
}

const lastBody = (route: 'POST /v1/responses' | 'POST /v1/messages') =>
  env.fake.requests(route).at(-1)?.body as Json;

describe('POST /v1/responses to an OpenAI model (native) through the official openai SDK', () => {
  it('answers a tool call, then continues from previous_response_id with the tool output', async () => {
    env.fake.script('POST /v1/responses', [
      { toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
    ]);
    const requestId = `req-${randomUUID()}`;
    const first = await env.openai.responses.create(
      {
        model: 'oa-mini',
        instructions: 'be brief',
        input: 'weather in Paris?',
        tools: [weatherTool],
        max_output_tokens: 200,
      },
      { headers: { 'x-request-id': requestId } },
    );
    expect(first.id).toMatch(/^resp_/);
    expect(first.model).toBe('oa-mini');
    expect(first.status).toBe('completed');
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({
      call_id: 'call_w1',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });

    // Upstream got the caller's body natively: model replaced, Tollgate stores (store: false up).
    const up1 = lastBody('POST /v1/responses');
    expect(up1).toMatchObject({
      model: 'gpt-4o-mini',
      instructions: 'be brief',
      max_output_tokens: 200,
      store: false,
      tools: [expect.objectContaining({ type: 'function', name: 'get_weather' })],
    });
    expect(up1.previous_response_id).toBeUndefined();

    const second = await env.openai.responses.create({
      model: 'oa-mini',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'call_w1', output: 'sunny, 21 C' }],
    });
    expect(second.previous_response_id).toBe(first.id);
    const up2 = lastBody('POST /v1/responses');
    const items = up2.input as Json[];
    // The conversation expanded by Tollgate: user turn, the function call, then its output.
    expect(items[0]).toMatchObject({ role: 'user', content: 'weather in Paris?' });
    expect(items[1]).toMatchObject({ type: 'function_call', call_id: 'call_w1' });
    expect(items.at(-1)).toMatchObject({
      type: 'function_call_output',
      call_id: 'call_w1',
      output: 'sunny, 21 C',
    });
    expect(up2.previous_response_id).toBeUndefined();

    // Tracing is off here (no OTEL_EXPORTER_OTLP_ENDPOINT): nothing is traced or propagated.
    expect(env.s.deps.tracing).toBeUndefined();
    expect(env.fake.requests('POST /v1/responses').at(-1)?.headers.traceparent).toBeUndefined();

    const rows = await logRow(requestId);
    expect(rows).toMatchObject([
      { model: 'oa-mini', provider: 'openai', status: 'ok', surface: 'openai' },
    ]);
    expect(rows[0]?.input_tokens).toBeGreaterThan(0);
    // Exact cost, as numeric(20,10): oa-mini is $1 per M input and $2 per M output tokens.
    const { input_tokens: inTok = 0, output_tokens: outTok = 0 } = rows[0] ?? {};
    expect(rows[0]?.cost_usd).toBe(((inTok * 1 + outTok * 2) / 1e6).toFixed(10));
  });

  it('passes reasoning items through to the upstream unchanged', async () => {
    const reasoning = {
      type: 'reasoning' as const,
      id: 'rs_abc',
      summary: [{ type: 'summary_text' as const, text: 'thought' }],
      encrypted_content: 'gAAAA-opaque',
    };
    const r = await env.openai.responses.create({
      model: 'oa-mini',
      include: ['reasoning.encrypted_content'],
      reasoning: { effort: 'low' },
      input: [{ role: 'user', content: 'first' }, reasoning, { role: 'user', content: 'second' }],
    });
    expect(r.output_text).toBe('second');
    const up = lastBody('POST /v1/responses');
    expect((up.input as Json[])[1]).toEqual(reasoning);
    expect(up).toMatchObject({
      include: ['reasoning.encrypted_content'],
      reasoning: { effort: 'low' },
    });
  });

  it('streams the full event sequence; the SDK assembles the response; follow-up works', async () => {
    env.fake.script('POST /v1/responses', [
      { stream: ['Hel', 'lo ', 'there'] },
      { toolCalls: [{ id: 'call_s1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
    ]);
    const stream = env.openai.responses.stream({
      model: 'oa-mini',
      input: 'say hello',
      tools: [weatherTool],
    });
    const types: string[] = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    const final = await stream.finalResponse();
    expect(text).toBe('Hello there');
    expect(final.output_text).toBe('Hello there');
    expect(final.id).toMatch(/^resp_/);
    expect(final.model).toBe('oa-mini');
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_item.added');
    expect(types).toContain('response.output_text.done');
    expect(types.at(-1)).toBe('response.completed');

    const follow = env.openai.responses.stream({
      model: 'oa-mini',
      previous_response_id: final.id,
      input: 'and the weather in Oslo?',
      tools: [weatherTool],
    });
    const done = await follow.finalResponse();
    expect(done.output.find((o) => o.type === 'function_call')).toMatchObject({
      call_id: 'call_s1',
      arguments: '{"city":"Oslo"}',
    });
    const items = lastBody('POST /v1/responses').input as Json[];
    expect(items.map((i) => i.role ?? i.type)).toEqual(['user', 'assistant', 'user']);
  });
});

describe('POST /v1/responses to an Anthropic model (translated both ways)', () => {
  it('translates tools, instructions and max_output_tokens, and continues with the tool output', async () => {
    env.fake.script('POST /v1/messages', [
      { toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Rome"}' }] },
    ]);
    const first = await env.openai.responses.create({
      model: 'an-sonnet',
      instructions: 'be brief',
      input: 'weather in Rome?',
      tools: [weatherTool],
      max_output_tokens: 300,
    });
    expect(first.model).toBe('an-sonnet');
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({
      call_id: 'toolu_1',
      name: 'get_weather',
      arguments: '{"city":"Rome"}',
    });
    expect(lastBody('POST /v1/messages')).toMatchObject({
      model: 'claude-sonnet-4-6',
      system: 'be brief',
      max_tokens: 300,
      tools: [{ name: 'get_weather', input_schema: weatherTool.parameters }],
    });

    const second = await env.openai.responses.create({
      model: 'an-sonnet',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'toolu_1', output: 'cloudy' }],
    });
    expect(second.status).toBe('completed');
    const messages = lastBody('POST /v1/messages').messages as Json[];
    expect(messages[1]).toMatchObject({
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Rome' } }],
    });
    expect(messages[2]).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'cloudy' }],
    });
  });

  it('streams a tool call as Responses events the SDK accepts, and a text follow-up', async () => {
    env.fake.script('POST /v1/messages', [
      { toolCalls: [{ id: 'toolu_s', name: 'get_weather', arguments: '{"city":"Lima"}' }] },
      { stream: ['It is ', 'warm.'] },
    ]);
    const stream = env.openai.responses.stream({
      model: 'an-sonnet',
      input: 'weather in Lima?',
      tools: [weatherTool],
    });
    const argDeltas: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => argDeltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(argDeltas.join('')).toBe('{"city":"Lima"}');
    expect(final.output).toMatchObject([
      {
        type: 'function_call',
        call_id: 'toolu_s',
        name: 'get_weather',
        arguments: '{"city":"Lima"}',
      },
    ]);

    const follow = env.openai.responses.stream({
      model: 'an-sonnet',
      previous_response_id: final.id,
      input: [{ type: 'function_call_output', call_id: 'toolu_s', output: '30 C' }],
    });
    const done = await follow.finalResponse();
    expect(done.output_text).toBe('It is warm.');
    expect(done.previous_response_id).toBe(final.id);
    expect(done.usage?.output_tokens).toBeGreaterThan(0);
    const fetched = await env.openai.responses.retrieve(done.id);
    expect(fetched.output_text).toBe('It is warm.');
  });

  it('carries Anthropic thinking as reasoning items and back, signatures intact', async () => {
    env.fake.script('POST /v1/messages', [
      { toolCalls: [{ id: 'toolu_r', name: 'get_weather', arguments: '{"city":"Kyiv"}' }] },
    ]);
    const first = await env.openai.responses.create({
      model: 'an-sonnet',
      input: 'weather in Kyiv?',
      tools: [weatherTool],
      reasoning: { effort: 'low' },
    });
    expect(lastBody('POST /v1/messages')).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
    const [reasoning, call] = first.output;
    expect(reasoning).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Thinking about: weather in Kyiv?' }],
    });
    expect(call).toMatchObject({ type: 'function_call', call_id: 'toolu_r' });

    // The next turn sends the thinking block back first, as Anthropic requires; the fake upstream
    // refuses a changed signature with a 400.
    const second = await env.openai.responses.create({
      model: 'an-sonnet',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'toolu_r', output: 'snow' }],
      reasoning: { effort: 'low' },
    });
    expect(second.status).toBe('completed');
    const assistant = (lastBody('POST /v1/messages').messages as Json[])[1];
    expect(assistant?.content).toMatchObject([
      {
        type: 'thinking',
        thinking: 'Thinking about: weather in Kyiv?',
        signature: expect.any(String),
      },
      { type: 'tool_use', id: 'toolu_r' },
    ]);
  });

  it('streams thinking as reasoning summary events and round-trips it', async () => {
    env.fake.script('POST /v1/messages', [{ stream: ['Sunny', '.'] }]);
    const stream = env.openai.responses.stream({
      model: 'an-sonnet',
      input: 'is it sunny?',
      reasoning: { effort: 'medium' },
    });
    let summary = '';
    stream.on('response.reasoning_summary_text.delta', (e) => {
      summary += e.delta;
    });
    const final = await stream.finalResponse();
    expect(summary).toBe('Thinking about: is it sunny?');
    expect(final.output_text).toBe('Sunny.');
    expect(final.output[0]).toMatchObject({
      type: 'reasoning',
      encrypted_content: expect.any(String),
    });

    const follow = await env.openai.responses
      .stream({
        model: 'an-sonnet',
        previous_response_id: final.id,
        input: 'and tomorrow?',
        reasoning: { effort: 'medium' },
      })
      .finalResponse();
    expect(follow.status).toBe('completed');
    const assistant = (lastBody('POST /v1/messages').messages as Json[])[1];
    expect((assistant?.content as Json[] | undefined)?.[0]).toMatchObject({
      type: 'thinking',
      thinking: 'Thinking about: is it sunny?',
    });
  });

  it('answers a mock model offline', async () => {
    const r = await env.openai.responses.create({ model: 'mock-echo', input: 'echo me' });
    expect(r.output_text).toBe('echo me');
    expect(r.usage?.input_tokens).toBeGreaterThan(0);
  });
});

describe('stored responses', () => {
  it('GET returns the stored response; DELETE removes it; store:false keeps nothing', async () => {
    const r = await env.openai.responses.create({ model: 'mock-echo', input: 'keep me' });
    const got = await env.openai.responses.retrieve(r.id);
    expect(got).toMatchObject({ id: r.id, output_text: 'keep me', model: 'mock-echo' });
    await env.openai.responses.delete(r.id);
    await expect(env.openai.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });

    const unstored = await env.openai.responses.create({
      model: 'mock-echo',
      input: 'forget me',
      store: false,
    });
    expect(unstored).toMatchObject({ store: false });
    await expect(env.openai.responses.retrieve(unstored.id)).rejects.toMatchObject({ status: 404 });
  });

  it('counts each route by its template in the HTTP metrics', async () => {
    const r = await env.openai.responses.create({ model: 'mock-echo', input: 'count me' });
    await env.openai.responses.retrieve(r.id);
    await env.openai.responses.delete(r.id);
    await env.anthropic.messages.countTokens({
      model: 'mock-echo',
      messages: [{ role: 'user', content: 'x' }],
    });
    const count = await httpRouteCounts(env.s.app);
    expect(count('/v1/responses', 'POST')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/responses/{id}', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/responses/{id}', 'DELETE')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/messages/count_tokens', 'POST')).toBeGreaterThanOrEqual(1);
  });

  it('past RESPONSES_RETENTION_DAYS a stored response is a 404, as previous_response_id too; the purge deletes it', async () => {
    const old = await env.openai.responses.create({ model: 'mock-echo', input: 'old turn' });
    const fresh = await env.openai.responses.create({ model: 'mock-echo', input: 'new turn' });
    expect(env.s.deps.config.responsesRetentionDays).toBe(30);
    await sql`update responses set created_at = now() - interval '30 days 1 minute'
      where id = ${old.id}`.execute(env.s.testDb.db);
    // Hidden at once, before any purge has run.
    await expect(env.openai.responses.retrieve(old.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      env.openai.responses.create({ model: 'mock-echo', input: 'x', previous_response_id: old.id }),
    ).rejects.toMatchObject({ status: 404, error: { param: 'previous_response_id' } });
    // The worker's purge deletes the row; the fresh one stays and still chains.
    const purged = await purgeStoredObjects(env.s.deps);
    expect(purged.responses).toBeGreaterThanOrEqual(1);
    const left = await sql<{
      id: string;
    }>`select id from responses where id in (${old.id}, ${fresh.id})`.execute(env.s.testDb.db);
    expect(left.rows.map((r) => r.id)).toEqual([fresh.id]);
    const next = await env.openai.responses.create({
      model: 'mock-echo',
      input: 'again',
      previous_response_id: fresh.id,
    });
    expect(next.previous_response_id).toBe(fresh.id);
  });

  it("someone else's response id is a 404, as previous_response_id too", async () => {
    const mine = await env.openai.responses.create({ model: 'mock-echo', input: 'private' });
    const other = await createTestUser(env.s.testDb.db);
    const them = new OpenAI({ apiKey: other.apiKey, baseURL: `${env.url}/v1`, maxRetries: 0 });
    await expect(them.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(them.responses.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      them.responses.create({ model: 'mock-echo', input: 'x', previous_response_id: mine.id }),
    ).rejects.toMatchObject({ status: 404, error: { param: 'previous_response_id' } });
    // Still there for its owner.
    expect((await env.openai.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('refuses a bad body with a 400 in OpenAI shape and stores nothing', async () => {
    const before = await sql<{ n: number }>`select count(*)::int as n from responses`.execute(
      env.s.testDb.db,
    );
    const res = await fetch(`${env.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.user.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-echo', input: 'x', max_output_tokens: 0 }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'bad_request', param: 'max_output_tokens' },
    });
    const after = await sql<{ n: number }>`select count(*)::int as n from responses`.execute(
      env.s.testDb.db,
    );
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
  });
});
