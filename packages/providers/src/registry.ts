import type { ProviderRegistry } from './types.ts';

export type ProvidersOptions = {
  openai?: { apiKey: string; baseUrl?: string | undefined } | undefined;
  anthropic?: { apiKey: string; baseUrl?: string | undefined } | undefined;
};

/** The providers this deployment has: mock always, openai/anthropic when a key is configured. */
export function createProviders(_opts: ProvidersOptions): ProviderRegistry {
  // TODO(#6): mock, openai and anthropic adapters.
  return {};
}
