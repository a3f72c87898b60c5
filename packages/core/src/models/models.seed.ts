import type { Config } from '@tollgate/config';
import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';
import { insertModelsIfAbsent, type ModelValues } from './models.repository.ts';
import { invalidateCatalog } from './models.service.ts';

type Seed = Omit<
  ModelValues,
  'enabled' | 'cachedInputPricePerMTok' | 'cacheWritePricePerMTok' | 'aliases' | 'fallbacks'
> &
  Partial<ModelValues>;

const chat = (
  name: string,
  provider: string,
  upstreamModel: string,
  p: { in: string; out: string; cached?: string; write?: string },
  contextWindow: number,
  maxOutputTokens: number,
  aliases: string[] = [],
): Seed => ({
  name,
  provider,
  upstreamModel,
  kind: 'chat',
  inputPricePerMTok: p.in,
  outputPricePerMTok: p.out,
  cachedInputPricePerMTok: p.cached ?? null,
  cacheWritePricePerMTok: p.write ?? null,
  contextWindow,
  maxOutputTokens,
  aliases,
});

const embedding = (name: string, provider: string, price: string, contextWindow: number): Seed => ({
  name,
  provider,
  upstreamModel: name,
  kind: 'embedding',
  // Embeddings produce no output tokens; $0 there is a real price, not "unpriced".
  inputPricePerMTok: price,
  outputPricePerMTok: '0',
  contextWindow,
  maxOutputTokens: null,
});

/** The always-on mock models (PRODUCT.md): non-zero prices so cost and budgets work offline. */
export const mockModels: Seed[] = [
  chat('mock-echo', 'mock', 'mock-echo', { in: '1', out: '2' }, 128_000, 4_096),
  chat('mock-slow', 'mock', 'mock-slow', { in: '1', out: '2' }, 128_000, 4_096),
  { ...embedding('mock-embed', 'mock', '1', 8_192), outputPricePerMTok: '2' },
];

/** OpenAI list prices per million tokens (standard tier). */
export const openaiModels: Seed[] = [
  chat('gpt-4o', 'openai', 'gpt-4o', { in: '2.5', out: '10', cached: '1.25' }, 128_000, 16_384),
  chat(
    'gpt-4o-mini',
    'openai',
    'gpt-4o-mini',
    { in: '0.15', out: '0.6', cached: '0.075' },
    128_000,
    16_384,
  ),
  chat('gpt-4.1', 'openai', 'gpt-4.1', { in: '2', out: '8', cached: '0.5' }, 1_047_576, 32_768),
  chat(
    'gpt-4.1-mini',
    'openai',
    'gpt-4.1-mini',
    { in: '0.4', out: '1.6', cached: '0.1' },
    1_047_576,
    32_768,
  ),
  chat(
    'gpt-4.1-nano',
    'openai',
    'gpt-4.1-nano',
    { in: '0.1', out: '0.4', cached: '0.025' },
    1_047_576,
    32_768,
  ),
  chat('o3', 'openai', 'o3', { in: '2', out: '8', cached: '0.5' }, 200_000, 100_000),
  chat(
    'o4-mini',
    'openai',
    'o4-mini',
    { in: '1.1', out: '4.4', cached: '0.275' },
    200_000,
    100_000,
  ),
  embedding('text-embedding-3-small', 'openai', '0.02', 8_191),
  embedding('text-embedding-3-large', 'openai', '0.13', 8_191),
];

/** Anthropic list prices per million tokens; cache writes at the 5-minute rate. */
export const anthropicModels: Seed[] = [
  chat(
    'claude-opus-4-1',
    'anthropic',
    'claude-opus-4-1-20250805',
    { in: '15', out: '75', cached: '1.5', write: '18.75' },
    200_000,
    32_000,
    ['claude-opus-4-1-20250805'],
  ),
  chat(
    'claude-opus-4',
    'anthropic',
    'claude-opus-4-20250514',
    { in: '15', out: '75', cached: '1.5', write: '18.75' },
    200_000,
    32_000,
    ['claude-opus-4-20250514'],
  ),
  chat(
    'claude-sonnet-4-5',
    'anthropic',
    'claude-sonnet-4-5-20250929',
    { in: '3', out: '15', cached: '0.3', write: '3.75' },
    200_000,
    64_000,
    ['claude-sonnet-4-5-20250929'],
  ),
  chat(
    'claude-sonnet-4',
    'anthropic',
    'claude-sonnet-4-20250514',
    { in: '3', out: '15', cached: '0.3', write: '3.75' },
    200_000,
    64_000,
    ['claude-sonnet-4-20250514'],
  ),
  chat(
    'claude-3-7-sonnet',
    'anthropic',
    'claude-3-7-sonnet-20250219',
    { in: '3', out: '15', cached: '0.3', write: '3.75' },
    200_000,
    64_000,
    ['claude-3-7-sonnet-20250219', 'claude-3-7-sonnet-latest'],
  ),
  chat(
    'claude-haiku-4-5',
    'anthropic',
    'claude-haiku-4-5-20251001',
    { in: '1', out: '5', cached: '0.1', write: '1.25' },
    200_000,
    64_000,
    ['claude-haiku-4-5-20251001'],
  ),
  chat(
    'claude-3-5-haiku',
    'anthropic',
    'claude-3-5-haiku-20241022',
    { in: '0.8', out: '4', cached: '0.08', write: '1' },
    200_000,
    8_192,
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku-latest'],
  ),
];

/**
 * Seeds the catalog with the mock models and, for each configured provider, its current models.
 * Idempotent: existing rows (an admin may have edited prices) are left alone. Returns rows added.
 */
export async function seedModels(deps: {
  db: Kysely<DB>;
  config: Pick<Config, 'openai' | 'anthropic'>;
}): Promise<number> {
  const seeds = [
    ...mockModels,
    ...(deps.config.openai ? openaiModels : []),
    ...(deps.config.anthropic ? anthropicModels : []),
  ];
  const added = await insertModelsIfAbsent(
    deps.db,
    seeds.map((s) => ({
      cachedInputPricePerMTok: null,
      cacheWritePricePerMTok: null,
      aliases: [],
      fallbacks: [],
      enabled: true,
      ...s,
    })),
  );
  invalidateCatalog(deps);
  return added;
}
