import type { GatewayChatResult, GatewayStreamEvent } from '@tollgate/core';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  ToolCall,
  ToolChoice,
  Usage,
} from '@tollgate/providers';
import type { AnthropicContentBlock, MessagesBody } from './anthropic.schemas.ts';

/*
 * Anthropic Messages wire format ⇄ the canonical (OpenAI-shaped) gateway format, both ways:
 * requests in, responses and stream events out. Pure functions; the route only moves bytes.
 */

type ImageBlock = Extract<AnthropicContentBlock, { type: 'image' }>;

function imagePart(b: ImageBlock): ContentPart {
  const url =
    b.source.type === 'base64'
      ? `data:${b.source.media_type};base64,${b.source.data}`
      : b.source.url;
  return { type: 'image_url', image_url: { url } };
}

function toolResultText(b: Extract<AnthropicContentBlock, { type: 'tool_result' }>): string {
  if (b.content === undefined) return '';
  if (typeof b.content === 'string') return b.content;
  // Images inside tool results have no place in a canonical tool message: the text is kept.
  return b.content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

/** One Anthropic turn → canonical messages (a user turn with tool_result blocks becomes tool messages). */
function toCanonicalMessages(m: MessagesBody['messages'][number]): ChatMessage[] {
  if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
  if (m.role === 'assistant') {
    const text = m.content
      .filter((b) => b.type === 'text')
      .map((b) => b.text)
      .join('');
    const toolCalls: ToolCall[] = m.content
      .filter((b) => b.type === 'tool_use')
      .map((b) => ({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input) },
      }));
    return [
      {
        role: 'assistant',
        content: text === '' && toolCalls.length > 0 ? null : text,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      },
    ];
  }
  // Tool results first: OpenAI-style upstreams need them right after the assistant's tool calls.
  const out: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  for (const b of m.content) {
    if (b.type === 'tool_result')
      out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: toolResultText(b) });
    else if (b.type === 'text') parts.push({ type: 'text', text: b.text });
    else if (b.type === 'image') parts.push(imagePart(b));
  }
  if (parts.length > 0) {
    const onlyText = parts.every((p) => p.type === 'text');
    out.push({
      role: 'user',
      content: onlyText && parts.length === 1 ? (parts[0] as { text: string }).text : parts,
    });
  }
  return out;
}

function toCanonicalToolChoice(c: NonNullable<MessagesBody['tool_choice']>): ToolChoice {
  switch (c.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: c.name } };
  }
}

/** A validated /v1/messages body → canonical; `model` stays the public catalog name. */
export function anthropicToCanonical(body: MessagesBody): ChatRequest {
  const messages: ChatMessage[] = [];
  if (body.system !== undefined) {
    const system =
      typeof body.system === 'string' ? body.system : body.system.map((b) => b.text).join('\n');
    if (system !== '') messages.push({ role: 'system', content: system });
  }
  for (const m of body.messages) messages.push(...toCanonicalMessages(m));
  return {
    model: body.model,
    messages,
    max_tokens: body.max_tokens,
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    ...(body.top_p !== undefined ? { top_p: body.top_p } : {}),
    ...(body.stop_sequences && body.stop_sequences.length > 0 ? { stop: body.stop_sequences } : {}),
    ...(body.tools && body.tools.length > 0
      ? {
          tools: body.tools.map((t) => ({
            type: 'function' as const,
            function: {
              name: t.name,
              ...(t.description !== undefined ? { description: t.description } : {}),
              parameters: t.input_schema,
            },
          })),
        }
      : {}),
    ...(body.tool_choice ? { tool_choice: toCanonicalToolChoice(body.tool_choice) } : {}),
    ...(body.metadata?.user_id ? { user: body.metadata.user_id } : {}),
  };
}

export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'refusal';

/** A 'stop' that the upstream says was a stop sequence is Anthropic's `stop_sequence`. */
export function anthropicStopReason(
  f: FinishReason,
  stopSequence?: string | undefined,
): AnthropicStopReason {
  switch (f) {
    case 'stop':
      return stopSequence === undefined ? 'end_turn' : 'stop_sequence';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
  }
}

/** Anthropic's `stop_sequence` field: the string only when stop_reason is `stop_sequence`. */
export function stopSequenceOf(f: FinishReason, stopSequence: string | undefined): string | null {
  return f === 'stop' && stopSequence !== undefined ? stopSequence : null;
}

export type AnthropicUsage = {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
};

/** Canonical inputTokens includes cache reads and writes; Anthropic's input_tokens excludes both. */
export function anthropicUsage(u: Usage): AnthropicUsage {
  return {
    input_tokens: Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens),
    output_tokens: u.outputTokens,
    cache_read_input_tokens: u.cachedInputTokens,
    cache_creation_input_tokens: u.cacheWriteTokens,
  };
}

