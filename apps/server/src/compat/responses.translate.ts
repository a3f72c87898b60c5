import { randomBytes } from 'node:crypto';
import type { GatewayStreamEvent } from '@tollgate/core';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  ReasoningBlock,
  ToolCall,
  Usage,
} from '@tollgate/providers';
import type { StreamEncoder } from './kit.ts';
import type { ResponseInputItem, ResponsesBody } from './responses.schemas.ts';

/*
 * OpenAI Responses API ⇄ the canonical (chat-completions-shaped) gateway format, for models whose
 * provider does not speak the Responses API (Anthropic, mock). OpenAI models get the caller's own
 * body (ChatRequest.native) and their answer is passed back with only id and model rewritten.
 */

type Json = Record<string, unknown>;

const hex = (n: number) => randomBytes(n).toString('hex');

/** Tollgate's own response id (the upstream's is never shown: GET and DELETE use ours). */
export const newResponseId = (): string => `resp_${hex(24)}`;

/*
 * Reasoning of a translated provider (Anthropic thinking blocks, signatures included) travels in a
 * reasoning item's `encrypted_content`, as OpenAI's own reasoning does: opaque to the client, sent
 * back with the next turn, and restored verbatim (the thinking text is also its summary).
 */
const REASONING_PREFIX = 'tgr1:';

export function encodeReasoning(blocks: ReasoningBlock[]): string {
  return REASONING_PREFIX + Buffer.from(JSON.stringify(blocks)).toString('base64url');
}

/** Blocks from a reasoning item Tollgate produced; anything else (OpenAI's own) is not ours. */
export function decodeReasoning(encrypted: string | null | undefined): ReasoningBlock[] {
  if (!encrypted?.startsWith(REASONING_PREFIX)) return [];
  try {
    const v: unknown = JSON.parse(
      Buffer.from(encrypted.slice(REASONING_PREFIX.length), 'base64url').toString('utf8'),
    );
    if (!Array.isArray(v)) return [];
    return v.filter(
      (b): b is ReasoningBlock =>
        (b?.type === 'thinking' &&
          typeof b.thinking === 'string' &&
          typeof b.signature === 'string') ||
        (b?.type === 'redacted_thinking' && typeof b.data === 'string'),
    );
  } catch {
    return [];
  }
}

/** Responses `reasoning.effort` → a thinking budget for providers that take one. */
const EFFORT_BUDGET: Record<string, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 24576,
};

function reasoningItem(id: string, block: ReasoningBlock): Json {
  return {
    id,
    type: 'reasoning',
    summary:
      block.type === 'thinking' && block.thinking !== ''
        ? [{ type: 'summary_text', text: block.thinking }]
        : [],
    encrypted_content: encodeReasoning([block]),
  };
}

/** A string input is one user message. */
export function inputItems(input: ResponsesBody['input']): ResponseInputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return input;
}

function partsOf(content: Extract<ResponseInputItem, { role: string }>['content']): {
  text: string;
  parts: ContentPart[];
} {
  if (typeof content === 'string')
    return { text: content, parts: [{ type: 'text', text: content }] };
  const parts: ContentPart[] = [];
  let text = '';
  for (const p of content) {
    if (p.type === 'input_text' || p.type === 'output_text') {
      parts.push({ type: 'text', text: p.text });
      text += p.text;
    } else if (p.type === 'refusal') {
      text += p.refusal;
    } else if (p.type === 'input_image' && p.image_url) {
      parts.push({
        type: 'image_url',
        image_url: { url: p.image_url, ...(p.detail ? { detail: p.detail } : {}) },
      });
    }
  }
  return { text, parts };
}

function outputText(
  output: Extract<ResponseInputItem, { type: 'function_call_output' }>['output'],
) {
  if (typeof output === 'string') return output;
  return output.map((p) => (typeof p.text === 'string' ? p.text : '')).join('');
}

