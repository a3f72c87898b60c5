import { createKey, listKeys, revokeKey, updateKey } from '@tollgate/core';
import { protectedProcedure, router } from '../trpc.ts';
import {
  CreatedKey,
  CreateKeyInput,
  Key,
  KeyIdInput,
  KeyPage,
  UpdateKeyInput,
} from './keys.schemas.ts';
import { ListInput } from './users.schemas.ts';

export const keysRouter = router({
  list: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/keys',
        tags: ['keys'],
        protect: true,
        summary: 'Your API keys (an admin: all keys), newest first; only a short prefix is shown',
      },
    })
    .input(ListInput)
    .output(KeyPage)
    .query(({ ctx, input }) => listKeys(ctx, ctx.principal, input)),

  create: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/keys',
        tags: ['keys'],
        protect: true,
        summary: 'Create a key (secret shown once)',
      },
    })
    .input(CreateKeyInput)
    .output(CreatedKey)
    .mutation(({ ctx, input }) => createKey(ctx, ctx.principal, input)),

  update: protectedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/keys/{id}',
        tags: ['keys'],
        protect: true,
        summary: "Change a key's name, expiry, limits or defaults (not its scopes)",
      },
    })
    .input(UpdateKeyInput)
    .output(Key)
    .mutation(({ ctx, input }) => {
      const { id, ...changes } = input;
      return updateKey(ctx, ctx.principal, id, changes);
    }),

  revoke: protectedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/keys/{id}',
        tags: ['keys'],
        protect: true,
        summary: 'Revoke a key: refused everywhere within a second',
      },
    })
    .input(KeyIdInput)
    .output(Key)
    .mutation(({ ctx, input }) => revokeKey(ctx, ctx.principal, input.id)),
});
