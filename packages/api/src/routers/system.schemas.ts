import { z } from 'zod';

export const SystemInfo = z.object({
  name: z.literal('tollgate'),
  version: z.string(),
  uptimeSeconds: z.number().int().nonnegative(),
  database: z.enum(['ok', 'unreachable']),
  time: z.iso.datetime(),
});
export type SystemInfo = z.infer<typeof SystemInfo>;
