import { createKey, listKeys, revokeKey, updateKey } from '@tollgate/core';
import { auditedProcedure, protectedProcedure, router } from '../trpc.ts';
import {
  CreatedKey,
  CreateKeyInput,
  Key,
  KeyIdInput,
  KeyListInput,
  KeyPage,
  UpdateKeyInput,
} from './keys.schemas.ts';

export const keysRouter = router({
  list: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/keys',
        tags: ['keys'],
        protect: true,
        summary:
          "Your API keys and your managed teams' (an admin: all), newest first; only a prefix is shown",
      },
    })
    .input(KeyListInput)
    .output(KeyPage)
    .query(({ ctx, input }) => listKeys(ctx, ctx.principal, input)),

  create: auditedProcedure
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
    .mutation(({ ctx, input }) => createKey(ctx, ctx.principal, input, ctx.audit)),

  update: auditedProcedure
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
      return updateKey(ctx, ctx.principal, id, changes, ctx.audit);
    }),

  revoke: auditedProcedure
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
    .mutation(({ ctx, input }) => revokeKey(ctx, ctx.principal, input.id, ctx.audit)),
});
