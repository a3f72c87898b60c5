import type { IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import type {
  Response as OpenAIResponse,
  ResponseUsage,
} from 'openai/resources/responses/responses';
import { streamEventError, toProviderError } from './errors.ts';
import type {
  CallOptions,
  ChatResponse,
  FinishReason,
  StreamEvent,
  ToolCall,
  Usage,
} from './types.ts';
import { ProviderError } from './types.ts';

/*
 * OpenAI's Responses API spoken natively (ChatRequest.native with wire 'openai.responses'): the
 * caller's body goes out as is, the answer comes back as is (`raw`), and the canonical fields
 * are read off it so the gateway can bill, log and count it like any chat call.
 */

export type { OpenAIResponse };

type JsonObject = Record<string, unknown>;

/** Responses usage → normalized Usage (input_tokens includes cached ones, output reasoning). */
export function normalizeResponsesUsage(u: ResponseUsage | null | undefined): Usage {
  return {
    inputTokens: u?.input_tokens ?? 0,
    cachedInputTokens: u?.input_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: 0,
    outputTokens: u?.output_tokens ?? 0,
    reasoningTokens: u?.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

function finishOf(
  r: Pick<OpenAIResponse, 'status' | 'incomplete_details'>,
  calls: number,
): FinishReason {
  if (r.status === 'incomplete') {
    return r.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
  }
  return calls > 0 ? 'tool_calls' : 'stop';
}

/** A Response object → the canonical answer (text, function calls, finish, usage). */
export function fromOpenAIResponse(r: OpenAIResponse): ChatResponse {
  let text = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  for (const item of r.output ?? []) {
    if (item.type === 'message') {
      for (const c of item.content) {
        if (c.type === 'output_text') {
          text += c.text;
          hasText = true;
        }
      }
    } else if (item.type === 'function_call') {
      toolCalls.push({
        id: item.call_id,
        type: 'function',
        function: { name: item.name, arguments: item.arguments },
      });
    }
  }
  return {
    id: r.id,
    content: hasText || toolCalls.length === 0 ? text : null,
    toolCalls,
    finishReason: finishOf(r, toolCalls.length),
    usage: normalizeResponsesUsage(r.usage),
  };
}

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * A Responses SSE body → raw events (each first) and the canonical events they carry. The stream
 * ends at the terminal response event (the Responses API sends no [DONE]).
 */
export async function* responseStreamEvents(
  res: IncomingMessage,
  call: CallOptions,
): AsyncGenerator<StreamEvent> {
  const queue: Array<{ type: string } & JsonObject> = [];
  let bad: ProviderError | undefined;
  const parser = createParser({
    onEvent(event) {
      if (bad) return;
      try {
        const parsed = JSON.parse(event.data) as JsonObject;
        if (typeof parsed.type !== 'string') throw new Error('no type');
        queue.push(parsed as { type: string } & JsonObject);
      } catch {
        bad = new ProviderError('server', 'openai: upstream sent an invalid stream event');
      }
    },
  });
  // output_index → canonical tool-call index, over function_call items only.
  const toolIndex = new Map<number, number>();
  let terminal = false;
  res.setEncoding('utf8');
  try {
    for await (const chunk of res as AsyncIterable<string>) {
      parser.feed(chunk);
      if (bad) throw bad;
      for (const ev of queue) {
        if (ev.type === 'error') throw streamEventError('openai', JSON.stringify({ error: ev }));
        yield { type: 'raw', event: ev };
        yield* canonicalOf(ev, toolIndex);
        if (ev.type === 'response.failed') {
          const err = (ev.response as { error?: { message?: string } } | undefined)?.error;
          throw new ProviderError('server', `openai: ${err?.message ?? 'response failed'}`);
        }
        if (TERMINAL.has(ev.type)) terminal = true;
      }
      queue.length = 0;
      if (terminal) break;
    }
  } catch (err) {
    throw err instanceof ProviderError ? err : toProviderError('openai', err, call.signal);
  } finally {
    if (!res.complete) res.destroy();
  }
  if (call.signal.aborted) throw toProviderError('openai', new Error('aborted'), call.signal);
  if (!terminal)
    throw new ProviderError('connection', 'openai: stream ended before the response did');
}

function* canonicalOf(
  ev: { type: string } & JsonObject,
  toolIndex: Map<number, number>,
): Generator<StreamEvent> {
  switch (ev.type) {
    case 'response.output_text.delta':
      if (typeof ev.delta === 'string' && ev.delta !== '')
        yield { type: 'delta', content: ev.delta };
      return;
    case 'response.output_item.added': {
      const item = ev.item as JsonObject | undefined;
      if (item?.type !== 'function_call') return;
      const index = toolIndex.size;
      toolIndex.set(ev.output_index as number, index);
      yield {
        type: 'delta',
        toolCalls: [
          { index, id: String(item.call_id ?? ''), name: String(item.name ?? ''), arguments: '' },
        ],
      };
      return;
    }
    case 'response.function_call_arguments.delta': {
      const index = toolIndex.get(ev.output_index as number);
      if (index !== undefined && typeof ev.delta === 'string' && ev.delta !== '')
        yield { type: 'delta', toolCalls: [{ index, arguments: ev.delta }] };
      return;
    }
    case 'response.completed':
    case 'response.incomplete': {
      const r = ev.response as OpenAIResponse;
      yield { type: 'finish', finishReason: finishOf(r, toolIndex.size) };
      yield { type: 'usage', usage: normalizeResponsesUsage(r.usage) };
      return;
    }
  }
}
