import {
  authenticate,
  type CallContext,
  chatComplete,
  createEmbeddings,
  type Deps,
  DomainError,
  type GatewayStream,
  getCatalog,
  hasScope,
  invalidReasonMessages,
  modelAccess,
  startChatStream,
  type UserPrincipal,
} from '@tollgate/core';
import type { ChatRequest } from '@tollgate/providers';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { rememberPrincipal } from '../request-principal.ts';
import { traceHeaders } from '../tracing-hooks.ts';
import {
  anthropicNativeEncoder,
  anthropicNativeInput,
  registerAnthropicExtras,
} from './anthropic.native.ts';
import { messagesBodySchema } from './anthropic.schemas.ts';
import {
  anthropicToCanonical,
  createAnthropicStreamEncoder,
  messageId,
  sseEvent,
  toAnthropicMessage,
} from './anthropic.translate.ts';
import { registerBatchesRoutes } from './batches.routes.ts';
import {
  anthropicErrorBody,
  type CompatError,
  type CompatSurface,
  compatError,
  errorBody,
  openaiErrorBody,
  toCompatError,
} from './errors.ts';
import { registerFilesRoutes } from './files.routes.ts';
import type { CompatKit, StreamEncoder } from './kit.ts';
import { chatCompletionBodySchema, embeddingsBodySchema } from './openai.schemas.ts';
import {
  completionId,
  createOpenAIStreamEncoder,
  openaiToCanonical,
  sseData,
  toChatCompletion,
  toEmbeddingsResponse,
} from './openai.translate.ts';
import { registerResponsesRoutes } from './responses.routes.ts';
import { openSse } from './sse.ts';

/** Model-call bodies may carry long contexts and images (PRODUCT.md "Bad input"). */
export const COMPAT_BODY_LIMIT = 20 * 1024 * 1024;

type Options = { deps: Deps };

const principals = new WeakMap<FastifyRequest, UserPrincipal>();

function surfaceOf(req: FastifyRequest): CompatSurface {
  return req.url === '/v1/messages' ||
    req.url.startsWith('/v1/messages?') ||
    req.url.startsWith('/v1/messages/')
    ? 'anthropic'
    : 'openai';
}

function sendError(reply: FastifyReply, surface: CompatSurface, e: CompatError): FastifyReply {
  if ((e.status === 429 || e.status === 503) && e.retryAfter !== undefined)
    reply.header('retry-after', String(e.retryAfter));
  return reply.code(e.status).type('application/json').send(errorBody(surface, e));
}

/** zod issues → one 400 naming the first bad field (OpenAI's `param`) and every problem. */
function invalidBody(error: z.ZodError): CompatError {
  const issues = error.issues.slice(0, 5).map((i) => {
    const path = i.path.join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  const first = error.issues[0]?.path.join('.');
  return compatError(
    'bad_request',
    `invalid request body: ${issues.join('; ')}`,
    first ? { param: first } : {},
  );
}

function cacheHeader(req: FastifyRequest): 'on' | 'off' | undefined {
  const v = req.headers['x-tollgate-cache'];
  return v === 'on' || v === 'off' ? v : undefined;
}

/**
 * An AbortController tied to the client's connection: aborted when the socket closes before the
 * response was completely written (the gateway passes it on to the upstream call).
 */
function clientAbort(reply: FastifyReply): AbortController {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished)
      ac.abort(new DomainError('bad_request', 'client disconnected'));
  });
  return ac;
}

function principalOf(req: FastifyRequest): UserPrincipal {
  const principal = principals.get(req);
  if (!principal) throw new DomainError('unauthenticated', 'missing credentials');
  return principal;
}

function callContext(
  req: FastifyRequest,
  reply: FastifyReply,
  surface: CompatSurface,
  signal: AbortSignal,
): CallContext {
  const principal = principalOf(req);
  return {
    principal,
    requestId: req.id,
    signal,
    surface,
    cache: cacheHeader(req),
    // x-ratelimit-* and x-tollgate-cache: on the answer, the stream and a refusal alike.
    setHeader: (name, value) => {
      reply.header(name, value);
    },
  };
}

