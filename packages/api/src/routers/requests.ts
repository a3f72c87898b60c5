import { getRequest, listRequests } from '@tollgate/core';
import { z } from 'zod';
import { router, scopedProcedure } from '../trpc.ts';
import { RequestListInput, RequestLogDetail, RequestPage } from './requests.schemas.ts';

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
});
