import type { AppRouter } from '@tollgate/api';
import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
} from '@trpc/client';
import { EventSource } from 'eventsource';

export type TollgateClientOptions = {
  /** Tollgate's base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  apiKey?: string;
  accessToken?: string | (() => string | undefined);
  fetch?: typeof fetch;
};

export type TollgateClient = TRPCClient<AppRouter>;

/**
 * A typed tRPC client for Tollgate: types come from the server's router, no codegen. Queries and
 * mutations batch over HTTP; subscriptions (chat.stream) use SSE through an EventSource that can
 * send the Authorization header (the browser's cannot).
 */
export function createTollgateClient(opts: TollgateClientOptions): TollgateClient {
  const base = opts.url.replace(/\/+$/, '');
  const bearer = (): Record<string, string> => {
    const token = typeof opts.accessToken === 'function' ? opts.accessToken() : opts.accessToken;
    const credential = token ?? opts.apiKey;
    return credential ? { authorization: `Bearer ${credential}` } : {};
  };
  const f = opts.fetch ?? globalThis.fetch;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: `${base}/trpc`,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (input: string | URL | Request, init?: RequestInit) =>
              f(input, {
                ...init,
                headers: { ...(init?.headers as Record<string, string>), ...bearer() },
              }),
          }),
        }),
        false: httpBatchLink({ url: `${base}/trpc`, headers: bearer, fetch: f }),
      }),
    ],
  });
}
