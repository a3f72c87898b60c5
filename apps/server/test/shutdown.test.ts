import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { seedModels } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBin, repoRoot } from './spawn.ts';

// A real server process (serve-main.ts, as Kubernetes runs it) sent SIGTERM mid-stream.

let testDb: TestDb;
let user: TestUser;

beforeAll(async () => {
  testDb = await createTestDb();
  const deps = createTestDeps(testDb.db, testDb.pool);
  await seedModels(deps);
  user = await createTestUser(testDb.db);
  await deps.auth.close();
  await deps.requestLog.close();
});
afterAll(() => testDb.drop());

function startServer(env: Record<string, string> = {}) {
  const proc = spawn(nodeBin, [join(repoRoot, 'apps/server/src/serve-main.ts')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: testDb.url,
      TOLLGATE_SECRET: 'shutdown-test-secret-0123456789abcdefghij',
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  return { proc, url, exited, stderr: () => err };
}

/** A mock-slow stream of `words` words (one per 50 ms); resolves with what arrived. */
async function streamWords(base: string, words: number, requestId: string, onFirst: () => void) {
  const content = Array.from({ length: words }, (_, i) => `w${i}`).join(' ');
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${user.apiKey}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
    body: JSON.stringify({
      model: 'mock-slow',
      stream: true,
      messages: [{ role: 'user', content }],
    }),
  });
  expect(res.status).toBe(200);
  let text = '';
  let first = true;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk);
      if (first) {
        first = false;
        onFirst();
      }
    }
  } catch {
    // cut by the server (the grace period ran out)
  }
  const said = text
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] })
    .map((c) => c.choices[0]?.delta.content ?? '')
    .join('');
  return { expected: content, said, done: text.includes('data: [DONE]') };
}

describe('SIGTERM', () => {
  it('during a 3 s stream: stops accepting, the stream completes, the log row is written, exit 0', async () => {
    const s = startServer();
    const base = await s.url;
    let refused: unknown;
    const result = await streamWords(base, 60, 'sigterm-stream', () => {
      s.proc.kill('SIGTERM');
      // New connections are refused while the stream goes on.
      setTimeout(() => {
        fetch(`${base}/healthz`).then(
          (r) => {
            refused = r.status;
          },
          (e: unknown) => {
            refused = e;
          },
        );
      }, 300);
    });
    expect(result.done).toBe(true);
    expect(result.said.trim()).toBe(result.expected);
    expect(await s.exited).toBe(0);
    expect(refused).toBeInstanceOf(Error);
    const row = await testDb.db
      .selectFrom('request_logs')
      .select(['status', 'output_tokens'])
      .where('request_id', '=', 'sigterm-stream')
      .executeTakeFirst();
    expect(row?.status).toBe('ok');
  });

  it('a stream longer than SHUTDOWN_GRACE_MS is cut when the grace period ends, still exit 0', async () => {
    const s = startServer({ SHUTDOWN_GRACE_MS: '400' });
    const base = await s.url;
    const result = await streamWords(base, 200, 'sigterm-cut', () => s.proc.kill('SIGTERM'));
    expect(result.done).toBe(false);
    expect(result.said.length).toBeLessThan(result.expected.length);
    expect(await s.exited).toBe(0);
  });
});
