import {
  chatComplete,
  claimRequestId,
  DomainError,
  type DomainErrorCode,
  startChatStream,
  toChatResult,
} from '@tollgate/core';
import { toTRPCError } from '../errors.ts';
import { router, scopedProcedure } from '../trpc.ts';
import { ChatInput, ChatResult, type ChatStreamEvent, ChatStreamInput } from './chat.schemas.ts';
import { callContext, traced } from './gateway-call.ts';

const upstreamFailures = new Set<DomainErrorCode>([
  'upstream_error',
  'upstream_timeout',
  'unavailable',
]);

export const chatRouter = router({
  complete: scopedProcedure('gateway')
    .meta({
      openapi: {
        method: 'POST',
        path: '/chat/completions',
        tags: ['chat'],
        protect: true,
        summary: 'A chat completion through the catalog (non-streaming)',
      },
    })
    .input(ChatInput)
    .output(ChatResult)
    // `stream` is only ever false here (the schema refuses true): not part of the call.
    .mutation(async ({ ctx, input: { stream: _, cache, ...input }, signal }) =>
      toChatResult(
        await chatComplete(ctx, traced(ctx, input), callContext(ctx, signal, { cache })),
      ),
    ),

  /**
   * A streamed chat completion (tRPC subscription over SSE). Never throws after its first yield:
   * an INTERNAL_SERVER_ERROR there makes httpSubscriptionLink reconnect and re-run it forever;
   * failures become one `error` event and the stream ends.
   */
  stream: scopedProcedure('gateway')
    .input(ChatStreamInput)
    .subscription(async function* ({ ctx, input, signal }): AsyncGenerator<ChatStreamEvent> {
      const { requestId, cache, ...chat } = input;
      let stream: Awaited<ReturnType<typeof startChatStream>>;
      try {
        await claimRequestId(ctx, ctx.principal, requestId);
        stream = await startChatStream(
          ctx,
          traced(ctx, chat),
          callContext(ctx, signal, { requestId, cache }),
        );
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        // httpSubscriptionLink reconnects on 5xx and would re-run this with the same (now claimed)
        // id: upstream failures are told in-band instead, so the client sees the real reason.
        if (upstreamFailures.has(e.code)) {
          yield { type: 'error', code: e.code, message: e.message };
          return;
        }
        // Inside a generator the domainErrors middleware has already returned: map here.
        throw toTRPCError(e);
      }
      yield {
        type: 'start',
        requestId: stream.requestId,
        model: stream.model,
        provider: stream.provider,
        createdAt: new Date(stream.created * 1000).toISOString(),
      };
      try {
        // `raw` events only come from native /v1 calls (ChatRequest.native), never from here.
        for await (const ev of stream.events) if (ev.type !== 'raw') yield ev;
      } catch (e) {
        ctx.log.error({ err: String(e), requestId }, 'chat stream failed');
        yield { type: 'error', code: 'upstream_error', message: 'the stream failed' };
      }
    }),
});
