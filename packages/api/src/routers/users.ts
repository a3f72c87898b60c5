import { createUser, listUsers, updateUser } from '@tollgate/core';
import { adminProcedure, auditedAdminProcedure, router } from '../trpc.ts';
import {
  CreatedUser,
  CreateUserInput,
  ListInput,
  UpdateUserInput,
  User,
  UserPage,
} from './users.schemas.ts';

export const usersRouter = router({
  list: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/users',
        tags: ['users'],
        protect: true,
        summary: 'Users, newest first (admin)',
      },
    })
    .input(ListInput)
    .output(UserPage)
    .query(({ ctx, input }) => listUsers(ctx, input)),

  create: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/users',
        tags: ['users'],
        protect: true,
        summary: 'Create a user (admin); a generated password is returned once if none is given',
      },
    })
    .input(CreateUserInput)
    .output(CreatedUser)
    .mutation(({ ctx, input }) => createUser(ctx, input, ctx.audit)),

  update: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/users/{id}',
        tags: ['users'],
        protect: true,
        summary: 'Change role, disabled or password (admin); disabling revokes every credential',
      },
    })
    .input(UpdateUserInput)
    .output(User)
    .mutation(({ ctx, input }) => {
      const { id, ...changes } = input;
      return updateUser(ctx, ctx.principal, id, changes, ctx.audit);
    }),
});
