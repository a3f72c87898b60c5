import type { GatewayChatResult, GatewayEmbeddingResult, GatewayStreamEvent } from '@tollgate/core';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  ToolCallDelta,
  Usage,
} from '@tollgate/providers';
import type { ChatCompletionBody, EmbeddingsBody, OpenAIMessage } from './openai.schemas.ts';

/*
 * OpenAI chat-completions wire format ⇄ the canonical gateway shape. The canonical shape is
 * OpenAI's own, so requests mostly pass through; the work is in responses and stream chunks.
 */

const joinText = (parts: readonly { type: string; text?: string; refusal?: string }[]): string =>
  parts.map((p) => p.text ?? p.refusal ?? '').join('');

function toCanonicalMessage(m: OpenAIMessage): ChatMessage {
  switch (m.role) {
    case 'system':
    case 'developer':
      return {
        role: m.role,
        content: typeof m.content === 'string' ? m.content : (m.content as ContentPart[]),
        ...(m.name ? { name: m.name } : {}),
      };
    case 'user':
      return { role: 'user', content: m.content, ...(m.name ? { name: m.name } : {}) };
    case 'assistant': {
      const content =
        m.content == null ? null : typeof m.content === 'string' ? m.content : joinText(m.content);
      return {
        role: 'assistant',
        content,
        ...(m.tool_calls && m.tool_calls.length > 0 ? { tool_calls: m.tool_calls } : {}),
        ...(m.name ? { name: m.name } : {}),
      };
    }
    case 'tool':
      return {
        role: 'tool',
        tool_call_id: m.tool_call_id,
        content: typeof m.content === 'string' ? m.content : joinText(m.content),
      };
  }
}

/** A validated /v1/chat/completions body → canonical; `model` stays the public catalog name. */
export function openaiToCanonical(body: ChatCompletionBody): ChatRequest {
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  return {
    model: body.model,
    messages: body.messages.map(toCanonicalMessage),
    ...(body.temperature != null ? { temperature: body.temperature } : {}),
    ...(body.top_p != null ? { top_p: body.top_p } : {}),
    ...(maxTokens != null ? { max_tokens: maxTokens } : {}),
    ...(body.stop != null ? { stop: body.stop } : {}),
    ...(body.tools && body.tools.length > 0
      ? {
          tools: body.tools.map((t) => ({
            type: 'function' as const,
            function: {
              name: t.function.name,
              ...(t.function.description !== undefined
                ? { description: t.function.description }
                : {}),
              ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
            },
          })),
        }
      : {}),
    ...(body.tool_choice != null ? { tool_choice: body.tool_choice } : {}),
    ...(body.response_format != null
      ? {
          response_format:
            body.response_format.type === 'json_schema'
              ? {
                  type: 'json_schema',
                  json_schema: {
                    name: body.response_format.json_schema.name,
                    ...(body.response_format.json_schema.schema
                      ? { schema: body.response_format.json_schema.schema }
                      : {}),
                    ...(body.response_format.json_schema.strict != null
                      ? { strict: body.response_format.json_schema.strict }
                      : {}),
                  },
                }
              : body.response_format,
        }
      : {}),
    ...(body.user != null ? { user: body.user } : {}),
  };
}

export type OpenAIUsage = {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
};

/** Canonical counts already follow OpenAI's conventions (input includes cached, output reasoning). */
export function openaiUsage(u: Usage): OpenAIUsage {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/** Ids in OpenAI's own form even when the upstream was Anthropic (`msg_…`). */
export function completionId(upstreamId: string | undefined, requestId: string): string {
  return upstreamId?.startsWith('chatcmpl') ? upstreamId : `chatcmpl-${requestId}`;
}

export function toChatCompletion(r: GatewayChatResult) {
  return {
    id: completionId(r.id, r.requestId),
    object: 'chat.completion' as const,
    created: r.created,
    model: r.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: r.content,
          refusal: null,
          ...(r.toolCalls.length > 0 ? { tool_calls: r.toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: r.finishReason,
      },
    ],
    usage: openaiUsage(r.usage),
  };
}

function toolCallChunk(d: ToolCallDelta) {
  return {
    index: d.index,
    ...(d.id !== undefined ? { id: d.id, type: 'function' as const } : {}),
    function: {
      ...(d.name !== undefined ? { name: d.name } : {}),
      ...(d.arguments !== undefined ? { arguments: d.arguments } : {}),
    },
  };
}

/** One SSE frame carrying JSON. */
export const sseData = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;

/**
 * Turns the gateway's stream events into `chat.completion.chunk` SSE frames. Stateful (usage is held
 * until the end so the usage chunk always comes after the finish chunk, as OpenAI sends it).
 */
export function createOpenAIStreamEncoder(o: {
  id: string;
  model: string;
  created: number;
  includeUsage: boolean;
}) {
  let usage: Usage | undefined;
  let finished: FinishReason | undefined;
  // Every chunk of one completion carries the same id, time and model.
  const frame = (fields: Record<string, unknown>) =>
    sseData({
      id: o.id,
      object: 'chat.completion.chunk',
      created: o.created,
      model: o.model,
      system_fingerprint: null,
      ...fields,
    });
  const chunk = (delta: Record<string, unknown>, finish: FinishReason | null) =>
    frame({ choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });

  return {
    start(): string[] {
      return [chunk({ role: 'assistant', content: '', refusal: null }, null)];
    },
    /** Frames for one event; an `error` event yields the in-band error frame (and no [DONE] later). */
    event(e: GatewayStreamEvent): string[] {
      switch (e.type) {
        case 'delta': {
          const delta: Record<string, unknown> = {};
          if (e.content !== undefined && e.content !== '') delta.content = e.content;
          if (e.toolCalls && e.toolCalls.length > 0)
            delta.tool_calls = e.toolCalls.map(toolCallChunk);
          return Object.keys(delta).length > 0 ? [chunk(delta, null)] : [];
        }
        case 'finish':
          finished = e.finishReason;
          return [chunk({}, e.finishReason)];
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
      const frames: string[] = [];
      if (finished === undefined) frames.push(chunk({}, 'stop'));
      if (o.includeUsage && usage) frames.push(frame({ choices: [], usage: openaiUsage(usage) }));
      frames.push('data: [DONE]\n\n');
      return frames;
    },
  };
}

/** Float32 little-endian bytes, base64: what OpenAI sends for `encoding_format: "base64"`. */
export function embeddingToBase64(v: readonly number[]): string {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

export function toEmbeddingsResponse(r: GatewayEmbeddingResult, body: EmbeddingsBody) {
  const base64 = body.encoding_format === 'base64';
  return {
    object: 'list' as const,
    data: r.vectors.map((v, index) => ({
      object: 'embedding' as const,
      index,
      embedding: base64 ? embeddingToBase64(v) : v,
    })),
    model: r.model,
    usage: { prompt_tokens: r.usage.inputTokens, total_tokens: r.usage.inputTokens },
  };
}
