import { createEmbeddings } from '@tollgate/core';
import { router, scopedProcedure } from '../trpc.ts';
import { EmbeddingsInput, EmbeddingsResult } from './embeddings.schemas.ts';
import { callContext, traced } from './gateway-call.ts';

export const embeddingsRouter = router({
  create: scopedProcedure('gateway')
    .meta({
      openapi: {
        method: 'POST',
        path: '/embeddings',
        tags: ['embeddings'],
        protect: true,
        summary: 'Embeddings through the catalog',
      },
    })
    .input(EmbeddingsInput)
    .output(EmbeddingsResult)
    .mutation(async ({ ctx, input, signal }) => {
      const r = await createEmbeddings(ctx, traced(ctx, input), callContext(ctx, signal));
      return {
        requestId: r.requestId,
        model: r.model,
        provider: r.provider,
        embeddings: r.vectors,
        usage: { inputTokens: r.usage.inputTokens },
      };
    }),
});
