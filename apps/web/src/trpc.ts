import { QueryClient } from '@tanstack/react-query';
import { type AppRouter, createTollgateClient } from '@tollgate/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { authFetch, session } from './session.ts';

export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 5_000 },
  },
});

/** The typed client, same-origin; authFetch adds the in-memory access token and refreshes on 401. */
export const trpcClient = createTollgateClient({
  url: window.location.origin,
  accessToken: session.token,
  fetch: authFetch,
});
