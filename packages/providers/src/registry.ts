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

export type ConnectionKind = 'openai' | 'openai-compatible' | 'azure-openai' | 'anthropic';

/** One provider connection (issue #16) as the client for it needs it; the key is plaintext here. */
export type ConnectionSpec = {
  kind: ConnectionKind;
  baseUrl: string;
  apiKey: string;
  apiVersion?: string | null | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  upstreamTimeoutMs?: number | undefined;
};

/** A client for one provider connection: the wire its kind speaks, at its base URL. */
export function createConnectionProvider(c: ConnectionSpec): Provider {
  const common = {
    apiKey: c.apiKey,
    baseUrl: c.baseUrl,
    timeoutMs: c.upstreamTimeoutMs,
    headers: c.headers,
  };
  switch (c.kind) {
    case 'anthropic':
      return createAnthropicProvider(common);
    case 'azure-openai':
      return createOpenAIProvider({
        ...common,
        flavor: 'azure',
        apiVersion: c.apiVersion ?? undefined,
      });
    default:
      return createOpenAIProvider(common);
  }
}

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
