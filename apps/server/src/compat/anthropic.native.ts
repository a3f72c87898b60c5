import { countTokens } from '@tollgate/core';
import type { ChatRequest } from '@tollgate/providers';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MODEL_CALL_BODY_LIMIT } from '../body-limits.ts';
import { countTokensBodySchema } from './anthropic.schemas.ts';
import { anthropicToCanonical, sseEvent } from './anthropic.translate.ts';
import { type CompatKit, headerString, type StreamEncoder } from './kit.ts';

/*
 * /v1/messages to an Anthropic model: the caller's own body goes upstream (model replaced), so
 * extended thinking (the `thinking` parameter, thinking and redacted_thinking blocks with their
 * signatures), cache_control and whatever Anthropic adds next arrive as sent, and the answer
 * comes back as Anthropic sent it. Other providers get the canonical translation.
 */

/** Headers an Anthropic caller sets that change what the API does; forwarded as sent. */
const FORWARDED = ['anthropic-beta', 'anthropic-version'] as const;

export function anthropicHeaders(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of FORWARDED) {
    const v = headerString(req.headers[h]);
    if (v !== undefined && v !== '') out[h] = v;
  }
  return out;
}

/** The canonical request with the caller's Messages body attached for an Anthropic upstream. */
export function anthropicNativeInput(canonical: ChatRequest, req: FastifyRequest): ChatRequest {
  return {
    ...canonical,
    native: {
      wire: 'anthropic.messages',
      body: req.body as Record<string, unknown>,
      headers: anthropicHeaders(req),
    },
  };
}

/** Anthropic's own stream events, passed on as received (public model name in message_start). */
export function anthropicNativeEncoder(model: string): StreamEncoder {
  return {
    start: () => [],
    event(e) {
      if (e.type !== 'raw') return [];
      const ev = e.event;
      if (ev.type === 'message_start') {
        const message = ev.message as Record<string, unknown>;
        return [sseEvent(ev.type, { ...ev, message: { ...message, model } })];
      }
      return [sseEvent(ev.type, ev)];
    },
    end: () => [],
  };
}

/** POST /v1/messages/count_tokens. */
export function registerAnthropicExtras(app: FastifyInstance, kit: CompatKit): void {
  app.post('/messages/count_tokens', { bodyLimit: MODEL_CALL_BODY_LIMIT }, async (req, reply) => {
    const parsed = countTokensBodySchema.safeParse(req.body);
    if (!parsed.success) {
      kit.deps.metrics.rejections.inc({ reason: 'invalid' });
      return kit.sendError(reply, 'anthropic', kit.invalidBody(parsed.error));
    }
    const body = parsed.data;
    req.logModel = body.model;
    kit.principal(req);
    const ac = kit.clientAbort(reply);
    const { max_tokens: _max, ...upstreamBody } = req.body as Record<string, unknown>;
    const canonical = anthropicToCanonical({ ...body, max_tokens: body.max_tokens ?? 1 });
    const count = await countTokens(
      kit.deps,
      {
        model: body.model,
        body: upstreamBody,
        headers: anthropicHeaders(req),
        messages: canonical.messages,
      },
      { signal: ac.signal },
    );
    return reply.send({ input_tokens: count.inputTokens });
  });
}
