import { z } from 'zod';

/*
 * Request bodies of the OpenAI-compatible routes. Unknown fields are ignored (SDKs add new ones
 * faster than we can list them); fields we accept are checked as strictly as api.openai.com does.
 * Optional fields accept null too, since SDK users commonly pass `null` for "unset".
 */

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().min(1),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });

const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

export const openaiMessageSchema = z.discriminatedUnion('role', [
  z.object({
    role: z.enum(['system', 'developer']),
    content: z.union([z.string(), z.array(textPart)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, imagePart]))]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('assistant'),
    content: z
      .union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))])
      .nullish(),
    tool_calls: z.array(toolCall).nullish(),
    refusal: z.string().nullish(),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('tool'),
    content: z.union([z.string(), z.array(textPart)]),
    tool_call_id: z.string().min(1),
  }),
]);
export type OpenAIMessage = z.infer<typeof openaiMessageSchema>;

const functionName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected 1-64 of a-z, A-Z, 0-9, _ or -');

export const openaiToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: functionName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

export const openaiToolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: functionName }) }),
]);

export const openaiResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const chatCompletionBodySchema = z.object({
  model: z.string().min(1),
  messages: z.array(openaiMessageSchema).min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  n: z
    .number()
    .int()
    .nullish()
    .refine((n) => n == null || n === 1, 'only n=1 is supported'),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  tools: z.array(openaiToolSchema).nullish(),
  tool_choice: openaiToolChoiceSchema.nullish(),
  response_format: openaiResponseFormatSchema.nullish(),
  user: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
});
export type ChatCompletionBody = z.infer<typeof chatCompletionBodySchema>;

export const embeddingsBodySchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});
export type EmbeddingsBody = z.infer<typeof embeddingsBodySchema>;
