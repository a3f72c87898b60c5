import type { GenerateOpenApiDocumentOptions } from 'trpc-to-openapi';
import { z } from 'zod';
import { countTokensBodySchema, messagesBodySchema } from './anthropic.schemas.ts';
import { createBatchBodySchema } from './batches.routes.ts';
import { chatCompletionBodySchema, embeddingsBodySchema } from './openai.schemas.ts';
import { responsesBodySchema } from './responses.schemas.ts';

/*
 * The /v1 routes in /openapi.json. They are Fastify routes, not procedures, so trpc-to-openapi
 * cannot see them: their operations are generated here from the same zod schemas the routes parse
 * bodies with (zod-openapi, through the generator's `paths` option), so the document cannot drift
 * from what the routes accept. The document's server is /api (the REST bridge); these paths carry
 * their own server, the root.
 */

type Paths = NonNullable<GenerateOpenApiDocumentOptions['paths']>;
type Operation = NonNullable<Paths[string]['post']>;
type Responses = Operation['responses'];

export const OPENAI_TAG = 'OpenAI-compatible';
export const ANTHROPIC_TAG = 'Anthropic-compatible';

/** Both compat surfaces take an API key or access JWT as a bearer token or as `x-api-key`. */
export const compatSecuritySchemes = {
  apiKeyAuth: {
    type: 'apiKey' as const,
    in: 'header' as const,
    name: 'x-api-key',
    description: 'An API key (tg_…) or access JWT, as the Anthropic SDK and curl users send it',
  },
};
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];
const root = [{ url: '/', description: 'the server root (OpenAI/Anthropic-compatible routes)' }];

// Error bodies as compat/errors.ts writes them.
const OpenAIError = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string().meta({ description: 'OpenAI error type for the status' }),
      param: z.string().nullable(),
      code: z
        .string()
        .nullable()
        .meta({ description: "Tollgate's code: model_not_found, budget_exceeded, …" }),
    }),
  })
  .meta({ id: 'OpenAIError', description: "OpenAI's error shape" });
const AnthropicError = z
  .object({
    type: z.literal('error'),
    error: z.object({
      type: z.string().meta({ description: 'Anthropic error type for the status' }),
      message: z.string(),
      details: z.object({ error_code: z.string().meta({ description: "Tollgate's code" }) }),
    }),
  })
  .meta({ id: 'AnthropicError', description: "Anthropic's error shape" });

const statusText: Record<number, string> = {
  400: 'bad request (the body names the bad parameter)',
  401: 'no or bad credentials',
  403: 'not allowed (scope, model allow-list)',
  404: 'not found (also: someone else’s object)',
  413: 'body too large',
  429: 'budget or rate limit exceeded, or upstream rate limited (retry-after)',
  502: 'upstream error',
  504: 'upstream timeout',
};
const MODEL_CALL = [400, 401, 403, 404, 413, 429, 502, 504];
const READ = [401, 403, 404];

function errors(surface: 'openai' | 'anthropic', statuses: number[]): Responses {
  const schema = surface === 'openai' ? OpenAIError : AnthropicError;
  const out: Record<string, unknown> = {};
  for (const s of statuses)
    out[String(s)] = {
      description: statusText[s] ?? 'error',
      content: { 'application/json': { schema } },
    };
  return out as Responses;
}

/** A 200 answer: JSON, or JSON and an SSE stream for routes that take `stream: true`. */
function ok(description: string, schema: z.ZodType, stream = false): Responses {
  return {
    '200': {
      description,
      content: {
        'application/json': { schema },
        ...(stream
          ? { 'text/event-stream': { schema: z.string().meta({ description: 'SSE events' }) } }
          : {}),
      },
    },
  };
}

// Answers, as loose objects naming their main fields (the full shapes are OpenAI's/Anthropic's).
const obj = (id: string, description: string, shape: z.ZodRawShape) =>
  z.looseObject(shape).meta({ id, description });
