import { usageCsv, usageSummary } from '@tollgate/core';
import { router, scopedProcedure } from '../trpc.ts';
import { UsageCsv, UsageInput, UsageSummary } from './usage.schemas.ts';

export const usageRouter = router({
  summary: scopedProcedure('read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/usage',
        tags: ['usage'],
        protect: true,
        summary:
          'Usage totals over a range by hour or day (in tz), model, key, user or team; exact at any moment (own calls unless admin)',
      },
    })
    .input(UsageInput)
    .output(UsageSummary)
    .query(({ ctx, input }) => usageSummary(ctx, ctx.principal, input)),

  /**
   * The summary as RFC 4180 CSV. Over HTTP, GET /api/usage.csv streams it as text/csv; this
   * procedure hands tRPC callers the same text.
   */
  export: scopedProcedure('read')
    .input(UsageInput)
    .output(UsageCsv)
    .query(async ({ ctx, input }) => {
      let csv = '';
      for await (const chunk of usageCsv(await usageSummary(ctx, ctx.principal, input))) {
        csv += String(chunk);
      }
      return { csv };
    }),
});
