import { loadConfig } from '@tollgate/config';
import { createLogger } from '@tollgate/telemetry';
import { buildServer } from './app.ts';
import { exitFatal, listenFailureMessage } from './child-fatal.js';
import { createServerDeps } from './deps.ts';

/**
 * One server process (a cluster worker, or alone: serve-main.ts): build, listen, tell the
 * primary; resolves with the port (undefined when it could not listen and is exiting). On SIGTERM/SIGINT it stops accepting connections, lets
 * in-flight requests and streams finish for up to SHUTDOWN_GRACE_MS (then cuts them), writes the
 * buffered request log, closes the pool and exits 0.
 */
export async function runServerProcess(): Promise<number | undefined> {
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
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping: finishing in-flight requests');
    // app.close() stops accepting at once, answers 503 to new requests on kept-alive
    // connections and resolves when the in-flight ones (streams included) are done.
    const grace = setTimeout(() => {
      log.warn('shutdown grace period over; closing the remaining connections');
      app.server.closeAllConnections();
    }, config.shutdownGraceMs);
    grace.unref();
    await app.close().catch((err) => log.error({ err: String(err) }, 'close failed'));
    clearTimeout(grace);
    // Buffered request-log rows are written before the pool goes away.
    await deps.limiter.close();
    await deps.responseCache.flush();
    await deps.requestLog.close();
    await deps.auth.close();
    await deps.pool.end();
    process.exit(0);
  };
  process.on('SIGTERM', () => void close('SIGTERM'));
  process.on('SIGINT', () => void close('SIGINT'));
  // The primary went away (kill -9): do not live on as an orphan holding the port.
  process.on('disconnect', () => void close('disconnect'));
  return port;
}
