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

/** Where a model is served: a provider connection's name and the model name there. */
export const Deployment = z.object({
  provider: z.string().min(1).max(64),
  upstreamModel: z.string().min(1).max(256),
  /** Relative share of traffic under weighted routing (default 1). */
  weight: z.number().positive().max(1_000_000).optional(),
  inputPricePerMTok: Price.optional(),
  outputPricePerMTok: Price.optional(),
});

export const RoutingStrategy = z.enum(['weighted', 'least-in-flight', 'lowest-latency']);

export const ModelUpsertInput = z.object({
  name: ModelName,
  /** A connection name (`mock`, `openai`, `anthropic` or one from providers.create). */
  provider: z.string().min(1).max(64).optional(),
  upstreamModel: z.string().min(1).max(256).optional(),
  /** Instead of provider + upstreamModel: weighted deployments on one or more connections. */
  deployments: z.array(Deployment).min(1).max(32).optional(),
  /** How a request picks among deployments (default weighted random). */
  routing: RoutingStrategy.optional(),
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
  deployments: z.array(
    z.object({
      provider: z.string(),
      upstreamModel: z.string(),
      weight: z.number(),
      inputPricePerMTok: z.string().nullable(),
      outputPricePerMTok: z.string().nullable(),
    }),
  ),
  routing: RoutingStrategy,
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
