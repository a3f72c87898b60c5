import { z } from 'zod';

/*
 * The Anthropic Messages API request body (docs.anthropic.com/en/api/messages). Unknown fields are
 * ignored; block types we cannot carry to every provider (documents, server tools) are refused
 * with a 400 rather than silently dropped.
 */

const cacheControl = z.looseObject({ type: z.literal('ephemeral') }).nullish();

const textBlock = z.object({
  type: z.literal('text'),
  text: z.string(),
  cache_control: cacheControl,
});

const imageBlock = z.object({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('base64'),
      media_type: z.string().min(1),
      data: z.string().min(1),
    }),
    z.object({ type: z.literal('url'), url: z.string().min(1) }),
  ]),
  cache_control: cacheControl,
});

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

const toolResultBlock = z.object({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z
    .union([z.string(), z.array(z.discriminatedUnion('type', [textBlock, imageBlock]))])
    .optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});

// Extended-thinking blocks from an earlier turn. An Anthropic model gets them back byte for byte
// (the route forwards the caller's own body, signatures included); other providers have no place
// for them and the canonical translation leaves them out.
const thinkingBlock = z.looseObject({
  type: z.literal('thinking'),
  thinking: z.string(),
  signature: z.string().optional(),
});
const redactedThinkingBlock = z.looseObject({
  type: z.literal('redacted_thinking'),
  data: z.string(),
});

export const anthropicContentBlockSchema = z.discriminatedUnion('type', [
  textBlock,
  imageBlock,
  toolUseBlock,
  toolResultBlock,
  thinkingBlock,
  redactedThinkingBlock,
]);
export type AnthropicContentBlock = z.infer<typeof anthropicContentBlockSchema>;

export const anthropicMessageSchema = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(anthropicContentBlockSchema)]),
});
export type AnthropicMessage = z.infer<typeof anthropicMessageSchema>;

export const anthropicToolSchema = z.object({
  type: z.literal('custom').optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected 1-64 of a-z, A-Z, 0-9, _ or -'),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

export const anthropicToolChoiceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('none') }),
  z.object({
    type: z.literal('tool'),
    name: z.string().min(1),
    disable_parallel_tool_use: z.boolean().optional(),
  }),
]);

const thinkingParam = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('enabled'), budget_tokens: z.number().int().min(1) }),
  z.looseObject({ type: z.literal('disabled') }),
  z.looseObject({ type: z.literal('adaptive') }),
]);

export const messagesBodySchema = z.object({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  thinking: thinkingParam.optional(),
  messages: z.array(anthropicMessageSchema).min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  tools: z.array(anthropicToolSchema).optional(),
  tool_choice: anthropicToolChoiceSchema.optional(),
  metadata: z.object({ user_id: z.string().nullish() }).optional(),
  stream: z.boolean().optional(),
});
export type MessagesBody = z.infer<typeof messagesBodySchema>;

/** POST /v1/messages/count_tokens: a Messages body without max_tokens or stream. */
export const countTokensBodySchema = messagesBodySchema
  .omit({ max_tokens: true, stream: true, stop_sequences: true, temperature: true, top_p: true })
  .extend({ max_tokens: z.number().int().min(1).optional() });
export type CountTokensBody = z.infer<typeof countTokensBodySchema>;
