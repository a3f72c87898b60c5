import { type CatalogModel, deleteModel, listModels, upsertModel } from '@tollgate/core';
import { z } from 'zod';
import { auditedAdminProcedure, protectedProcedure, router } from '../trpc.ts';
import { Model, ModelListInput, ModelName, ModelPage, ModelUpsertInput } from './models.schemas.ts';

function toWire(m: CatalogModel): Model {
  return { ...m, createdAt: m.createdAt.toISOString(), updatedAt: m.updatedAt.toISOString() };
}

export const modelsRouter = router({
  list: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/models',
        tags: ['models'],
        protect: true,
        summary: 'The model catalog',
      },
    })
    .input(ModelListInput)
    .output(ModelPage)
    .query(async ({ ctx, input }) => {
      const page = await listModels(ctx, input);
      return { items: page.items.map(toWire), nextCursor: page.nextCursor };
    }),

  upsert: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/models/{name}',
        tags: ['models'],
        protect: true,
        summary: 'Create or replace a catalog entry (admin)',
      },
    })
    .input(ModelUpsertInput)
    .output(Model)
    .mutation(async ({ ctx, input }) => toWire(await upsertModel(ctx, input, ctx.audit))),

  delete: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/models/{name}',
        tags: ['models'],
        protect: true,
        summary: 'Remove a catalog entry (admin)',
      },
    })
    .input(z.object({ name: ModelName }))
    .output(z.object({ name: z.string(), deleted: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await deleteModel(ctx, input.name, ctx.audit);
      return { name: input.name, deleted: true as const };
    }),
});
