import { getSystemInfo } from '@tollgate/core';
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc.ts';
import { SystemInfo } from './system.schemas.ts';

export const systemRouter = router({
  info: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/system/info',
        tags: ['system'],
        protect: true,
        summary: 'Version, uptime and database status',
      },
    })
    .input(z.object({}).optional())
    .output(SystemInfo)
    .query(({ ctx }) => getSystemInfo(ctx)),
});