/** Streams gateway events through a surface encoder; a failure after the first byte goes in-band. */
async function pipeStream(
  req: FastifyRequest,
  reply: FastifyReply,
  stream: GatewayStream,
  signal: AbortSignal,
  enc: StreamEncoder,
  errorFrame: (e: CompatError) => string,
): Promise<void> {
  const log = req.log;
  // A hijacked reply still runs onResponse when its socket closes: the duration metric and the
  // request line are written there, once (app.ts, metrics-routes.ts).
  req.logStream = true;
  const sse = openSse(reply);
  try {
    if (!(await sse.write(enc.start()))) return;
    for await (const ev of stream.events) {
      if (signal.aborted) return;
      if (ev.type === 'error') {
        await sse.write([errorFrame(compatError(ev.code, ev.message))]);
        return;
      }
      if (!(await sse.write(enc.event(ev)))) return;
    }
    if (!signal.aborted) await sse.write(enc.end());
  } catch (err) {
    // The gateway promises an in-band `error` event instead of throwing; this is belt and braces.
    log.error({ err }, 'stream failed after the first byte');
    await sse.write([errorFrame(toCompatError(err))]);
  } finally {
    sse.end();
  }
}

/** OpenAI-compatible /v1/models, /v1/chat/completions, /v1/embeddings and Anthropic's /v1/messages. */
export async function compatRoutes(app: FastifyInstance, opts: Options): Promise<void> {
  const { deps } = opts;

  app.setErrorHandler((err, req, reply) => {
    const e = toCompatError(err);
    if (e.status >= 500) req.log.error({ err }, 'compat route failed');
    return sendError(reply, surfaceOf(req), e);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      surfaceOf(req),
      compatError('not_found', `unknown route ${req.method} ${req.url.split('?')[0]}`),
    ),
  );

  // Credentials before the body is read: a caller without a key never gets us to parse 20 MiB.
  app.addHook('onRequest', async (req, reply) => {
    const surface = surfaceOf(req);
    const xApiKey = headerString(req.headers['x-api-key']);
    // x-api-key only ever carries an API key: anything else there is a bad key, not a bad JWT.
    const p =
      req.headers.authorization === undefined && xApiKey !== undefined && !xApiKey.startsWith('tg_')
        ? ({ kind: 'invalid', reason: 'key_invalid' } as const)
        : await authenticate(
            deps,
            { authorization: req.headers.authorization, 'x-api-key': xApiKey },
            { allowXApiKey: true },
          );
    if (p.kind === 'anonymous') {
      deps.metrics.rejections.inc({ reason: 'auth' });
      return sendError(
        reply,
        surface,
        compatError(
          'unauthenticated',
          'missing API key: send Authorization: Bearer <key> or x-api-key: <key>',
        ),
      );
    }
    if (p.kind === 'invalid') {
      deps.metrics.rejections.inc({ reason: 'auth' });
      return sendError(reply, surface, compatError(p.reason, invalidReasonMessages[p.reason]));
    }
    rememberPrincipal(req, p);
    // OpenAI Files and Batches are batch work: the `batches` scope (PRODUCT.md "Key scopes").
    const scope =
      req.url.startsWith('/v1/files') || req.url.startsWith('/v1/batches') ? 'batches' : 'gateway';
    if (!hasScope(p, scope)) {
      deps.metrics.rejections.inc({ reason: 'auth' });
      return sendError(
        reply,
        surface,
        compatError('forbidden', `API key lacks the '${scope}' scope`),
      );
    }
    principals.set(req, p);
  });

  // Only what the caller may call: a model outside its key's or team's allow-list is not listed.
  app.get('/models', async (req) => {
    const { models } = await getCatalog(deps);
    const allowed = await modelAccess(deps, principalOf(req));
    return {
      object: 'list',
      data: models
        .filter((m) => m.enabled && (allowed === null || allowed(m)))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((m) => ({
          id: m.name,
          object: 'model',
          created: Math.floor(m.createdAt.getTime() / 1000),
          owned_by: m.provider,
        })),
    };
  });

  app.get<{ Params: { model: string } }>('/models/:model', async (req, reply) => {
    const m = (await getCatalog(deps)).models.find((x) => x.name === req.params.model && x.enabled);
    const allowed = await modelAccess(deps, principalOf(req));
    if (!m || (allowed !== null && !allowed(m)))
      return sendError(
        reply,
        'openai',
        compatError('model_not_found', `model '${req.params.model}' does not exist`, {
          param: 'model',
        }),
      );
    return {
      id: m.name,
      object: 'model',
      created: Math.floor(m.createdAt.getTime() / 1000),
      owned_by: m.provider,
    };
  });

  app.post('/chat/completions', { bodyLimit: COMPAT_BODY_LIMIT }, async (req, reply) => {
    const parsed = chatCompletionBodySchema.safeParse(req.body);
    if (!parsed.success) {
      deps.metrics.rejections.inc({ reason: 'invalid' });
      return sendError(reply, 'openai', invalidBody(parsed.error));
    }
    const body = parsed.data;
    req.logModel = body.model;
    const input: ChatRequest = { ...openaiToCanonical(body), ...traceHeaders(req, deps.tracing) };
    const ac = clientAbort(reply);
    const call = callContext(req, reply, 'openai', ac.signal);
    if (!body.stream) {
      const result = await chatComplete(deps, input, call);
      return reply.send(toChatCompletion(result));
    }
    const stream = await startChatStream(deps, input, call);
    const enc = createOpenAIStreamEncoder({
      id: completionId(undefined, stream.requestId),
      model: stream.model,
      created: stream.created,
      includeUsage: body.stream_options?.include_usage === true,
    });
    await pipeStream(req, reply, stream, ac.signal, enc, (e) => sseData(openaiErrorBody(e)));
    return reply;
  });

  app.post('/embeddings', { bodyLimit: COMPAT_BODY_LIMIT }, async (req, reply) => {
    const parsed = embeddingsBodySchema.safeParse(req.body);
    if (!parsed.success) {
      deps.metrics.rejections.inc({ reason: 'invalid' });
      return sendError(reply, 'openai', invalidBody(parsed.error));
    }
    const body = parsed.data;
    req.logModel = body.model;
    const ac = clientAbort(reply);
    const result = await createEmbeddings(
      deps,
      {
        model: body.model,
        input: body.input,
        ...(body.dimensions != null ? { dimensions: body.dimensions } : {}),
        ...traceHeaders(req, deps.tracing),
      },
      callContext(req, reply, 'openai', ac.signal),
    );
    return reply.send(toEmbeddingsResponse(result, body));
  });

  app.post('/messages', { bodyLimit: COMPAT_BODY_LIMIT }, async (req, reply) => {
    const parsed = messagesBodySchema.safeParse(req.body);
    if (!parsed.success) {
      deps.metrics.rejections.inc({ reason: 'invalid' });
      return sendError(reply, 'anthropic', invalidBody(parsed.error));
    }
    const body = parsed.data;
    req.logModel = body.model;
    const input = {
      ...anthropicNativeInput(anthropicToCanonical(body), req),
      ...traceHeaders(req, deps.tracing),
    };
    const ac = clientAbort(reply);
    const call = callContext(req, reply, 'anthropic', ac.signal);
    if (!body.stream) {
      const result = await chatComplete(deps, input, call);
      // An Anthropic model answered the caller's own body: its message goes back as it came.
      if (result.raw !== undefined)
        return reply.send({ ...(result.raw as Record<string, unknown>), model: result.model });
      return reply.send(toAnthropicMessage(result));
    }
    const stream = await startChatStream(deps, input, call);
    const enc =
      stream.provider === 'anthropic'
        ? anthropicNativeEncoder(stream.model)
        : createAnthropicStreamEncoder({
            id: messageId(undefined, stream.requestId),
            model: stream.model,
          });
    await pipeStream(req, reply, stream, ac.signal, enc, (e) =>
      sseEvent('error', anthropicErrorBody(e)),
    );
    return reply;
  });

  // Routes of #17 live in their own files; they get this scope's auth, errors and streaming.
  const kit: CompatKit = {
    deps,
    principal: (req) => {
      const p = principals.get(req);
      if (!p) throw new DomainError('unauthenticated', 'missing credentials');
      return p;
    },
    sendError,
    invalidBody,
    clientAbort,
    callContext,
    pipeStream: (req, reply, stream, signal, enc, errorFrame) =>
      pipeStream(req, reply, stream, signal, enc, errorFrame),
  };
  registerAnthropicExtras(app, kit);
  registerResponsesRoutes(app, kit);
  registerFilesRoutes(app, kit);
  registerBatchesRoutes(app, kit);
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
