import { loadConfig } from '@tollgate/config';
import { createLogger } from '@tollgate/telemetry';
import { buildServer } from './app.ts';
import { exitFatal, listenFailureMessage } from './child-fatal.ts';
import { createServerDeps } from './deps.ts';

/** One server process (a cluster worker): build, listen, tell the primary, close on a signal. */
export async function runServerProcess(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config);
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new Error('the primary passes DATABASE_URL to server processes');
  const deps = createServerDeps(config, log, databaseUrl);
  const app = await buildServer(deps);
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const message = listenFailureMessage(err, config.host, config.port);
    if (!message) throw err;
    // A busy port is the operator's to fix: one line, no stack, and no restart (child-fatal.ts).
    exitFatal(message);
    return;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  process.send?.({ type: 'listening', port });

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await app.close();
    // Buffered request-log rows are written before the pool goes away.
    await deps.limiter.close();
    await deps.responseCache.flush();
    await deps.requestLog.close();
    await deps.pool.end();
    process.exit(0);
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
  // The primary went away (kill -9): do not live on as an orphan holding the port.
  process.on('disconnect', close);
}