const ChatCompletion = obj('OpenAIChatCompletion', 'chat.completion (or SSE chunks)', {
  id: z.string(),
  object: z.literal('chat.completion'),
  model: z.string(),
  choices: z.array(z.looseObject({})),
  usage: z.looseObject({}),
});
const EmbeddingList = obj('OpenAIEmbeddingList', 'a list of embeddings', {
  object: z.literal('list'),
  data: z.array(z.looseObject({ embedding: z.array(z.number()), index: z.number().int() })),
  model: z.string(),
  usage: z.looseObject({}),
});
const Model = obj('OpenAIModel', 'a catalog model', {
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
});
const list = (id: string, item: z.ZodType) =>
  obj(id, 'a list', { object: z.literal('list'), data: z.array(item) });
const Response = obj('OpenAIResponse', 'a Response (or its SSE events)', {
  id: z.string(),
  object: z.literal('response'),
  status: z.string(),
  model: z.string(),
  output: z.array(z.looseObject({})),
});
const Deleted = (id: string, object: string) =>
  obj(id, 'deleted', { id: z.string(), object: z.literal(object), deleted: z.literal(true) });
const File = obj('OpenAIFile', 'a file; expires_at per FILES_RETENTION_DAYS', {
  id: z.string(),
  object: z.literal('file'),
  bytes: z.number().int(),
  created_at: z.number().int(),
  filename: z.string(),
  purpose: z.string(),
  expires_at: z.number().int().nullable(),
});
const Batch = obj('OpenAIBatch', 'a batch', {
  id: z.string(),
  object: z.literal('batch'),
  status: z.string(),
  input_file_id: z.string(),
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  request_counts: z.object({ total: z.number(), completed: z.number(), failed: z.number() }),
});
const Message = obj('AnthropicMessage', 'a message (or its SSE events)', {
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  content: z.array(z.looseObject({})),
  model: z.string(),
  usage: z.looseObject({}),
});
const ModelList = list('OpenAIModelList', Model);
const FileList = list('OpenAIFileList', File);
const BatchList = list('OpenAIBatchList', Batch);
const ResponseDeleted = Deleted('OpenAIResponseDeleted', 'response');
const FileDeleted = Deleted('OpenAIFileDeleted', 'file');
const TokenCount = obj('AnthropicTokenCount', 'the input token count', {
  input_tokens: z.number().int(),
});

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const pathId = (name = 'id') => ({ path: z.object({ [name]: z.string() }) });
const anthropicHeaders = z.object({
  'anthropic-version': z.string().optional().meta({ description: 'forwarded to Anthropic' }),
  'anthropic-beta': z.string().optional().meta({ description: 'forwarded to Anthropic' }),
});

function op(
  tag: string,
  operationId: string,
  summary: string,
  rest: Omit<Operation, 'operationId' | 'summary' | 'tags' | 'security'>,
): Operation {
  return { operationId, summary, tags: [tag], security, ...rest };
}

const O = OPENAI_TAG;
const A = ANTHROPIC_TAG;

/**
 * Every /v1 route as an OpenAPI path item (built on the first /openapi.json request). The schemas
 * with an `id` are module constants: zod's registry takes each id once per process.
 */
