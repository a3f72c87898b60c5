import { createServer, type Server } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { seedModels, upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

/** A TCP server that accepts every connection and resets it at once (RST, no HTTP answer). */
async function startResetter(): Promise<{ server: Server; url: string; accepted: () => number }> {
  let accepted = 0;
  const server = createServer((sock) => {
    accepted++;
    sock.resetAndDestroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('not listening');
  return { server, url: `http://127.0.0.1:${addr.port}`, accepted: () => accepted };
}

type Target = { s: TestServer; user: TestUser; base: string };

async function gatewayTo(openaiBaseUrl: string): Promise<Target> {
  const s = await startTestServer({
    OPENAI_API_KEY: 'sk-test-upstream',
    OPENAI_BASE_URL: openaiBaseUrl,
    UPSTREAM_TIMEOUT_MS: '5000',
  });
  await seedModels(s.deps);
  await upsertModel(s.deps, {
    name: 'remote',
    provider: 'openai',
    upstreamModel: 'gpt-remote',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
  });
  const user = await createTestUser(s.testDb.db);
  return { s, user, base: await listen(s.app) };
}

let resetter: Awaited<ReturnType<typeof startResetter>>;
let reset: Target;
let dns: Target;

beforeAll(async () => {
  resetter = await startResetter();
  reset = await gatewayTo(`${resetter.url}/v1`);
  // .invalid never resolves (RFC 6761): every lookup fails.
  dns = await gatewayTo('http://tollgate-upstream.invalid/v1');
});
afterAll(async () => {
  await closeTestServer(reset?.s);
  await closeTestServer(dns?.s);
  await new Promise((r) => resetter?.server.close(r));
});

async function openaiError(t: Target, stream: boolean) {
  const client = new OpenAI({ apiKey: t.user.apiKey, baseURL: `${t.base}/v1`, maxRetries: 0 });
  try {
    const r = await client.chat.completions.create({
      model: 'remote',
      messages: [{ role: 'user', content: 'hi' }],
      stream,
    });
    if (stream) for await (const _ of r as AsyncIterable<unknown>);
  } catch (e) {
    return e as InstanceType<typeof OpenAI.APIError>;
  }
  throw new Error('expected an error');
}

async function anthropicError(t: Target) {
  const client = new Anthropic({ apiKey: t.user.apiKey, baseURL: t.base, maxRetries: 0 });
  try {
    await client.messages.create({
      model: 'remote',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
  } catch (e) {
    return e as InstanceType<typeof Anthropic.APIError>;
  }
  throw new Error('expected an error');
}

async function loggedErrorCodes(t: Target): Promise<(string | null)[]> {
  await t.s.deps.requestLog.flush();
  const rows = await t.s.testDb.db
    .selectFrom('request_logs')
    .select(['error_code', 'status'])
    .where('user_id', '=', t.user.id)
    .execute();
  return rows.map((r) => `${r.status}:${r.error_code}`);
}

describe.each([
  ['connection reset by the upstream', () => reset],
  ['upstream host that does not resolve (DNS)', () => dns],
])('%s', (_name, target) => {
  it('→ 502 upstream_error on /v1/chat/completions, streaming or not', async () => {
    for (const stream of [false, true]) {
      const e = await openaiError(target(), stream);
      expect(e.status).toBe(502);
      expect(e.code).toBe('upstream_error');
    }
  });

  it("→ 502 on /v1/messages in Anthropic's shape (api_error)", async () => {
    const e = await anthropicError(target());
    expect(e.status).toBe(502);
    const body = e.error as { type: string; error: { type: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  it('→ 502 upstream_error on REST, and the call is logged as an error', async () => {
    const t = target();
    const res = await fetch(`${t.base}/api/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.user.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'remote', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
    expect(await loggedErrorCodes(t)).toContain('error:upstream_error');
  });
});

it('the resetting upstream was really called (the 502s are not refusals before the call)', () => {
  expect(resetter.accepted()).toBeGreaterThan(0);
});