/**
 * The whole conversation (earlier turns expanded) → canonical messages. Reasoning items have no
 * canonical place and are left out for these providers (an OpenAI upstream gets them as sent).
 */
export function responsesToCanonical(body: ResponsesBody, items: ResponseInputItem[]): ChatRequest {
  const messages: ChatMessage[] = [];
  if (body.instructions) messages.push({ role: 'system', content: body.instructions });
  // Reasoning items precede the assistant output they led to: they join its message.
  let pending: ReasoningBlock[] = [];
  const withReasoning = (m: Extract<ChatMessage, { role: 'assistant' }>) => {
    if (pending.length > 0) m.reasoning = [...(m.reasoning ?? []), ...pending];
    pending = [];
    return m;
  };
  for (const item of items) {
    if (item.type === 'function_call') {
      const call: ToolCall = {
        id: item.call_id,
        type: 'function',
        function: { name: item.name, arguments: item.arguments },
      };
      const last = messages.at(-1);
      if (last?.role === 'assistant' && pending.length === 0)
        last.tool_calls = [...(last.tool_calls ?? []), call];
      else messages.push(withReasoning({ role: 'assistant', content: null, tool_calls: [call] }));
    } else if (item.type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: outputText(item.output) });
    } else if (item.type === 'reasoning') {
      pending.push(...decodeReasoning(item.encrypted_content));
    } else {
      const { text, parts } = partsOf(item.content);
      if (item.role === 'assistant')
        messages.push(withReasoning({ role: 'assistant', content: text }));
      else if (item.role === 'user')
        messages.push({
          role: 'user',
          content: parts.every((p) => p.type === 'text') ? text : parts,
        });
      else messages.push({ role: item.role, content: text });
    }
  }
  const format = body.text?.format;
  const effort = (body.reasoning as { effort?: unknown } | null | undefined)?.effort;
  const budget = typeof effort === 'string' ? EFFORT_BUDGET[effort] : undefined;
  return {
    model: body.model,
    messages,
    ...(budget !== undefined ? { reasoning: { budgetTokens: budget } } : {}),
    ...(body.max_output_tokens != null ? { max_tokens: body.max_output_tokens } : {}),
    ...(body.temperature != null ? { temperature: body.temperature } : {}),
    ...(body.top_p != null ? { top_p: body.top_p } : {}),
    ...(body.tools && body.tools.length > 0
      ? {
          tools: body.tools.map((t) => ({
            type: 'function' as const,
            function: {
              name: t.name,
              ...(t.description ? { description: t.description } : {}),
              ...(t.parameters ? { parameters: t.parameters } : {}),
            },
          })),
        }
      : {}),
    ...(body.tool_choice != null
      ? {
          tool_choice:
            typeof body.tool_choice === 'string'
              ? body.tool_choice
              : { type: 'function' as const, function: { name: body.tool_choice.name } },
        }
      : {}),
    ...(format?.type === 'json_object'
      ? { response_format: { type: 'json_object' as const } }
      : {}),
    ...(format?.type === 'json_schema'
      ? {
          response_format: {
            type: 'json_schema' as const,
            json_schema: {
              name: format.name,
              schema: format.schema,
              ...(format.strict != null ? { strict: format.strict } : {}),
            },
          },
        }
      : {}),
    ...(body.user ? { user: body.user } : {}),
  };
}

export type ResponsesUsage = {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
};

