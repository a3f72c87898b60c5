import { z } from 'zod';

const ContentPart = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({
    type: z.literal('image_url'),
    image_url: z.object({
      url: z.string().min(1),
      detail: z.enum(['auto', 'low', 'high']).optional(),
    }),
  }),
]);

const ToolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

export const ChatMessage = z.discriminatedUnion('role', [
  z.object({
    role: z.enum(['system', 'developer']),
    content: z.union([z.string(), z.array(ContentPart)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(ContentPart)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    tool_calls: z.array(ToolCall).optional(),
    name: z.string().optional(),
  }),
  z.object({ role: z.literal('tool'), content: z.string(), tool_call_id: z.string().min(1) }),
]);

const ToolDefinition = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().min(1).max(64),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const ToolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().optional(),
    }),
  }),
]);

/** Tollgate's own chat call: OpenAI's parameter names, `model` is a catalog name or alias. */
export const ChatInput = z.object({
  model: z.string().min(1).max(256),
  messages: z.array(ChatMessage).min(1),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
  tools: z.array(ToolDefinition).max(128).optional(),
  tool_choice: ToolChoice.optional(),
  response_format: ResponseFormat.optional(),
  user: z.string().max(256).optional(),
  /**
   * The exact-match cache for this call, as the x-tollgate-cache header says it (the input wins):
   * 'on' reads and fills it, 'off' bypasses a key's `cache: true`.
   */
  cache: z.enum(['on', 'off']).optional(),
  /**
   * Refused when true rather than ignored: an OpenAI habit that would otherwise silently get a
   * whole answer. Streaming is its own procedure.
   */
  stream: z
    .literal(false, {
      error:
        'chat.complete (POST /api/chat/completions) does not stream: use the chat.stream subscription (tRPC, @tollgate/client), or POST /v1/chat/completions with "stream": true',
    })
    .optional(),
});
export type ChatInput = z.infer<typeof ChatInput>;

export const ChatStreamInput = ChatInput.omit({ stream: true }).extend({
  /**
   * Chosen by the client, once per call: a reconnect that re-runs the subscription with the same
   * id is refused, so a dropped connection never calls (and bills) the upstream twice.
   */
  requestId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{8,128}$/, 'expected 8-128 characters of [A-Za-z0-9._:-], e.g. a UUID'),
});

export const Usage = z.object({
  inputTokens: z.number().int(),
  cachedInputTokens: z.number().int(),
  cacheWriteTokens: z.number().int(),
  outputTokens: z.number().int(),
  reasoningTokens: z.number().int(),
});

const FinishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter']);

export const ChatResult = z.object({
  requestId: z.string(),
  model: z.string(),
  provider: z.string(),
  createdAt: z.iso.datetime(),
  content: z.string().nullable(),
  toolCalls: z.array(ToolCall),
  finishReason: FinishReason,
  /** The stop sequence that ended generation, when the upstream names it (Anthropic does). */
  stopSequence: z.string().optional(),
  usage: Usage,
  cacheHit: z.boolean(),
});
export type ChatResult = z.infer<typeof ChatResult>;

/** What chat.stream yields: `start` first, then the upstream's events, at most one final `error`. */
export type ChatStreamEvent =
  | { type: 'start'; requestId: string; model: string; provider: string; createdAt: string }
  | {
      type: 'delta';
      content?: string;
      toolCalls?: { index: number; id?: string; name?: string; arguments?: string }[];
    }
  | { type: 'finish'; finishReason: z.infer<typeof FinishReason>; stopSequence?: string }
  | { type: 'usage'; usage: z.infer<typeof Usage> }
  | { type: 'error'; code: string; message: string };