/** Ids in Anthropic's own form even when the upstream was OpenAI (`chatcmpl-…`). */
export function messageId(upstreamId: string | undefined, requestId: string): string {
  return upstreamId?.startsWith('msg_')
    ? upstreamId
    : `msg_${requestId.replace(/[^A-Za-z0-9]/g, '')}`;
}

/** Tool arguments are a JSON string canonically; Anthropic wants the object. */
export function parseToolInput(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(args);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : { value: v };
  } catch {
    // A model that emitted broken JSON: keep what it said rather than drop the call.
    return { _raw: args };
  }
}

export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export function toAnthropicMessage(r: GatewayChatResult) {
  const content: AnthropicResponseBlock[] = [];
  if (r.content !== null && r.content !== '') content.push({ type: 'text', text: r.content });
  for (const t of r.toolCalls)
    content.push({
      type: 'tool_use',
      id: t.id,
      name: t.function.name,
      input: parseToolInput(t.function.arguments),
    });
  return {
    id: messageId(r.id, r.requestId),
    type: 'message' as const,
    role: 'assistant' as const,
    model: r.model,
    content,
    stop_reason: anthropicStopReason(r.finishReason, r.stopSequence),
    stop_sequence: stopSequenceOf(r.finishReason, r.stopSequence),
    usage: anthropicUsage(r.usage),
  };
}

/** One named SSE event, as Anthropic frames them. */
export const sseEvent = (type: string, data: unknown): string =>
  `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * Turns the gateway's stream events into Anthropic's event sequence: message_start, then per
 * content block start/delta…/stop, then message_delta (stop_reason, usage) and message_stop.
 * Canonical tool-call fragments are grouped by their `index`; each call becomes its own block.
 */
export function createAnthropicStreamEncoder(o: { id: string; model: string }) {
  let nextBlock = 0;
  let open: { kind: 'text' | 'tool'; block: number; toolIndex?: number } | undefined;
  const toolBlocks = new Map<number, number>();
  let finish: FinishReason | undefined;
  let stopSequence: string | undefined;
  let usage: Usage | undefined;

  const closeOpen = (): string[] => {
    if (!open) return [];
    const frame = sseEvent('content_block_stop', { type: 'content_block_stop', index: open.block });
    open = undefined;
    return [frame];
  };

  return {
    start(): string[] {
      return [
        sseEvent('message_start', {
          type: 'message_start',
          message: {
            id: o.id,
            type: 'message',
            role: 'assistant',
            model: o.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: 0,
              output_tokens: 0,
              cache_read_input_tokens: 0,
              cache_creation_input_tokens: 0,
            },
          },
        }),
      ];
    },
    event(e: GatewayStreamEvent): string[] {
      const frames: string[] = [];
      switch (e.type) {
        case 'delta': {
          if (e.content !== undefined && e.content !== '') {
            if (open?.kind !== 'text') {
              frames.push(...closeOpen());
              open = { kind: 'text', block: nextBlock++ };
              frames.push(
                sseEvent('content_block_start', {
                  type: 'content_block_start',
                  index: open.block,
                  content_block: { type: 'text', text: '' },
                }),
              );
            }
            frames.push(
              sseEvent('content_block_delta', {
                type: 'content_block_delta',
                index: open.block,
                delta: { type: 'text_delta', text: e.content },
              }),
            );
          }
          for (const t of e.toolCalls ?? []) {
            let block = toolBlocks.get(t.index);
            if (block === undefined) {
              frames.push(...closeOpen());
              block = nextBlock++;
              toolBlocks.set(t.index, block);
              open = { kind: 'tool', block, toolIndex: t.index };
              frames.push(
                sseEvent('content_block_start', {
                  type: 'content_block_start',
                  index: block,
                  content_block: {
                    type: 'tool_use',
                    id: t.id ?? `toolu_${o.id}_${t.index}`,
                    name: t.name ?? '',
                    input: {},
                  },
                }),
              );
            }
            if (t.arguments !== undefined && t.arguments !== '')
              frames.push(
                sseEvent('content_block_delta', {
                  type: 'content_block_delta',
                  index: block,
                  delta: { type: 'input_json_delta', partial_json: t.arguments },
                }),
              );
          }
          return frames;
        }
        case 'finish':
          finish = e.finishReason;
          stopSequence = e.stopSequence;
          return [];
        case 'usage':
          usage = e.usage;
          return [];
        case 'error':
        case 'raw': // a native call's upstream event: only native encoders use it
          return [];
      }
    },
    /** Frames after the last event of a successful stream. */
    end(): string[] {
      const u = anthropicUsage(
        usage ?? {
          inputTokens: 0,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 0,
          reasoningTokens: 0,
        },
      );
      return [
        ...closeOpen(),
        sseEvent('message_delta', {
          type: 'message_delta',
          delta: {
            stop_reason: anthropicStopReason(finish ?? 'stop', stopSequence),
            stop_sequence: stopSequenceOf(finish ?? 'stop', stopSequence),
          },
          usage: u,
        }),
        sseEvent('message_stop', { type: 'message_stop' }),
      ];
    },
  };
}
