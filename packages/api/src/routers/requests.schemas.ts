import { z } from 'zod';

export const RequestStatus = z.enum(['ok', 'error', 'aborted', 'rejected']);

export const RequestLogRow = z.object({
  id: z.string(),
  requestId: z.string(),
  userId: z.string(),
  keyId: z.string().nullable(),
  batchItemId: z.string().nullable(),
  model: z.string(),
  provider: z.string(),
  upstreamModel: z.string(),
  /** The provider connection that served the call. */
  connection: z.string().nullable(),
  status: RequestStatus,
  errorCode: z.string().nullable(),
  latencyMs: z.number().int(),
  ttftMs: z.number().int().nullable(),
  inputTokens: z.number().int(),
  cachedInputTokens: z.number().int(),
  cacheWriteTokens: z.number().int(),
  outputTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  usageEstimated: z.boolean(),
  /** Exact decimal string; null when the model is unpriced. */
  costUsd: z.string().nullable(),
  cacheHit: z.boolean(),
  /** Which surface took the call: trpc, rest (/api), openai or anthropic (/v1), batch. */
  surface: z.enum(['trpc', 'rest', 'openai', 'anthropic', 'batch']).nullable(),
  createdAt: z.iso.datetime(),
});

export const RequestLogDetail = RequestLogRow.extend({
  bodies: z.object({ request: z.unknown(), response: z.unknown() }).nullable(),
});

export const RequestListInput = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
  model: z.string().min(1).max(256).optional(),
  status: RequestStatus.optional(),
  /** Only calls made with this API key. */
  keyId: z.uuid().optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

export const RequestPage = z.object({
  items: z.array(RequestLogRow),
  nextCursor: z.string().nullable(),
});

export const RequestTailInput = z
  .object({
    model: z.string().min(1).max(256).optional(),
    status: RequestStatus.optional(),
  })
  .optional();
