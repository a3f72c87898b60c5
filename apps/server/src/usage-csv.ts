import { type Context, createCaller, domainCause } from '@tollgate/api';
import { usageCsv } from '@tollgate/core';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { rememberPrincipal } from './request-principal.ts';

type Options = { createContext: (opts: { req: FastifyRequest }) => Promise<Context> };

/**
 * GET /api/usage.csv: usage.summary as an RFC 4180 CSV stream (text/csv). The procedure does the
 * auth, scope and input checks; refusals answer in the REST bridge's `{ error: { code, … } }`.
 */
export async function usageCsvRoute(app: FastifyInstance, opts: Options): Promise<void> {
  app.get('/api/usage.csv', async (req, reply) => {
    const ctx = await opts.createContext({ req });
    rememberPrincipal(req, ctx.principal);
    const q = req.query as Record<string, string | undefined>;
    let summary: Awaited<ReturnType<ReturnType<typeof createCaller>['usage']['summary']>>;
    try {
      summary = await createCaller({ ...ctx, surface: 'rest' }).usage.summary({
        from: q.from as string,
        to: q.to as string,
        ...(q.groupBy ? { groupBy: q.groupBy as 'day' } : {}),
        ...(q.tz ? { tz: q.tz } : {}),
      });
    } catch (e) {
      if (!(e instanceof TRPCError)) throw e;
      const cause = domainCause(e);
      const issues =
        e.code === 'BAD_REQUEST' && e.cause && 'issues' in e.cause ? e.cause.issues : undefined;
      return reply.code(getHTTPStatusCodeFromError(e)).send({
        error: {
          code: cause?.code ?? e.code.toLowerCase(),
          message: e.message,
          ...(issues ? { issues } : {}),
        },
      });
    }
    const name = `usage-${summary.groupBy}-${summary.from.slice(0, 10)}.csv`;
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(usageCsv(summary));
  });
}
