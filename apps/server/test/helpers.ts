import type { Clock } from '@tollgate/core';
import { createTestDeps } from '@tollgate/core/testing';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/app.ts';

export type TestServer = {
  app: FastifyInstance;
  testDb: TestDb;
  deps: ReturnType<typeof createTestDeps>;
};

/** A server on a fresh database clone; `env` overrides config. Close with `closeTestServer`. */
export async function startTestServer(
  env: Record<string, string> = {},
  opts: { clock?: Clock } = {},
): Promise<TestServer> {
  const testDb = await createTestDb();
  const deps = createTestDeps(testDb.db, testDb.pool, { env, ...opts });
  const app = await buildServer(deps);
  return { app, testDb, deps };
}

export async function closeTestServer(s: TestServer | undefined): Promise<void> {
  if (!s) return;
  await s.app.close();
  await s.deps.limiter.close();
  await s.deps.responseCache.flush();
  await s.deps.requestLog.close();
  await s.testDb.drop();
}

/** Listens on 127.0.0.1 on a free port (for SSE and real clients); returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr !== 'object') throw new Error('not listening');
  return `http://127.0.0.1:${addr.port}`;
}

/** Rows in the request log (buffered rows written first): "nothing written" checks compare it. */
export async function requestLogRows(s: TestServer): Promise<number> {
  await s.deps.requestLog.flush();
  const r = await s.testDb.db
    .selectFrom('request_logs')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