export function responsesUsage(u: Usage): ResponsesUsage {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** What every Response object of one call shares, whichever provider served it. */
export type ResponseFrame = {
  id: string;
  createdAt: number;
  model: string;
  body: ResponsesBody;
  store: boolean;
};

/** The Response object around `output`; the request's own settings echoed as OpenAI does. */
export function responseObject(
  f: ResponseFrame,
  status: 'in_progress' | 'completed' | 'incomplete',
  output: Json[],
  usage: Usage | null,
  finish?: FinishReason,
): Json {
  const b = f.body;
  return {
    id: f.id,
    object: 'response',
    created_at: f.createdAt,
    status,
    error: null,
    incomplete_details:
      status === 'incomplete'
        ? { reason: finish === 'content_filter' ? 'content_filter' : 'max_output_tokens' }
        : null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: f.model,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: b.previous_response_id ?? null,
    reasoning: { effort: null, summary: null, ...(b.reasoning ?? {}) },
    store: f.store,
    temperature: b.temperature ?? 1,
    text: { format: { type: 'text' }, ...(b.text ?? {}) },
    tool_choice: b.tool_choice ?? 'auto',
    tools: (b.tools ?? []).map((t) => ({
      type: 'function',
      name: t.name,
      description: t.description ?? null,
      parameters: t.parameters ?? null,
      strict: t.strict ?? true,
    })),
    top_p: b.top_p ?? 1,
    truncation: 'disabled',
    usage: usage ? responsesUsage(usage) : null,
    user: b.user ?? null,
    metadata: b.metadata ?? {},
  };
}

const statusOf = (f: FinishReason): 'completed' | 'incomplete' =>
  f === 'length' || f === 'content_filter' ? 'incomplete' : 'completed';

function messageItem(id: string, text: string, status: 'in_progress' | 'completed'): Json {
  return {
    id,
    type: 'message',
    status,
    role: 'assistant',
    content: status === 'in_progress' ? [] : [{ type: 'output_text', text, annotations: [] }],
  };
}

function functionCallItem(id: string, call: ToolCall, status: 'in_progress' | 'completed'): Json {
  return {
    id,
    type: 'function_call',
    status,
    call_id: call.id,
    name: call.function.name,
    arguments: status === 'in_progress' ? '' : call.function.arguments,
  };
}

/** A canonical answer → the Response object. */
export function toResponseObject(
  f: ResponseFrame,
  r: {
    content: string | null;
    toolCalls: ToolCall[];
    finishReason: FinishReason;
    usage: Usage;
    reasoning?: ReasoningBlock[] | undefined;
  },
): Json {
  const output: Json[] = (r.reasoning ?? []).map((b) => reasoningItem(`rs_${hex(24)}`, b));
  if (r.content !== null && (r.content !== '' || r.toolCalls.length === 0))
    output.push(messageItem(`msg_${hex(24)}`, r.content, 'completed'));
  for (const c of r.toolCalls) output.push(functionCallItem(`fc_${hex(24)}`, c, 'completed'));
  return responseObject(f, statusOf(r.finishReason), output, r.usage, r.finishReason);
}

/** An OpenAI upstream's own Response with Tollgate's id, model name and storage settings. */
export function rewriteNativeResponse(f: ResponseFrame, raw: Json): Json {
  return {
    ...raw,
    id: f.id,
    model: f.model,
    previous_response_id: f.body.previous_response_id ?? null,
    store: f.store,
  };
}

/** Stream encoders also give the finished Response (to store) before its terminal event is sent. */
export type ResponsesStreamEncoder = StreamEncoder & {
  /** The completed Response, once the stream finished cleanly; undefined otherwise. */
  final(): Json | undefined;
};

const sse = (type: string, data: Json): string =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/**
 * An OpenAI upstream's own event sequence, passed on with the Response objects of lifecycle
 * events rewritten (id, model). The terminal event is held back until end(), so the route can
 * store the Response before the client sees it complete.
 */
export function createNativeResponsesEncoder(f: ResponseFrame): ResponsesStreamEncoder {
  let terminal: { type: string; event: Json; response: Json } | undefined;
  return {
    start: () => [],
    event(e: GatewayStreamEvent) {
      if (e.type !== 'raw') return [];
      const ev = e.event as Json & { type: string };
      const response = ev.response as Json | undefined;
      if (response === undefined) return [sse(ev.type, ev)];
      const rewritten = { ...ev, response: rewriteNativeResponse(f, response) };
      if (ev.type === 'response.completed' || ev.type === 'response.incomplete') {
        terminal = { type: ev.type, event: rewritten, response: rewritten.response };
        return [];
      }
      return [sse(ev.type, rewritten)];
    },
    end: () => (terminal ? [sse(terminal.type, terminal.event)] : []),
    final: () => terminal?.response,
  };
}

/**
 * Canonical stream events → the Responses event sequence: response.created, in_progress, then per
 * output item added / deltas / done, then response.completed (or .incomplete) with the whole
 * Response. Every event carries a sequence_number.
 */
export function createResponsesStreamEncoder(f: ResponseFrame): ResponsesStreamEncoder {
  let seq = 0;
  const ev = (type: string, data: Json) => sse(type, { sequence_number: seq++, ...data });
  const output: Json[] = [];
  let open:
    | { kind: 'text'; index: number; id: string; text: string }
    | { kind: 'tool'; index: number; id: string; toolIndex: number; call: ToolCall }
    | {
        kind: 'reasoning';
        index: number;
        id: string;
        reasoningIndex: number;
        block: ReasoningBlock;
        partOpen: boolean;
      }
    | undefined;
  const reasoningSeen = new Set<number>();
  const calls = new Map<number, { index: number; id: string; call: ToolCall }>();
  let finish: FinishReason | undefined;
  let usage: Usage | undefined;
  let failed = false;

  const close = (): string[] => {
    if (!open) return [];
    const o = open;
    open = undefined;
    if (o.kind === 'reasoning') {
      const item = reasoningItem(o.id, o.block);
      output[o.index] = item;
      const frames: string[] = [];
      if (o.partOpen && o.block.type === 'thinking') {
        const part = { type: 'summary_text', text: o.block.thinking };
        frames.push(
          ev('response.reasoning_summary_text.done', {
            item_id: o.id,
            output_index: o.index,
            summary_index: 0,
            text: o.block.thinking,
          }),
          ev('response.reasoning_summary_part.done', {
            item_id: o.id,
            output_index: o.index,
            summary_index: 0,
            part,
          }),
        );
      }
      frames.push(ev('response.output_item.done', { output_index: o.index, item }));
      return frames;
    }
    if (o.kind === 'text') {
      const item = messageItem(o.id, o.text, 'completed');
      output[o.index] = item;
      const part = { type: 'output_text', text: o.text, annotations: [] };
      return [
        ev('response.output_text.done', {
          item_id: o.id,
          output_index: o.index,
          content_index: 0,
          text: o.text,
          logprobs: [],
        }),
        ev('response.content_part.done', {
          item_id: o.id,
          output_index: o.index,
          content_index: 0,
          part,
        }),
        ev('response.output_item.done', { output_index: o.index, item }),
      ];
    }
    const item = functionCallItem(o.id, o.call, 'completed');
    output[o.index] = item;
    return [
      ev('response.function_call_arguments.done', {
        item_id: o.id,
        output_index: o.index,
        arguments: o.call.function.arguments,
      }),
      ev('response.output_item.done', { output_index: o.index, item }),
    ];
  };

  const completed = (): Json =>
    responseObject(f, statusOf(finish ?? 'stop'), output, usage ?? null, finish);

  return {
    start: () => [
      ev('response.created', { response: responseObject(f, 'in_progress', [], null) }),
      ev('response.in_progress', { response: responseObject(f, 'in_progress', [], null) }),
    ],
    event(e) {
      const frames: string[] = [];
      switch (e.type) {
        case 'delta': {
          const r = e.reasoning;
          if (r) {
            if (!reasoningSeen.has(r.index)) {
              reasoningSeen.add(r.index);
              frames.push(...close());
              const index = output.length;
              open = {
                kind: 'reasoning',
                index,
                id: `rs_${hex(24)}`,
                reasoningIndex: r.index,
                block:
                  r.type === 'thinking'
                    ? { type: 'thinking', thinking: '', signature: '' }
                    : { type: 'redacted_thinking', data: r.data ?? '' },
                partOpen: false,
              };
              const item = { id: open.id, type: 'reasoning', summary: [] };
              output.push(item);
              frames.push(ev('response.output_item.added', { output_index: index, item }));
            }
            if (open?.kind === 'reasoning' && open.block.type === 'thinking') {
              if (r.signature) open.block.signature += r.signature;
              if (r.thinking) {
                if (!open.partOpen) {
                  open.partOpen = true;
                  frames.push(
                    ev('response.reasoning_summary_part.added', {
                      item_id: open.id,
                      output_index: open.index,
                      summary_index: 0,
                      part: { type: 'summary_text', text: '' },
                    }),
                  );
                }
                open.block.thinking += r.thinking;
                frames.push(
                  ev('response.reasoning_summary_text.delta', {
                    item_id: open.id,
                    output_index: open.index,
                    summary_index: 0,
                    delta: r.thinking,
                  }),
                );
              }
            }
          }
          if (e.content) {
            if (open?.kind !== 'text') {
              frames.push(...close());
              const index = output.length;
              open = { kind: 'text', index, id: `msg_${hex(24)}`, text: '' };
              const item = messageItem(open.id, '', 'in_progress');
              output.push(item);
              frames.push(
                ev('response.output_item.added', { output_index: index, item }),
                ev('response.content_part.added', {
                  item_id: open.id,
                  output_index: index,
                  content_index: 0,
                  part: { type: 'output_text', text: '', annotations: [] },
                }),
              );
            }
            open.text += e.content;
            frames.push(
              ev('response.output_text.delta', {
                item_id: open.id,
                output_index: open.index,
                content_index: 0,
                delta: e.content,
                logprobs: [],
              }),
            );
          }
          for (const t of e.toolCalls ?? []) {
            let c = calls.get(t.index);
            if (c === undefined) {
              frames.push(...close());
              c = {
                index: output.length,
                id: `fc_${hex(24)}`,
                call: {
                  id: t.id ?? `call_${hex(12)}`,
                  type: 'function',
                  function: { name: t.name ?? '', arguments: '' },
                },
              };
              calls.set(t.index, c);
              open = { kind: 'tool', toolIndex: t.index, ...c };
              const item = functionCallItem(c.id, c.call, 'in_progress');
              output.push(item);
              frames.push(ev('response.output_item.added', { output_index: c.index, item }));
            } else if (t.name) c.call.function.name += t.name;
            if (t.arguments) {
              c.call.function.arguments += t.arguments;
              frames.push(
                ev('response.function_call_arguments.delta', {
                  item_id: c.id,
                  output_index: c.index,
                  delta: t.arguments,
                }),
              );
            }
          }
          return frames;
        }
        case 'finish':
          finish = e.finishReason;
          return [];
        case 'usage':
          usage = e.usage;
          return [];
        case 'error':
          failed = true;
          return [];
        case 'raw':
          return [];
      }
    },
    end() {
      const frames = close();
      const response = completed();
      const type = response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
      frames.push(ev(type, { response }));
      return frames;
    },
    final() {
      if (failed || finish === undefined) return undefined;
      // Items still open are closed the same way end() will close them.
      const copy = [...output];
      if (open?.kind === 'text') copy[open.index] = messageItem(open.id, open.text, 'completed');
      if (open?.kind === 'tool')
        copy[open.index] = functionCallItem(open.id, open.call, 'completed');
      return responseObject(f, statusOf(finish), copy, usage ?? null, finish);
    },
  };
}

/** Anthropic/mock-style error event in a Responses stream (OpenAI sends `error`). */
export function responsesErrorFrame(e: { code: string; message: string; param: string | null }) {
  return sse('error', { code: e.code, message: e.message, param: e.param });
}
