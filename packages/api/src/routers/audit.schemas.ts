import { z } from 'zod';
import { ListInput } from './users.schemas.ts';

export const AuditListInput = ListInput.extend({
  actorId: z.uuid().optional(),
  action: z.string().max(100).optional(),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(300).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

export const AuditEntry = z.object({
  id: z.uuid(),
  actorId: z.uuid().nullable(),
  /** The procedure name, e.g. `keys.create`. */
  action: z.string(),
  targetType: z.string(),
  targetId: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

export const AuditPage = z.object({
  items: z.array(AuditEntry),
  nextCursor: z.string().nullable(),
});
