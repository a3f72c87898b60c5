import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
afterAll(() => env.close());

const weatherTool = {
  name: 'get_weather',
  description: 'weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
};

describe('Anthropic-compatible /v1/messages through the official @anthropic-ai/sdk', () => {
  it('answers a message with Anthropic content blocks, stop_reason and usage', async () => {
    const msg = await env.anthropic.messages.create({
      model: 'mock-echo',
      max_tokens: 64,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hello claude' }],
      stop_sequences: ['STOP'],
    });
    expect(msg).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'mock-echo',
      content: [{ type: 'text', text: 'hello claude' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  });

  it('accepts x-api-key as well as Bearer', async () => {
    const res = await fetch(`${env.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': env.user.apiKey,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'mock-echo',
        max_tokens: 10,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'via x-api-key' }] }],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ content: [{ type: 'text', text: 'via x-api-key' }] });
  });

  it("streams Anthropic's event sequence and the SDK assembles the final message", async () => {
    const raw = await env.anthropic.messages.create({
      model: 'mock-slow',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'alpha beta gamma' }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    for await (const ev of raw) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta')
        text += ev.delta.text;
    }
    expect(text).toBe('alpha beta gamma');
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThanOrEqual(3);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);

    const final = await env.anthropic.messages
      .stream({
        model: 'mock-echo',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'streamed hello' }],
      })
      .finalMessage();
    expect(final.content).toEqual(
      [{ type: 'text', text: 'streamed hello', citations: null }].map(({ type, text }) =>
        expect.objectContaining({ type, text }),
      ),
    );
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
  });

  it('returns a forced tool_use block, non-streaming and streaming', async () => {
    const msg = await env.anthropic.messages.create({
      model: 'mock-echo',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Oslo' }],
      tools: [weatherTool],
      tool_choice: { type: 'tool', name: 'get_weather' },
    });
    expect(msg.stop_reason).toBe('tool_use');
    const block = msg.content.find((b) => b.type === 'tool_use');
    expect(block).toMatchObject({
      type: 'tool_use',
      name: 'get_weather',
      input: { input: 'Oslo' },
    });

    const final = await env.anthropic.messages
      .stream({
        model: 'mock-echo',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Bergen' }],
        tools: [weatherTool],
        tool_choice: { type: 'any' },
      })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.find((b) => b.type === 'tool_use')).toMatchObject({
      name: 'get_weather',
      input: { input: 'Bergen' },
    });
  });

  it('carries a tool_result turn back to the model', async () => {
    const msg = await env.anthropic.messages.create({
      model: 'mock-echo',
      max_tokens: 64,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Oslo?' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            { type: 'text', text: 'thanks!' },
          ],
        },
      ],
    });
    expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text: 'thanks!' })]);
  });
});
