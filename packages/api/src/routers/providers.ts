import {
  createConnection,
  deleteConnection,
  listConnections,
  updateConnection,
} from '@tollgate/core';
import { z } from 'zod';
import { adminProcedure, auditedAdminProcedure, router } from '../trpc.ts';
import {
  Connection,
  ConnectionPage,
  CreateConnectionInput,
  UpdateConnectionInput,
} from './providers.schemas.ts';
import { ListInput } from './users.schemas.ts';

export const providersRouter = router({
  list: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/providers',
        tags: ['providers'],
        protect: true,
        summary: 'Provider connections, built-in ones first (admin); keys are never shown',
      },
    })
    .input(ListInput)
    .output(ConnectionPage)
    .query(({ ctx, input }) => listConnections(ctx, input)),

  create: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/providers',
        tags: ['providers'],
        protect: true,
        summary: 'Create a provider connection (admin); the key is write-only',
      },
    })
    .input(CreateConnectionInput)
    .output(Connection)
    .mutation(({ ctx, input }) => createConnection(ctx, input, ctx.audit)),

  update: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/providers/{id}',
        tags: ['providers'],
        protect: true,
        summary: 'Change a provider connection (admin); a key left out is kept',
      },
    })
    .input(UpdateConnectionInput)
    .output(Connection)
    .mutation(({ ctx, input }) => {
      const { id, ...patch } = input;
      return updateConnection(ctx, id, patch, ctx.audit);
    }),

  delete: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/providers/{id}',
        tags: ['providers'],
        protect: true,
        summary: 'Delete a provider connection no model routes to (admin)',
      },
    })
    .input(z.object({ id: z.uuid() }))
    .output(Connection)
    .mutation(({ ctx, input }) => deleteConnection(ctx, input.id, ctx.audit)),
});
