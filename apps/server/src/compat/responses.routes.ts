import {
  chatComplete,
  deleteStoredResponse,
  type GatewayStream,
  type GatewayStreamEvent,
  getStoredResponse,
  startChatStream,
  storeResponse,
} from '@tollgate/core';
import type { ChatRequest } from '@tollgate/providers';
import type { FastifyInstance } from 'fastify';
import { MODEL_CALL_BODY_LIMIT } from '../body-limits.ts';
import { traceHeaders } from '../tracing-hooks.ts';
import type { CompatKit } from './kit.ts';
import { type ResponseInputItem, responsesBodySchema } from './responses.schemas.ts';
import {
  createNativeResponsesEncoder,
  createResponsesStreamEncoder,
  inputItems,
  newResponseId,
  type ResponseFrame,
  type ResponsesStreamEncoder,
  responsesErrorFrame,
  responsesToCanonical,
  rewriteNativeResponse,
  toResponseObject,
} from './responses.translate.ts';

type Json = Record<string, unknown>;

/**
 * POST /v1/responses, GET and DELETE /v1/responses/{id}.
 *
 * Tollgate keeps the conversation itself: a stored Response (store, the default) holds the input
 * it saw and its output, and `previous_response_id` expands to those before the new input. So a
 * follow-up works whichever provider serves either turn, the upstream is always asked with
 * `store: false`, and someone else's id is a 404 like a missing one.
 */
export function registerResponsesRoutes(app: FastifyInstance, kit: CompatKit): void {
  const { deps } = kit;

  app.post('/responses', { bodyLimit: MODEL_CALL_BODY_LIMIT }, async (req, reply) => {
    const parsed = responsesBodySchema.safeParse(req.body);
    if (!parsed.success) {
      deps.metrics.rejections.inc({ reason: 'invalid' });
      return kit.sendError(reply, 'openai', kit.invalidBody(parsed.error));
    }
    const body = parsed.data;
    req.logModel = body.model;
    const who = kit.principal(req);
    const earlier: unknown[] = [];
    if (body.previous_response_id) {
      const prev = await getStoredResponse(
        deps,
        who,
        body.previous_response_id,
        'previous_response_id',
      );
      earlier.push(...prev.input, ...prev.output);
    }
    const items = [...(earlier as ResponseInputItem[]), ...inputItems(body.input)];
    const { previous_response_id: _prev, store: _store, ...raw } = req.body as Json;
    const input: ChatRequest = {
      ...responsesToCanonical(body, items),
      // An OpenAI model gets the caller's own body, the conversation expanded; Tollgate stores.
      native: { wire: 'openai.responses', body: { ...raw, input: items, store: false } },
      ...traceHeaders(req, deps.tracing),
    };
    const frame: ResponseFrame = {
      id: newResponseId(),
      createdAt: Math.floor(deps.clock.now().getTime() / 1000),
      model: body.model,
      body,
      store: body.store !== false,
    };
    const save = async (response: Json) => {
      if (!frame.store) return;
      await storeResponse(deps, who, {
        id: frame.id,
        model: String(response.model),
        input: items,
        output: (response.output as unknown[]) ?? [],
        body: response,
      });
    };
    const ac = kit.clientAbort(reply);
    const call = kit.callContext(req, reply, 'openai', ac.signal);

    if (!body.stream) {
      const result = await chatComplete(deps, input, call);
      frame.model = result.model;
      const response =
        result.raw !== undefined
          ? rewriteNativeResponse(frame, result.raw as Json)
          : toResponseObject(frame, result);
      await save(response);
      return reply.send(response);
    }

    const stream = await startChatStream(deps, input, call);
    frame.model = stream.model;
    const enc =
      stream.provider === 'openai'
        ? createNativeResponsesEncoder(frame)
        : createResponsesStreamEncoder(frame);
    await kit.pipeStream(
      req,
      reply,
      storedAtEnd(stream, enc, save, (err) => req.log.error({ err }, 'storing a response failed')),
      ac.signal,
      enc,
      (e) => responsesErrorFrame({ code: e.code, message: e.message, param: e.param }),
    );
    return reply;
  });

  app.get<{ Params: { id: string } }>('/responses/:id', async (req) => {
    const stored = await getStoredResponse(deps, kit.principal(req), req.params.id);
    return stored.body;
  });

  app.delete<{ Params: { id: string } }>('/responses/:id', async (req) => {
    await deleteStoredResponse(deps, kit.principal(req), req.params.id);
    return { id: req.params.id, object: 'response.deleted', deleted: true };
  });
}

/**
 * The stream, with the finished Response stored once the upstream is done and before the
 * terminal event goes out: a client that follows up at once finds its previous_response_id.
 */
function storedAtEnd(
  stream: GatewayStream,
  enc: ResponsesStreamEncoder,
  save: (r: Json) => Promise<void>,
  onError: (err: unknown) => void,
): GatewayStream {
  async function* events(): AsyncGenerator<GatewayStreamEvent> {
    for await (const ev of stream.events) yield ev;
    const final = enc.final();
    if (final) await save(final).catch(onError);
  }
  return { ...stream, events: events() };
}
