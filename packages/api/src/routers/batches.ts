import {
  cancelBatch,
  DomainError,
  getBatch,
  listBatches,
  readResults,
  rotateWebhookSecret,
  submitBatch,
} from '@tollgate/core';
import { z } from 'zod';
import { router, scopedProcedure } from '../trpc.ts';
import {
  BatchCreateInput,
  BatchDetail,
  BatchIdInput,
  BatchListInput,
  BatchPage,
  BatchResultsInput,
  BatchResultsPage,
  WebhookSecret,
} from './batches.schemas.ts';

const IdempotencyKey = z.string().min(1).max(255);

export const batchesRouter = router({
  create: scopedProcedure('batches')
    .meta({
      openapi: {
        method: 'POST',
        path: '/batches',
        tags: ['batches'],
        protect: true,
        summary:
          'Submits up to 50,000 chat calls (JSON `{items, webhookUrl?}`, or a JSONL body with one item per line and `?webhookUrl=`); header Idempotency-Key: same key and body → the same batch, another body → 422',
      },
    })
    .input(BatchCreateInput)
    .output(BatchDetail)
    .mutation(async ({ ctx, input }) => {
      const key = ctx.headers['idempotency-key'];
      if (key !== undefined && !IdempotencyKey.safeParse(key).success) {
        throw new DomainError('bad_request', 'Idempotency-Key must be 1-255 characters', {
          param: 'Idempotency-Key',
        });
      }
      const idempotencyKey = key;
      return submitBatch(ctx, ctx.principal, input.items, {
        idempotencyKey,
        webhookUrl: input.webhookUrl,
      });
    }),

  list: scopedProcedure('read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/batches',
        tags: ['batches'],
        protect: true,
        summary: 'Batches, newest first (own unless admin)',
      },
    })
    .input(BatchListInput)
    .output(BatchPage)
    .query(({ ctx, input }) => listBatches(ctx, ctx.principal, input)),

  get: scopedProcedure('read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/batches/{id}',
        tags: ['batches'],
        protect: true,
        summary: 'A batch: status, counts, cost so far, webhook delivery attempts',
      },
    })
    .input(BatchIdInput)
    .output(BatchDetail)
    .query(({ ctx, input }) => getBatch(ctx, ctx.principal, input.id)),

  cancel: scopedProcedure('batches')
    .meta({
      openapi: {
        method: 'POST',
        path: '/batches/{id}/cancel',
        tags: ['batches'],
        protect: true,
        summary: 'Cancels pending items; running ones finish and are billed',
      },
    })
    .input(BatchIdInput)
    .output(BatchDetail)
    .mutation(({ ctx, input }) => cancelBatch(ctx, ctx.principal, input.id)),

  /**
   * Results in input order, a page at a time (ended items only). REST serves them as one JSONL
   * stream at GET /api/batches/{id}/results instead.
   */
  results: scopedProcedure('read')
    .input(BatchResultsInput)
    .output(BatchResultsPage)
    .query(
      async ({ ctx, input }) =>
        (await readResults(ctx, ctx.principal, input.id, input)) as z.infer<
          typeof BatchResultsPage
        >,
    ),
});

export const webhooksRouter = router({
  rotateSecret: scopedProcedure('batches')
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/secret',
        tags: ['webhooks'],
        protect: true,
        summary:
          'A new webhook signing secret for the caller, shown once (Tollgate-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">)',
      },
    })
    .input(z.object({}).optional())
    .output(WebhookSecret)
    .mutation(({ ctx }) => rotateWebhookSecret(ctx, ctx.principal)),
});
