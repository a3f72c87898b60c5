import { z } from 'zod';

/** A price per million tokens: a decimal string (or a plain number), null = unpriced. */
export const Price = z
  .union([
    z.string().regex(/^\d{1,9}(\.\d{1,10})?$/, 'expected a decimal such as "0.15"'),
    z.number().nonnegative().max(999_999_999),
  ])
  .transform((v) => (typeof v === 'number' ? String(v) : v))
  .nullable();

export const ModelName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]*$/, 'letters, digits and . _ : @ / - only');

export const ModelKind = z.enum(['chat', 'embedding']);

export const ModelUpsertInput = z.object({
  name: ModelName,
  provider: z.enum(['mock', 'openai', 'anthropic']),
  upstreamModel: z.string().min(1).max(256),
  kind: ModelKind,
  inputPricePerMTok: Price,
  outputPricePerMTok: Price,
  cachedInputPricePerMTok: Price.optional(),
  cacheWritePricePerMTok: Price.optional(),
  contextWindow: z.number().int().positive().nullable().optional(),
  maxOutputTokens: z.number().int().positive().nullable().optional(),
  enabled: z.boolean().optional(),
  aliases: z.array(ModelName).max(32).optional(),
  fallbacks: z.array(ModelName).max(8).optional(),
});

export const Model = z.object({
  name: z.string(),
  provider: z.string(),
  upstreamModel: z.string(),
  kind: ModelKind,
  inputPricePerMTok: z.string().nullable(),
  outputPricePerMTok: z.string().nullable(),
  cachedInputPricePerMTok: z.string().nullable(),
  cacheWritePricePerMTok: z.string().nullable(),
  contextWindow: z.number().int().nullable(),
  maxOutputTokens: z.number().int().nullable(),
  enabled: z.boolean(),
  aliases: z.array(z.string()),
  fallbacks: z.array(z.string()),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Model = z.infer<typeof Model>;

export const Limit = z.coerce.number().int().min(1).max(500).default(50);

export const ModelListInput = z.object({
  limit: Limit,
  cursor: z.string().max(256).optional(),
  kind: ModelKind.optional(),
});

export const ModelPage = z.object({ items: z.array(Model), nextCursor: z.string().nullable() });
