import { z } from 'zod';

export const EmbeddingsInput = z.object({
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  dimensions: z.number().int().positive().max(16_384).optional(),
});

export const EmbeddingsResult = z.object({
  requestId: z.string(),
  model: z.string(),
  provider: z.string(),
  embeddings: z.array(z.array(z.number())),
  usage: z.object({ inputTokens: z.number().int() }),
});
