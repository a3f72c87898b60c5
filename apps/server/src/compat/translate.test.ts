import type { GatewayChatResult, GatewayStreamEvent } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import { messagesBodySchema } from './anthropic.schemas.ts';
import {
  anthropicToCanonical,
  anthropicUsage,
  createAnthropicStreamEncoder,
  parseToolInput,
  toAnthropicMessage,
} from './anthropic.translate.ts';
import { anthropicErrorBody, compatError, openaiErrorBody } from './errors.ts';
import { chatCompletionBodySchema } from './openai.schemas.ts';
import {
  createOpenAIStreamEncoder,
  embeddingToBase64,
  openaiToCanonical,
  toChatCompletion,
} from './openai.translate.ts';

const usage = {
  inputTokens: 100,
  cachedInputTokens: 30,
  cacheWriteTokens: 20,
  outputTokens: 15,
  reasoningTokens: 5,
};

const result = (over: Partial<GatewayChatResult> = {}): GatewayChatResult => ({
  id: 'up-1',
  content: 'hello',
  toolCalls: [],
  finishReason: 'stop',
  usage,
  model: 'm',
  provider: 'mock',
  requestId: 'req-1',
  created: 1_700_000_000,
  cacheHit: false,
  ...over,
});

/** Parses SSE frames back into {event, data} pairs. */
function parseFrames(frames: string[]): { event: string | undefined; data: unknown }[] {
  return frames
    .join('')
    .split('\n\n')
    .filter(Boolean)
    .map((f) => {
      const event = /^event: (.*)$/m.exec(f)?.[1];
      const data = /^data: (.*)$/m.exec(f)?.[1] ?? '';
      return { event, data: data === '[DONE]' ? '[DONE]' : JSON.parse(data) };
    });
}

describe('OpenAI request → canonical', () => {
  it('keeps messages, maps max_completion_tokens and drops nulls', () => {
    const body = chatCompletionBodySchema.parse({
      model: 'gpt',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'ok' }] },
      ],
      max_completion_tokens: 50,
      temperature: null,
      stop: ['x'],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      response_format: { type: 'json_object' },
      user: 'u1',
    });
    expect(openaiToCanonical(body)).toEqual({
      model: 'gpt',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      ],
      max_tokens: 50,
      stop: ['x'],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      response_format: { type: 'json_object' },
      user: 'u1',
    });
  });

  it('refuses n > 1 naming the field', () => {
    const r = chatCompletionBodySchema.safeParse({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      n: 2,
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['n']);
  });
});

describe('canonical → OpenAI', () => {
  it('builds a chat.completion with usage details and tool calls', () => {
    const toolCalls = [
      { id: 'c1', type: 'function' as const, function: { name: 'f', arguments: '{"a":1}' } },
    ];
    const out = toChatCompletion(result({ content: null, toolCalls, finishReason: 'tool_calls' }));
    expect(out).toMatchObject({
      id: 'chatcmpl-req-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: toolCalls },
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 15,
        total_tokens: 115,
        prompt_tokens_details: { cached_tokens: 30 },
        completion_tokens_details: { reasoning_tokens: 5 },
      },
    });
  });

  it('streams role, content, tool-call deltas, finish, usage and [DONE] in order', () => {
    const enc = createOpenAIStreamEncoder({
      id: 'chatcmpl-x',
      model: 'm',
      created: 1,
      includeUsage: true,
    });
    const events: GatewayStreamEvent[] = [
      { type: 'delta', content: 'Hel' },
      { type: 'delta', content: 'lo' },
      { type: 'delta', toolCalls: [{ index: 0, id: 'c1', name: 'f', arguments: '' }] },
      { type: 'delta', toolCalls: [{ index: 0, arguments: '{"a":1}' }] },
      { type: 'usage', usage },
      { type: 'finish', finishReason: 'tool_calls' },
    ];
    const frames = parseFrames([
      ...enc.start(),
      ...events.flatMap((e) => enc.event(e)),
      ...enc.end(),
    ]);
    const chunks = frames.map((f) => f.data);
    expect(chunks.at(-1)).toBe('[DONE]');
    const deltas = chunks.slice(0, -1) as unknown as {
      choices: { delta: unknown; finish_reason: unknown }[];
      usage?: unknown;
    }[];
    expect(deltas[0]?.choices[0]?.delta).toMatchObject({ role: 'assistant' });
    expect(deltas[1]?.choices[0]?.delta).toEqual({ content: 'Hel' });
    expect(deltas[3]?.choices[0]?.delta).toEqual({
      tool_calls: [
        { index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } },
      ],
    });
    expect(deltas[4]?.choices[0]?.delta).toEqual({
      tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }],
    });
    expect(deltas[5]?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    // usage chunk after the finish chunk, with no choices
    expect(deltas[6]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 100, total_tokens: 115 },
    });
    expect(deltas).toHaveLength(7);
  });

  it('leaves the usage chunk out unless asked', () => {
    const enc = createOpenAIStreamEncoder({ id: 'x', model: 'm', created: 1, includeUsage: false });
    enc.event({ type: 'usage', usage });
    enc.event({ type: 'finish', finishReason: 'stop' });
    expect(enc.end()).toEqual(['data: [DONE]\n\n']);
  });

  it('encodes embeddings as little-endian float32 base64', () => {
    const b64 = embeddingToBase64([1, -0.5]);
    const buf = Buffer.from(b64, 'base64');
    expect([buf.readFloatLE(0), buf.readFloatLE(4)]).toEqual([1, -0.5]);
  });
});

