import { createAnthropicProvider } from './anthropic.ts';
import { createMockProvider } from './mock.ts';
import { createOpenAIProvider } from './openai.ts';
import type { Provider } from './types.ts';

export type ProvidersOptions = {
  openai?: { apiKey: string; baseUrl?: string | undefined } | undefined;
  anthropic?: { apiKey: string; baseUrl?: string | undefined } | undefined;
  /** Client-level ceiling for an upstream call; each call also passes its own limit. */
  upstreamTimeoutMs?: number | undefined;
};

/** What createProviders returns: mock always, openai/anthropic only when a key is configured. */
export type Providers = {
  readonly mock: Provider;
  readonly openai?: Provider;
  readonly anthropic?: Provider;
};

/** The providers this deployment has: mock always, openai/anthropic when a key is configured. */
export function createProviders(opts: ProvidersOptions): Providers {
  const timeoutMs = opts.upstreamTimeoutMs;
  return {
    mock: createMockProvider(),
    ...(opts.openai ? { openai: createOpenAIProvider({ ...opts.openai, timeoutMs }) } : {}),
    ...(opts.anthropic
      ? { anthropic: createAnthropicProvider({ ...opts.anthropic, timeoutMs }) }
      : {}),
  };
}
