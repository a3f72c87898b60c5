import { z } from 'zod';

/*
 * The OpenAI Responses API request body (POST /v1/responses), as far as Tollgate carries it to
 * every provider: messages, function tools and their calls, reasoning items, instructions and the
 * sampling limits. Built-in tools (web search, file search, computer use…) and item references
 * are refused with a 400 rather than dropped: only OpenAI itself could run them.
 */

const inputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const outputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
const refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const inputImage = z.looseObject({
  type: z.literal('input_image'),
  image_url: z.string().min(1).nullish(),
  detail: z.enum(['auto', 'low', 'high']).nullish(),
});

const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  id: z.string().optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([
    z.string(),
    z.array(z.discriminatedUnion('type', [inputText, outputText, refusal, inputImage])),
  ]),
});

const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  id: z.string().optional(),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});

const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  id: z.string().nullish(),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
});

const reasoningItem = z.looseObject({
  type: z.literal('reasoning'),
  id: z.string().optional(),
  summary: z.array(z.looseObject({ type: z.string(), text: z.string() })),
  encrypted_content: z.string().nullish(),
});

export const responseInputItemSchema = z.union([
  functionCallItem,
  functionCallOutputItem,
  reasoningItem,
  messageItem,
]);
export type ResponseInputItem = z.infer<typeof responseInputItemSchema>;

export const responseFunctionToolSchema = z.looseObject({
  type: z.literal('function'),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected 1-64 of a-z, A-Z, 0-9, _ or -'),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const toolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
]);

const textFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().nullish(),
  }),
]);

export const responsesBodySchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(responseInputItemSchema)]).optional(),
  instructions: z.string().nullish(),
  tools: z.array(responseFunctionToolSchema).nullish(),
  tool_choice: toolChoice.nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  reasoning: z.looseObject({}).nullish(),
  text: z.looseObject({ format: textFormat.optional() }).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
});
export type ResponsesBody = z.infer<typeof responsesBodySchema>;