describe('Anthropic request → canonical', () => {
  it('maps system blocks, tool_use / tool_result turns, tools and tool_choice', () => {
    const body = messagesBodySchema.parse({
      model: 'claude',
      max_tokens: 100,
      system: [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ],
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'checking' },
            { type: 'tool_use', id: 't1', name: 'get_weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'sunny' }] },
            { type: 'text', text: 'thanks' },
          ],
        },
      ],
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
      stop_sequences: ['END'],
      metadata: { user_id: 'u' },
    });
    expect(anthropicToCanonical(body)).toEqual({
      model: 'claude',
      max_tokens: 100,
      messages: [
        { role: 'system', content: 'a\nb' },
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: 'checking',
          tool_calls: [
            {
              id: 't1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 't1', content: 'sunny' },
        { role: 'user', content: 'thanks' },
      ],
      tools: [
        { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
      ],
      tool_choice: 'required',
      stop: ['END'],
      user: 'u',
    });
  });

  it('turns images into data URLs and a named tool choice into a function choice', () => {
    const body = messagesBodySchema.parse({
      model: 'c',
      max_tokens: 1,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
          ],
        },
      ],
      tools: [{ name: 'f', input_schema: {} }],
      tool_choice: { type: 'tool', name: 'f' },
    });
    const c = anthropicToCanonical(body);
    expect(c.messages[0]).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'what is this' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
      ],
    });
    expect(c.tool_choice).toEqual({ type: 'function', function: { name: 'f' } });
  });

  it('requires max_tokens', () => {
    const r = messagesBodySchema.safeParse({
      model: 'c',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['max_tokens']);
  });
});

describe('canonical → Anthropic', () => {
  it('excludes cached tokens from input_tokens and reports them apart', () => {
    expect(anthropicUsage(usage)).toEqual({
      input_tokens: 50,
      output_tokens: 15,
      cache_read_input_tokens: 30,
      cache_creation_input_tokens: 20,
    });
  });

  it('builds a message with text and tool_use blocks', () => {
    const out = toAnthropicMessage(
      result({
        content: 'let me check',
        finishReason: 'tool_calls',
        toolCalls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      }),
    );
    expect(out).toEqual({
      id: 'msg_req1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [
        { type: 'text', text: 'let me check' },
        { type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: anthropicUsage(usage),
    });
    expect(toAnthropicMessage(result({ finishReason: 'length' })).stop_reason).toBe('max_tokens');
  });

  it('keeps unparseable tool arguments instead of dropping them', () => {
    expect(parseToolInput('')).toEqual({});
    expect(parseToolInput('{bad')).toEqual({ _raw: '{bad' });
  });

  it('streams the Anthropic event sequence with one block per text run and tool call', () => {
    const enc = createAnthropicStreamEncoder({ id: 'msg_1', model: 'm' });
    const events: GatewayStreamEvent[] = [
      { type: 'delta', content: 'Hi' },
      { type: 'delta', content: '!' },
      { type: 'delta', toolCalls: [{ index: 0, id: 'c1', name: 'f', arguments: '{"a"' }] },
      { type: 'delta', toolCalls: [{ index: 0, arguments: ':1}' }] },
      { type: 'delta', toolCalls: [{ index: 1, id: 'c2', name: 'g' }] },
      { type: 'finish', finishReason: 'tool_calls' },
      { type: 'usage', usage },
    ];
    const frames = parseFrames([
      ...enc.start(),
      ...events.flatMap((e) => enc.event(e)),
      ...enc.end(),
    ]);
    expect(frames.map((f) => f.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const f of frames) expect((f.data as { type: string }).type).toBe(f.event);
    expect(frames[5]?.data).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'c1', name: 'f', input: {} },
    });
    expect(frames[7]?.data).toEqual({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: ':1}' },
    });
    expect(frames[11]?.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: anthropicUsage(usage),
    });
  });
});

describe('error shapes', () => {
  it('maps domain codes to OpenAI and Anthropic types and statuses', () => {
    const nf = compatError('model_not_found', 'no such model', { param: 'model' });
    expect(nf.status).toBe(404);
    expect(openaiErrorBody(nf)).toEqual({
      error: {
        message: 'no such model',
        type: 'not_found_error',
        param: 'model',
        code: 'model_not_found',
      },
    });
    expect(anthropicErrorBody(nf)).toEqual({
      type: 'error',
      error: {
        type: 'not_found_error',
        message: 'no such model',
        details: { error_code: 'model_not_found' },
      },
    });
    const cases = [
      ['key_invalid', 401, 'authentication_error', 'authentication_error'],
      ['forbidden', 403, 'permission_error', 'permission_error'],
      ['bad_request', 400, 'invalid_request_error', 'invalid_request_error'],
      ['payload_too_large', 413, 'invalid_request_error', 'request_too_large'],
      ['budget_exceeded', 429, 'rate_limit_error', 'rate_limit_error'],
      ['upstream_error', 502, 'api_error', 'api_error'],
      ['upstream_timeout', 504, 'api_error', 'api_error'],
      ['unavailable', 503, 'api_error', 'overloaded_error'],
    ] as const;
    for (const [code, status, oType, aType] of cases) {
      const e = compatError(code, 'x');
      expect([e.status, openaiErrorBody(e).error.type, anthropicErrorBody(e).error.type]).toEqual([
        status,
        oType,
        aType,
      ]);
    }
  });
});
