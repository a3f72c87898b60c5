/**
 * Compile-time checks of @tollgate/client's inferred types; never run, only type-checked by
 * `tsc -p apps/server` (a wrong inference turns an `@ts-expect-error` below into an error).
 */
import { createTollgateClient } from '@tollgate/client';

export async function clientTypesCheck(): Promise<void> {
  const client = createTollgateClient({ url: 'http://127.0.0.1:3000', apiKey: 'tg_x' });
  const info = await client.system.info.query({});

  const name: 'tollgate' = info.name;
  const version: string = info.version;
  const uptime: number = info.uptimeSeconds;
  const database: 'ok' | 'unreachable' = info.database;
  const time: string = info.time;
  void [name, version, uptime, database, time];

  // @ts-expect-error: system.info has no such field
  void info.hostname;
  // @ts-expect-error: version is a string, not a number
  const wrong: number = info.version;
  void wrong;
  // @ts-expect-error: database is a closed set of statuses
  const down: 'down' = info.database;
  void down;
  // @ts-expect-error: system.info is a query, not a mutation
  void client.system.info.mutate;
  // @ts-expect-error: no such procedure on the router
  void client.system.nothing;
  // @ts-expect-error: the client needs a url
  createTollgateClient({ apiKey: 'tg_x' });
}
