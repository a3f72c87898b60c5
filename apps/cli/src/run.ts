import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { TollgateClient } from '@tollgate/client';
import { CliError, describeError } from './errors.ts';
import { type Connection, connect, type GlobalOpts } from './session.ts';

export function globalOpts(cmd: CommandUnknownOpts): GlobalOpts {
  const o = cmd.optsWithGlobals() as GlobalOpts;
  return { ...(o.url ? { url: o.url } : {}), ...(o.apiKey ? { apiKey: o.apiKey } : {}) };
}

/**
 * Connects as the global options and stored login say, then calls the server. Any failure leaves
 * as a CliError carrying the server's code and message (or why the server could not be reached).
 */
export async function callServer<T>(
  cmd: CommandUnknownOpts,
  fn: (client: TollgateClient, conn: Connection) => Promise<T>,
): Promise<T> {
  const conn = connect(globalOpts(cmd));
  try {
    return await conn.call((client) => fn(client, conn));
  } catch (e) {
    if (e instanceof CliError) throw e;
    const { code, message } = describeError(e, conn.url);
    throw new CliError(code, message);
  }
}
