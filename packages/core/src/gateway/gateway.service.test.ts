import type { ChatResponse, Provider, StreamEvent } from '@tollgate/providers';
import { ProviderError } from '@tollgate/providers';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { upsertModel } from '../models/models.service.ts';
import { createTestDeps, createTestUser, type TestUser } from '../testing.ts';
import { chatComplete, startChatStream } from './gateway.service.ts';
import type { CallContext, GatewayStreamEvent } from './gateway.types.ts';
import { defaultTuning, type GatewayTuning } from './upstream-call.ts';

/** A provider answering from a script of outcomes per upstream model (the interface, not an SDK). */
type Step = Error | 'ok' | 'hang' | { stream: string[]; hangAfter?: boolean };
const scripts = new Map<string, Step[]>();
const calls: string[] = [];
/** The abort signal of every upstream call, to see the gateway close what it left. */
const upstreamSignals: AbortSignal[] = [];

const answer = (model: string): ChatResponse => ({
  id: `r-${model}`,
  content: `from ${model}`,
  toolCalls: [],
  finishReason: 'stop',
  usage: {
    inputTokens: 3,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 2,
    reasoningTokens: 0,
  },
});

const never = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(new ProviderError('aborted', 'aborted'))),
  );

const scripted: Provider = {
  name: 'mock',
  async chat(req, opts) {
    calls.push(req.model);
    const step = scripts.get(req.model)?.shift() ?? 'ok';
    if (step instanceof Error) throw step;
    if (step === 'hang') return never(opts.signal);
    return answer(req.model);
  },
  async *chatStream(req, opts): AsyncGenerator<StreamEvent> {
    calls.push(req.model);
    upstreamSignals.push(opts.signal);
    const step = scripts.get(req.model)?.shift() ?? { stream: ['ok'] };
    if (step instanceof Error) throw step;
    if (step === 'hang') return yield* [await never(opts.signal)];
    if (step === 'ok') return;
    for (const c of step.stream) yield { type: 'delta', content: c };
    if (step.hangAfter) await never(opts.signal);
    yield { type: 'finish', finishReason: 'stop' };
  },
  async embed() {
    throw new ProviderError('bad_request', 'no');
  },
};

let testDb: TestDb;
let deps: Deps;
let user: TestUser;

beforeAll(async () => {
  testDb = await createTestDb();
  deps = {
    ...createTestDeps(testDb.db, testDb.pool, {
      env: { UPSTREAM_TTFT_TIMEOUT_MS: '150', STREAM_IDLE_TIMEOUT_MS: '150' },
    }),
    providers: { mock: scripted },
  };
  const base = {
    provider: 'mock',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
  } as const;
  await upsertModel(deps, { ...base, name: 'second', upstreamModel: 'up-2' });
  await upsertModel(deps, { ...base, name: 'first', upstreamModel: 'up-1', fallbacks: ['second'] });
  user = await createTestUser(testDb.db);
});
afterAll(async () => {
  await deps.requestLog.close();
  await testDb.drop();
});

function call(): CallContext {
  return {
    principal: user.principal,
    requestId: crypto.randomUUID(),
    signal: new AbortController().signal,
    surface: 'trpc',
  };
}

function tuning(): GatewayTuning & { slept: number[] } {
  const slept: number[] = [];
  return {
    ...defaultTuning,
    random: () => 0.5,
    slept,
    sleep: async (ms) => {
      slept.push(ms);
    },
  };
}

function reset(s: Record<string, Step[]>) {
  scripts.clear();
  calls.length = 0;
  for (const [k, v] of Object.entries(s)) scripts.set(k, v);
}

describe('retries', () => {
  it('backs off exponentially with full jitter on 5xx', async () => {
    reset({ 'up-1': [new ProviderError('server', '500'), new ProviderError('server', '502')] });
    const t = tuning();
    const r = await chatComplete(deps, { model: 'first', messages: [] }, call(), t);
    expect(r.model).toBe('first');
    expect(t.slept).toEqual([50, 100]); // 0.5 × 100 × 2^attempt
  });

  it("waits the upstream's retry-after on 429", async () => {
    reset({ 'up-1': [new ProviderError('rate_limited', '429', { retryAfterMs: 1234 })] });
    const t = tuning();
    await chatComplete(deps, { model: 'first', messages: [] }, call(), t);
    expect(t.slept).toEqual([1234]);
  });

  it('moves to the fallback at once when retry-after is too long to wait', async () => {
    reset({ 'up-1': [new ProviderError('rate_limited', '429', { retryAfterMs: 60_000 })] });
    const t = tuning();
    const r = await chatComplete(deps, { model: 'first', messages: [] }, call(), t);
    expect(r.model).toBe('second');
    expect(t.slept).toEqual([]);
    expect(calls).toEqual(['up-1', 'up-2']);
  });

  it('never retries a non-retryable failure', async () => {
    reset({ 'up-1': [new ProviderError('auth', 'bad key')] });
    await expect(
      chatComplete(deps, { model: 'first', messages: [] }, call(), tuning()),
    ).rejects.toMatchObject({ code: 'upstream_error' });
    expect(calls).toEqual(['up-1']);
  });
});

describe('stream limits', () => {
  it('a missing first token past UPSTREAM_TTFT_TIMEOUT_MS is a timeout (then fallback)', async () => {
    reset({ 'up-1': ['hang'], 'up-2': ['hang'] });
    await expect(
      startChatStream(deps, { model: 'first', messages: [] }, call(), tuning()),
    ).rejects.toMatchObject({ code: 'upstream_timeout' });
    expect(calls).toEqual(['up-1', 'up-2']);
  });

  it('an idle gap past STREAM_IDLE_TIMEOUT_MS ends the stream with an error event', async () => {
    reset({ 'up-1': [{ stream: ['a', 'b'], hangAfter: true }] });
    const s = await startChatStream(deps, { model: 'first', messages: [] }, call(), tuning());
    const events: GatewayStreamEvent[] = [];
    for await (const e of s.events) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['delta', 'delta', 'error']);
    expect(events.at(-1)).toMatchObject({ code: 'upstream_timeout' });
  });
});

describe('a client that leaves before reading the stream', () => {
  it('is billed and logged as aborted, and the upstream is closed', async () => {
    reset({ 'up-1': [{ stream: ['partial answer'], hangAfter: true }] });
    const client = new AbortController();
    const ctx = { ...call(), signal: client.signal };
    // The first upstream event has arrived (startChatStream resolves on it); the consumer has not
    // read anything yet when the client hangs up, e.g. while the SSE headers were written.
    const s = await startChatStream(deps, { model: 'first', messages: [] }, ctx, tuning());
    client.abort();
    expect(upstreamSignals.at(-1)?.aborted).toBe(true);
    await deps.requestLog.flush();
    const row = await testDb.db
      .selectFrom('request_logs')
      .select(['status', 'output_tokens', 'usage_estimated'])
      .where('request_id', '=', ctx.requestId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('aborted');
    expect(row.usage_estimated).toBe(true);
    expect(row.output_tokens).toBeGreaterThan(0); // the first delta was produced, so it is billed
    // A consumer arriving late reads nothing and writes no second row.
    const late: GatewayStreamEvent[] = [];
    for await (const e of s.events) late.push(e);
    expect(late).toEqual([]);
    await deps.requestLog.flush();
    const rows = await testDb.db
      .selectFrom('request_logs')
      .select('id')
      .where('request_id', '=', ctx.requestId)
      .execute();
    expect(rows).toHaveLength(1);
  });
});
