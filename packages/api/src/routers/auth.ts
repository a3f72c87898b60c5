import { login, logout, me, refresh, rotateSigningKey } from '@tollgate/core';
import { z } from 'zod';
import { auditedAdminProcedure, protectedProcedure, publicProcedure, router } from '../trpc.ts';
import {
  LoginInput,
  LogoutOutput,
  Me,
  RefreshInput,
  RotatedKey,
  TokenPair,
} from './auth.schemas.ts';

export const authRouter = router({
  login: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/login',
        tags: ['auth'],
        summary: 'Log in with email and password: a 15-minute access JWT and a refresh token',
      },
    })
    .input(LoginInput)
    .output(TokenPair)
    .mutation(({ ctx, input }) => login(ctx, input, { ip: ctx.ip })),

  refresh: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/refresh',
        tags: ['auth'],
        summary: 'Trade a refresh token for a new pair (the old one is spent; reuse revokes all)',
      },
    })
    .input(RefreshInput)
    .output(TokenPair)
    .mutation(({ ctx, input }) => refresh(ctx, input)),

  logout: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/logout',
        tags: ['auth'],
        protect: true,
        summary: "Revoke the refresh token's whole family",
      },
    })
    .input(RefreshInput)
    .output(LogoutOutput)
    .mutation(({ ctx, input }) => logout(ctx, ctx.principal, input)),

  me: protectedProcedure
    .meta({
      openapi: { method: 'GET', path: '/me', tags: ['auth'], protect: true, summary: 'Who am I' },
    })
    .input(z.object({}).optional())
    .output(Me)
    .query(({ ctx }) => me(ctx, ctx.principal)),

  rotateSigningKey: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/signing-keys/rotate',
        tags: ['auth'],
        protect: true,
        summary: 'Start signing with a new key (admin); tokens of the old one verify until expiry',
      },
    })
    .input(z.object({}).optional())
    .output(RotatedKey)
    .mutation(({ ctx }) => rotateSigningKey(ctx, ctx.audit)),
});
