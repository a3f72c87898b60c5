import { createHmac, type KeyObject, sign } from 'node:crypto';
import type { Clock } from '@tollgate/core';
import { createTestDeps } from '@tollgate/core/testing';
import { createLogger } from '@tollgate/telemetry';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/app.ts';

/** A clock tests can move forward (token expiry, throttling windows). */
export function movableClock(): Clock & { advance: (ms: number) => void } {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
  };
}

export type IdentityServer = {
  app: FastifyInstance;
  testDb: TestDb;
  deps: ReturnType<typeof createTestDeps>;
  clock: ReturnType<typeof movableClock>;
  /** Every log line the server wrote (info and up). */
  logs: string[];
};

/** A server whose logs are captured and whose clock tests can move; `testDb` may be shared. */
export async function startIdentityServer(testDb?: TestDb): Promise<IdentityServer> {
  const db = testDb ?? (await createTestDb());
  const clock = movableClock();
  const logs: string[] = [];
  const base = createTestDeps(db.db, db.pool, { clock });
  const log = createLogger(
    { ...base.config, logLevel: 'info', logFormat: 'json' },
    { write: (s: string) => void logs.push(s) },
  );
  const deps = { ...base, log };
  const app = await buildServer(deps);
  return { app, testDb: db, deps, clock, logs };
}

export async function stopIdentityServer(
  s: IdentityServer | undefined,
  drop = true,
): Promise<void> {
  if (!s) return;
  await s.app.close();
  await s.deps.requestLog.close();
  if (drop) await s.testDb.drop();
}

const b64 = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A JWS compact token built by hand, so tests can forge what a real library would refuse to. */
export function forgeJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signer: { ed25519?: KeyObject; hs256?: Buffer | string } = {},
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  let sig = '';
  if (signer.ed25519) sig = sign(null, Buffer.from(input), signer.ed25519).toString('base64url');
  if (signer.hs256) sig = createHmac('sha256', signer.hs256).update(input).digest('base64url');
  return `${input}.${sig}`;
}

export function decodePart(token: string, i: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[i] ?? '', 'base64url').toString('utf8'));
}

export type Json = Record<string, unknown>;

/** A JSON call to the REST bridge. */
export async function api(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string>; ip?: string } = {},
): Promise<{ status: number; body: Json; headers: Record<string, unknown>; raw: string }> {
  const res = await app.inject({
    method,
    url,
    headers: {
      ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.ip ? { remoteAddress: opts.ip } : {}),
    ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
  });
  let body: Json = {};
  try {
    body = res.json();
  } catch {}
  return { status: res.statusCode, body, headers: res.headers, raw: res.body };
}
