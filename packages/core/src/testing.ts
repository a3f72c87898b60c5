import { randomUUID } from 'node:crypto';
import type { Config } from '@tollgate/config';
import { loadConfig } from '@tollgate/config';
import type { DB } from '@tollgate/db';
import { createLogger } from '@tollgate/telemetry';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { hashPassword } from './auth/passwords.ts';
import type { KeyScope, UserPrincipal } from './auth/principal.ts';
import { createDeps } from './create-deps.ts';
import type { Clock, Deps } from './deps.ts';
import { issueApiKey } from './keys/api-keys.service.ts';
import type { RequestLogEntry } from './requests/request-log.writer.ts';
import { insertUser } from './users/users.repository.ts';

const TEST_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** Deps for tests: a real database, a silent logger, config from `env` over the defaults. */
export function createTestDeps(
  db: Kysely<DB>,
  pool: pg.Pool,
  opts: { env?: Record<string, string>; clock?: Clock; config?: Config } = {},
): Deps {
  // A fixed secret unless the test sets one: signing keys are stored encrypted with it.
  const config =
    opts.config ?? loadConfig({ LOG_LEVEL: 'silent', TOLLGATE_SECRET: TEST_SECRET, ...opts.env });
  return createDeps({
    config,
    log: createLogger(config),
    pool,
    db,
    clock: opts.clock,
  });
}

export type TestUser = {
  id: string;
  email: string;
  password: string;
  role: 'admin' | 'member';
  /** A fresh API key with the given scopes (default: all the role may hold). */
  apiKey: string;
  apiKeyId: string;
  principal: UserPrincipal;
};

/** A user with a password and an API key, made through the real services. */
export async function createTestUser(
  db: Kysely<DB>,
  opts: { role?: 'admin' | 'member'; scopes?: KeyScope[]; email?: string; password?: string } = {},
): Promise<TestUser> {
  const role = opts.role ?? 'member';
  const password = opts.password ?? `pw-${randomUUID()}`;
  const email = opts.email ?? `${role}-${randomUUID().slice(0, 8)}@example.test`;
  const user = await insertUser(db, { email, passwordHash: await hashPassword(password), role });
  const scopes: KeyScope[] =
    opts.scopes ??
    (role === 'admin' ? ['gateway', 'batches', 'read', 'admin'] : ['gateway', 'batches', 'read']);
  const { key, row } = await issueApiKey(db, user.id, { name: 'test key', scopes });
  return {
    id: user.id,
    email,
    password,
    role,
    apiKey: key,
    apiKeyId: row.id,
    principal: { kind: 'user', userId: user.id, role, keyId: row.id, scopes },
  };
}

/** A finished, priced `mock-echo` call of `user`'s key, for request-log tests; override any field. */
export function testLogEntry(
  user: Pick<TestUser, 'id' | 'apiKeyId'>,
  overrides: Partial<RequestLogEntry> = {},
): RequestLogEntry {
  return {
    id: randomUUID(),
    requestId: `req-${randomUUID()}`,
    userId: user.id,
    keyId: user.apiKeyId,
    batchItemId: null,
    model: 'mock-echo',
    provider: 'mock',
    upstreamModel: 'mock-echo',
    status: 'ok',
    errorCode: null,
    latencyMs: 5,
    ttftMs: null,
    usage: {
      inputTokens: 1,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 1,
      reasoningTokens: 0,
    },
    usageEstimated: false,
    cacheHit: false,
    createdAt: new Date(),
    prices: { input: '1', output: '2', cachedInput: null, cacheWrite: null },
    ...overrides,
  };
}
