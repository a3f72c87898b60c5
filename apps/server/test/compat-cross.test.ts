import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';

/*
 * Cross-format: the OpenAI surface calling an Anthropic model and the Anthropic surface calling an
 * OpenAI model, against the fake upstream speaking each provider's real wire format.
 */

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
beforeEach(() => env.fake.reset());
afterAll(() => env.close());

describe('OpenAI format → Anthropic model', () => {
  it('translates a non-streaming call, including usage with cache reads', async () => {
    env.fake.script('POST /v1/messages', [
      {
        stream: ['Hello from Claude'],
        usage: {
          input_tokens: 5,
          cache_read_input_tokens: 10,
          cache_creation_input_tokens: 0,
          output_tokens: 4,
        },
      },
    ]);
    const res = await env.openai.chat.completions.create({
      model: 'an-sonnet',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 100,
    });
    expect(res.choices[0]?.message.content).toBe('Hello from Claude');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.model).toBe('an-sonnet');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.usage).toMatchObject({
      prompt_tokens: 15,
      completion_tokens: 4,
      total_tokens: 19,
      prompt_tokens_details: { cached_tokens: 10 },
    });
    const upstream = env.fake.requests('POST /v1/messages')[0]?.body as Record<string, unknown>;
    expect(upstream).toMatchObject({ model: 'claude-sonnet-4-6', max_tokens: 100 });
  });

  it('streams tool calls from an Anthropic model as OpenAI tool_call deltas', async () => {
    env.fake.script('POST /v1/messages', [
      { toolCalls: [{ id: 'toolu_abc', name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
    ]);
    const stream = await env.openai.chat.completions.create({
      model: 'an-sonnet',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
        },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });
    const calls = new Map<number, { id?: string; name: string; args: string }>();
    let finish: string | null | undefined;
    let usage: unknown;
    for await (const c of stream) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        const cur = calls.get(t.index) ?? { name: '', args: '' };
        if (t.id) cur.id = t.id;
        cur.name += t.function?.name ?? '';
        cur.args += t.function?.arguments ?? '';
        calls.set(t.index, cur);
      }
      finish ??= c.choices[0]?.finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect([...calls.values()]).toEqual([
      { id: 'toolu_abc', name: 'get_weather', args: expect.any(String) },
    ]);
    expect(JSON.parse(calls.get(0)?.args ?? '')).toEqual({ city: 'Oslo' });
    expect(finish).toBe('tool_calls');
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number) });
    const upstream = env.fake.requests('POST /v1/messages')[0]?.body as { tools?: unknown[] };
    expect(upstream.tools).toEqual([expect.objectContaining({ name: 'get_weather' })]);
  });
});

describe('Anthropic format → OpenAI model', () => {
  it('translates a non-streaming tool call into a tool_use block', async () => {
    env.fake.script('POST /v1/chat/completions', [
      {
        toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Bergen"}' }],
        usage: { prompt_tokens: 20, prompt_tokens_details: { cached_tokens: 8 } },
      },
    ]);
    const msg = await env.anthropic.messages.create({
      model: 'oa-mini',
      max_tokens: 50,
      system: [{ type: 'text', text: 'you are a weather bot' }],
      messages: [{ role: 'user', content: 'weather in Bergen?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'auto' },
    });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Bergen' } },
    ]);
    // Anthropic's input_tokens excludes cache reads; they are reported apart.
    expect(msg.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 8 });
    const upstream = env.fake.requests('POST /v1/chat/completions')[0]?.body as {
      model: string;
      messages: { role: string }[];
      tools: unknown[];
    };
    expect(upstream.model).toBe('gpt-4o-mini');
    expect(upstream.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(upstream.tools).toEqual([
      expect.objectContaining({
        type: 'function',
        function: expect.objectContaining({ name: 'get_weather' }),
      }),
    ]);
  });

  it('streams an OpenAI model in Anthropic events, text and tool_use included', async () => {
    env.fake.script('POST /v1/chat/completions', [
      { stream: ['Hel', 'lo', ' there'] },
      {
        stream: ['Checking. '],
        toolCalls: [{ id: 'call_9', name: 'get_weather', arguments: '{"city":"Tromsø"}' }],
      },
    ]);
    const text = await env.anthropic.messages
      .stream({ model: 'oa-mini', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(text.content).toEqual([expect.objectContaining({ type: 'text', text: 'Hello there' })]);
    expect(text.stop_reason).toBe('end_turn');
    expect(text.usage.output_tokens).toBeGreaterThan(0);

    const tool = await env.anthropic.messages
      .stream({
        model: 'oa-mini',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
      })
      .finalMessage();
    expect(tool.stop_reason).toBe('tool_use');
    expect(tool.content).toEqual([
      expect.objectContaining({ type: 'text', text: 'Checking. ' }),
      expect.objectContaining({
        type: 'tool_use',
        id: 'call_9',
        name: 'get_weather',
        input: { city: 'Tromsø' },
      }),
    ]);
    // The upstream was asked for usage in the stream.
    const req = env.fake.requests('POST /v1/chat/completions')[1]?.body as Record<string, unknown>;
    expect(req.stream).toBe(true);
  });
});
