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
  maxOutputTokens: number | null,
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

/**
 * Anthropic list prices per million tokens; cache writes at the 5-minute rate. Current models only
 * (2026-12): none the Anthropic SDK lists as deprecated (claude-sonnet-4-5 and claude-opus-4-5
 * reach end-of-life; Claude 3.x and the 4.0/4.1 models are retired). An output limit not
 * published where we could check it is left null (not enforced) rather than guessed.
 */
export const anthropicModels: Seed[] = [
  chat(
    'claude-opus-5',
    'anthropic',
    'claude-opus-5',
    { in: '5', out: '25', cached: '0.5', write: '6.25' },
    1_000_000,
    null,
  ),
  chat(
    'claude-sonnet-5-5',
    'anthropic',
    'claude-sonnet-5-5',
    { in: '2', out: '10', cached: '0.2', write: '2.5' },
    1_000_000,
    null,
  ),
  chat(
    'claude-sonnet-5',
    'anthropic',
    'claude-sonnet-5',
    { in: '2', out: '10', cached: '0.2', write: '2.5' },
    1_000_000,
    null,
  ),
  chat(
    'claude-opus-4-7',
    'anthropic',
    'claude-opus-4-7',
    { in: '5', out: '25', cached: '0.5', write: '6.25' },
    1_000_000,
    128_000,
  ),
  chat(
    'claude-sonnet-4-6',
    'anthropic',
    'claude-sonnet-4-6',
    { in: '3', out: '15', cached: '0.3', write: '3.75' },
    1_000_000,
    64_000,
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
