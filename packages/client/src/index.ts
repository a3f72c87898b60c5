export type { TollgateClient, TollgateClientOptions } from './client.ts';
export { createTollgateClient } from './client.ts';
