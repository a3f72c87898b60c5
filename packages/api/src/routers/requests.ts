import { setTimeout as sleep } from 'node:timers/promises';
import { getRequest, listRequests } from '@tollgate/core';
import { z } from 'zod';
import { router, scopedProcedure } from '../trpc.ts';
import {
  RequestListInput,
  RequestLogDetail,
  type RequestLogRow,
  RequestPage,
  RequestTailInput,
} from './requests.schemas.ts';

type Row = z.infer<typeof RequestLogRow>;

/**
 * Rows are written after their response, in batches about a second apart, with the time the
 * request started: a row can land after newer ones. So each poll re-reads a window that covers
 * the writer's delay and sends only ids not sent yet.
 */
const TAIL_POLL_MS = 1_000;
const TAIL_WINDOW_MS = 30_000;

export const requestsRouter = router({
  list: scopedProcedure('read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/requests',
        tags: ['requests'],
        protect: true,
        summary: 'The request log, newest first (own rows unless admin)',
      },
    })
    .input(RequestListInput)
    .output(RequestPage)
    .query(({ ctx, input }) => listRequests(ctx, ctx.principal, input)),

  get: scopedProcedure('read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/requests/{id}',
        tags: ['requests'],
        protect: true,
        summary: 'One request-log row with its bodies, by id or request id',
      },
    })
    .input(z.object({ id: z.string().min(1).max(128) }))
    .output(RequestLogDetail)
    .query(({ ctx, input }) => getRequest(ctx, ctx.principal, input.id)),

  /**
   * The live tail (tRPC subscription over SSE; no REST route): the rows of the last 30 seconds,
   * then each new row once, oldest first, with the list's visibility (own rows unless admin).
   * Never throws after its first yield (a reconnecting client would loop): a failed poll is
   * logged and retried on the next tick.
   */
  tail: scopedProcedure('read')
    .input(RequestTailInput)
    .subscription(async function* ({ ctx, input, signal }): AsyncGenerator<Row> {
      const sent = new Map<string, number>(); // id → createdAt (ms), pruned past the window
      while (!signal?.aborted) {
        const since = Date.now() - TAIL_WINDOW_MS;
        try {
          const page = await listRequests(ctx, ctx.principal, {
            limit: 500,
            model: input?.model,
            status: input?.status,
            from: new Date(since).toISOString(),
          });
          for (const row of page.items.reverse()) {
            if (sent.has(row.id)) continue;
            sent.set(row.id, Date.parse(row.createdAt));
            yield row;
          }
        } catch (e) {
          ctx.log.warn({ err: String(e) }, 'request tail poll failed');
        }
        for (const [id, at] of sent) if (at < since) sent.delete(id);
        await sleep(TAIL_POLL_MS, undefined, { signal }).catch(() => undefined);
      }
    }),
});
