import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
afterAll(() => env.close());

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
  },
};

describe('OpenAI-compatible /v1 through the official openai SDK', () => {
  it('lists catalog models in OpenAI list shape', async () => {
    const ids: string[] = [];
    for await (const m of env.openai.models.list()) {
      expect(m.object).toBe('model');
      ids.push(m.id);
    }
    expect(ids).toEqual(
      expect.arrayContaining(['mock-echo', 'mock-slow', 'mock-embed', 'oa-mini']),
    );
    const one = await env.openai.models.retrieve('mock-echo');
    expect(one).toMatchObject({ id: 'mock-echo', object: 'model', owned_by: 'mock' });
  });

  it('answers a non-streaming chat completion and records one row', async () => {
    const { data, response } = await env.openai.chat.completions
      .create({
        model: 'mock-echo',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'hello there' },
        ],
        temperature: 0.2,
        top_p: 0.9,
        max_completion_tokens: 64,
        stop: ['\n\n'],
        response_format: { type: 'text' },
        user: 'end-user-1',
      })
      .withResponse();
    expect(data).toMatchObject({
      object: 'chat.completion',
      model: 'mock-echo',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' },
      ],
    });
    expect(data.id).toMatch(/^chatcmpl/);
    const u = data.usage;
    expect(u?.prompt_tokens).toBeGreaterThan(0);
    expect(u?.completion_tokens).toBeGreaterThan(0);
    expect(u?.total_tokens).toBe((u?.prompt_tokens ?? 0) + (u?.completion_tokens ?? 0));
    expect(u?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(u?.completion_tokens_details?.reasoning_tokens).toBe(0);

    const requestId = response.headers.get('x-request-id');
    await env.s.deps.requestLog.flush();
    const rows = await env.s.testDb.db
      .selectFrom('request_logs')
      .selectAll()
      .where('request_id', '=', requestId ?? '')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: 'ok',
      model: 'mock-echo',
      user_id: env.user.id,
      key_id: env.user.apiKeyId,
      input_tokens: u?.prompt_tokens,
      output_tokens: u?.completion_tokens,
    });
  });

  it('streams chunks with role first, content deltas, finish, usage and [DONE]', async () => {
    const stream = await env.openai.chat.completions.create({
      model: 'mock-slow',
      messages: [{ role: 'user', content: 'one two three four' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('one two three four');
    // one word per chunk on mock-slow: the stream really is incremental
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThanOrEqual(4);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish?.choices[0]?.finish_reason).toBe('stop');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    // streamed replies bypass Fastify's onResponse; they are still counted by route template
    await vi.waitFor(async () => {
      const text = await env.s.deps.metrics.registry.metrics();
      expect(text).toMatch(
        /tollgate_http_request_duration_seconds_count\{[^}]*route="\/v1\/chat\/completions"[^}]*status="200"[^}]*\} [1-9]/,
      );
    });
  });

  it('sends no usage chunk unless include_usage is set', async () => {
    const stream = await env.openai.chat.completions.create({
      model: 'mock-echo',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('hi');
  });

  it('returns forced tool calls, non-streaming and streaming', async () => {
    const res = await env.openai.chat.completions.create({
      model: 'mock-echo',
      messages: [{ role: 'user', content: 'Oslo' }],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ input: 'Oslo' });

    const stream = await env.openai.chat.completions.create({
      model: 'mock-echo',
      messages: [{ role: 'user', content: 'Oslo' }],
      tools: [weatherTool],
      tool_choice: 'required',
      stream: true,
    });
    let name = '';
    let args = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        name += t.function?.name ?? '';
        args += t.function?.arguments ?? '';
      }
      finish ??= c.choices[0]?.finish_reason;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ input: 'Oslo' });
    expect(finish).toBe('tool_calls');
  });

  it('accepts a tool-result conversation', async () => {
    const res = await env.openai.chat.completions.create({
      model: 'mock-echo',
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
        { role: 'user', content: 'thanks' },
      ],
      tools: [weatherTool],
    });
    expect(res.choices[0]?.message.content).toBe('thanks');
  });

  it('creates embeddings (SDK default base64 and explicit float agree)', async () => {
    const b64 = await env.openai.embeddings.create({ model: 'mock-embed', input: ['a', 'bb'] });
    expect(b64.object).toBe('list');
    expect(b64.model).toBe('mock-embed');
    expect(b64.data).toHaveLength(2);
    expect(b64.data.map((d) => d.index)).toEqual([0, 1]);
    expect(b64.data[0]?.embedding).toHaveLength(256);
    expect(b64.usage.prompt_tokens).toBeGreaterThan(0);

    const float = await env.openai.embeddings.create({
      model: 'mock-embed',
      input: 'a',
      encoding_format: 'float',
    });
    const v = float.data[0]?.embedding ?? [];
    expect(v).toHaveLength(256);
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    const fromB64 = b64.data[0]?.embedding ?? [];
    v.forEach((x, i) => {
      expect(fromB64[i]).toBeCloseTo(x, 6);
    });
  });
});
