// @ts-check
/*
 * Plain JavaScript on purpose: the `pnpm start` supervisor imports this, and it loads no .ts
 * file (Node's type stripping alone costs ~18 MB of RSS) and no prom-client (~23 MB); see
 * apps/server/src/supervisor.js. Type-checked through JSDoc (checkJs).
 *
 * One scrape, every process. The supervisor only relays: a server process asks (SCRAPE), the
 * supervisor asks every child (server processes and the graphile worker) for its
 * `getMetricsAsJSON()` (COLLECT / COLLECTED) and hands the per-child lists back (SCRAPED); the
 * asking server process merges them with prom-client (cluster-metrics.ts).
 */
import { randomUUID } from 'node:crypto';

export const COLLECT = 'tollgate:metrics:collect';
export const COLLECTED = 'tollgate:metrics:collected';
export const SCRAPE = 'tollgate:metrics:scrape';
export const SCRAPED = 'tollgate:metrics:scraped';

/**
 * A child seen from the supervisor: a node:cluster Worker or a forked ChildProcess.
 * @typedef {{
 *   send: (message: import('node:child_process').Serializable) => boolean;
 *   on: (event: 'message', fn: (message: unknown) => void) => unknown;
 *   off: (event: 'message', fn: (message: unknown) => void) => unknown;
 *   isConnected?: () => boolean;
 *   connected?: boolean;
 * }} IpcChild
 */

/**
 * @typedef {{
 *   add: (child: IpcChild) => () => void;
 *   collect: () => Promise<unknown[][]>;
 * }} MetricsHub
 * `add` tracks a child and returns the function that forgets it (call on exit); `collect` asks
 * every tracked child for its metrics (JSON, one list per child that answered).
 */

/** @param {unknown} m @returns {m is Record<string, unknown>} */
const isMessage = (m) => typeof m === 'object' && m !== null;

/** @param {IpcChild} c */
const connected = (c) => (c.isConnected ? c.isConnected() : c.connected !== false);

/**
 * In the supervisor: tracks children and answers a server process's scrape with every child's
 * metrics. A child that does not answer within `timeoutMs` is left out rather than failing the
 * scrape (it may be restarting).
 * @param {{ timeoutMs?: number }} [opts]
 * @returns {MetricsHub}
 */
export function createMetricsHub(opts = {}) {
  const timeoutMs = opts.timeoutMs ?? 2000;
  /** @type {Set<IpcChild>} */
  const children = new Set();

  /** @param {IpcChild} child @returns {Promise<unknown[] | undefined>} */
  const collectFrom = (child) =>
    new Promise((resolve) => {
      const requestId = randomUUID();
      const timer = setTimeout(() => done(undefined), timeoutMs);
      /** @param {unknown} m */
      const onMessage = (m) => {
        if (isMessage(m) && m.type === COLLECTED && m.requestId === requestId)
          done(Array.isArray(m.metrics) ? m.metrics : undefined);
      };
      /** @param {unknown[] | undefined} v */
      function done(v) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(v);
      }
      child.on('message', onMessage);
      try {
        if (!child.send({ type: COLLECT, requestId })) done(undefined);
      } catch {
        done(undefined);
      }
    });

  const collect = async () => {
    const all = await Promise.all([...children].filter(connected).map(collectFrom));
    return all.filter((m) => m !== undefined);
  };

  /** @param {IpcChild} child */
  const add = (child) => {
    /** @param {unknown} m */
    const onMessage = (m) => {
      if (!isMessage(m) || m.type !== SCRAPE) return;
      const requestId = String(m.requestId);
      collect().then(
        (metrics) => child.send({ type: SCRAPED, requestId, metrics }),
        (err) => child.send({ type: SCRAPED, requestId, error: String(err) }),
      );
    };
    child.on('message', onMessage);
    children.add(child);
    return () => {
      child.off('message', onMessage);
      children.delete(child);
    };
  };

  return { add, collect };
}
