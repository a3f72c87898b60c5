// The router's type, for frontends that build their own tRPC integration (apps/web's TanStack Query).
export type { AppRouter } from '@tollgate/api';
export type { TollgateClient, TollgateClientOptions } from './client.ts';
export { createTollgateClient } from './client.ts';