export function compatOpenApiPaths(): Paths {
  return {
    '/v1/models': {
      servers: root,
      get: op(O, 'v1-models-list', 'Models the caller may call', {
        responses: { ...ok('the models', ModelList), ...errors('openai', READ) },
      }),
    },
    '/v1/models/{model}': {
      servers: root,
      get: op(O, 'v1-models-get', 'One model', {
        requestParams: pathId('model'),
        responses: { ...ok('the model', Model), ...errors('openai', READ) },
      }),
    },
    '/v1/chat/completions': {
      servers: root,
      post: op(O, 'v1-chat-completions', 'Chat completion (stream: true answers SSE)', {
        requestBody: json(chatCompletionBodySchema),
        responses: {
          ...ok('the completion', ChatCompletion, true),
          ...errors('openai', MODEL_CALL),
        },
      }),
    },
    '/v1/embeddings': {
      servers: root,
      post: op(O, 'v1-embeddings', 'Embeddings', {
        requestBody: json(embeddingsBodySchema),
        responses: { ...ok('the embeddings', EmbeddingList), ...errors('openai', MODEL_CALL) },
      }),
    },
    '/v1/responses': {
      servers: root,
      post: op(O, 'v1-responses-create', 'Create a Response (stream: true answers SSE)', {
        requestBody: json(responsesBodySchema),
        responses: { ...ok('the response', Response, true), ...errors('openai', MODEL_CALL) },
      }),
    },
    '/v1/responses/{id}': {
      servers: root,
      get: op(O, 'v1-responses-get', 'A stored Response (RESPONSES_RETENTION_DAYS)', {
        requestParams: pathId(),
        responses: { ...ok('the response', Response), ...errors('openai', READ) },
      }),
      delete: op(O, 'v1-responses-delete', 'Delete a stored Response', {
        requestParams: pathId(),
        responses: {
          ...ok('deleted', ResponseDeleted),
          ...errors('openai', READ),
        },
      }),
    },
    '/v1/files': {
      servers: root,
      post: op(O, 'v1-files-create', 'Upload a batch input file (JSONL, multipart)', {
        requestBody: {
          content: {
            'multipart/form-data': {
              schema: z.object({
                file: z.string().meta({ format: 'binary', description: 'the JSONL file' }),
                purpose: z.literal('batch'),
              }),
            },
          },
        },
        responses: { ...ok('the file', File), ...errors('openai', [400, 401, 403, 413]) },
      }),
      get: op(O, 'v1-files-list', "The caller's files", {
        requestParams: {
          query: z.object({
            purpose: z.string().optional(),
            limit: z.coerce.number().int().min(1).max(10_000).optional(),
          }),
        },
        responses: { ...ok('the files', FileList), ...errors('openai', READ) },
      }),
    },
    '/v1/files/{id}': {
      servers: root,
      get: op(O, 'v1-files-get', 'A file (also a batch output or error file)', {
        requestParams: pathId(),
        responses: { ...ok('the file', File), ...errors('openai', READ) },
      }),
      delete: op(O, 'v1-files-delete', 'Delete an uploaded file', {
        requestParams: pathId(),
        responses: {
          ...ok('deleted', FileDeleted),
          ...errors('openai', READ),
        },
      }),
    },
    '/v1/files/{id}/content': {
      servers: root,
      get: op(O, 'v1-files-content', "A file's content (JSONL)", {
        requestParams: pathId(),
        responses: {
          '200': {
            description: 'the bytes',
            content: {
              'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) },
            },
          },
          ...errors('openai', READ),
        },
      }),
    },
    '/v1/batches': {
      servers: root,
      post: op(O, 'v1-batches-create', 'Run a batch input file', {
        requestBody: json(createBatchBodySchema),
        responses: { ...ok('the batch', Batch), ...errors('openai', [400, 401, 403, 404]) },
      }),
      get: op(O, 'v1-batches-list', "The caller's batches, newest first", {
        requestParams: {
          query: z.object({
            after: z.string().optional(),
            limit: z.coerce.number().int().min(1).max(100).optional(),
          }),
        },
        responses: {
          ...ok('the batches', BatchList),
          ...errors('openai', READ),
        },
      }),
    },
    '/v1/batches/{id}': {
      servers: root,
      get: op(O, 'v1-batches-get', 'A batch', {
        requestParams: pathId(),
        responses: { ...ok('the batch', Batch), ...errors('openai', READ) },
      }),
    },
    '/v1/batches/{id}/cancel': {
      servers: root,
      post: op(O, 'v1-batches-cancel', 'Cancel a batch', {
        requestParams: pathId(),
        responses: { ...ok('the batch', Batch), ...errors('openai', READ) },
      }),
    },
    '/v1/messages': {
      servers: root,
      post: op(A, 'v1-messages', 'Anthropic Messages (stream: true answers SSE)', {
        requestParams: { header: anthropicHeaders },
        requestBody: json(messagesBodySchema),
        responses: { ...ok('the message', Message, true), ...errors('anthropic', MODEL_CALL) },
      }),
    },
    '/v1/messages/count_tokens': {
      servers: root,
      post: op(A, 'v1-messages-count-tokens', 'Count input tokens (free, not logged)', {
        requestParams: { header: anthropicHeaders },
        requestBody: json(countTokensBodySchema),
        responses: {
          ...ok('the count', TokenCount),
          ...errors('anthropic', [400, 401, 403, 404, 413, 502, 504]),
        },
      }),
    },
  };
}
