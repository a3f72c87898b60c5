import { randomBytes } from 'node:crypto';
import { loadConfig } from '@tollgate/config';
import { type BatchChunk, processBatchChunk, upsertModel } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { createLogger } from '@tollgate/telemetry';
import {
  createTestDb,
  type FakeUpstream,
  type OtlpReceiver,
  type OtlpSpan,
  startFakeUpstream,
  startOtlpReceiver,
  type TestDb,
} from '@tollgate/test-kit';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer } from '../src/app.ts';
import { sdkClients } from './compat-fixtures.ts';
import { listen } from './helpers.ts';

const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;

const attr = (s: OtlpSpan | undefined, key: string): unknown => {
  const v = s?.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  const [first] = Object.values(v);
  return typeof first === 'string' && 'intValue' in v ? Number(first) : first;
};

let testDb: TestDb;
let app: FastifyInstance;
let fake: FakeUpstream;
let receiver: OtlpReceiver;
let url: string;
let user: TestUser;
const lines: string[] = [];
let flush: () => Promise<void>;
let deps: ReturnType<typeof createTestDeps>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  fake = await startFakeUpstream();
  testDb = await createTestDb();
  const config = loadConfig({
    LOG_LEVEL: 'info',
    TOLLGATE_SECRET: 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    OPENAI_API_KEY: 'sk-fake',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  });
  const base = createTestDeps(testDb.db, testDb.pool, { config });
  deps = { ...base, log: createLogger(config, { write: (s: string) => void lines.push(s) }) };
  if (!deps.tracing) throw new Error('tracing should be on');
  flush = () => deps.tracing?.forceFlush() ?? Promise.resolve();
  await upsertModel(deps, {
    name: 'oa-mini',
    provider: 'openai',
    upstreamModel: 'gpt-4o-mini',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
  });
  await upsertModel(deps, {
    name: 'oa-embed',
    provider: 'openai',
    upstreamModel: 'text-embedding-3-small',
    kind: 'embedding',
    inputPricePerMTok: '1',
    outputPricePerMTok: '0',
  });
  app = await buildServer(deps);
  url = await listen(app);
  user = await createTestUser(testDb.db);
});

afterAll(async () => {
  await app?.close();
  await testDb?.drop();
  await fake?.close();
  await receiver?.close();
});

/** The spans of one trace once `count` of them have arrived (flushing as it waits). */
async function spansOf(traceId: string, count: number): Promise<OtlpSpan[]> {
  return vi.waitFor(
    async () => {
      await flush();
      const found = receiver.spans.filter((s) => s.traceId === traceId);
      expect(found.length).toBeGreaterThanOrEqual(count);
      return found;
    },
    { timeout: 5000, interval: 50 },
  );
}

describe('OpenTelemetry GenAI traces over OTLP/HTTP', () => {
  it("continues the caller's traceparent: server span → GenAI span → upstream", async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const { openai } = sdkClients(url, user.apiKey);
    const res = await openai.chat.completions.create(
      { model: 'oa-mini', messages: [{ role: 'user', content: 'trace me' }], max_tokens: 20 },
      { headers: { traceparent: `00-${traceId}-${callerSpan}-01` } },
    );
    expect(res.choices[0]?.message.content).toBe('trace me');
    // The server span ends on the socket's 'close', which may follow the client's read.
    const mine = await spansOf(traceId, 2);
    const server = mine.find((s) => s.kind === SERVER);
    const genai = mine.find((s) => s.kind === CLIENT);
    expect(server).toMatchObject({ name: 'POST /v1/chat/completions', parentSpanId: callerSpan });
    expect(attr(server, 'http.response.status_code')).toBe(200);
    expect(attr(server, 'http.route')).toBe('/v1/chat/completions');

    expect(genai).toMatchObject({ name: 'chat gpt-4o-mini', parentSpanId: server?.spanId });
    expect(attr(genai, 'gen_ai.operation.name')).toBe('chat');
    expect(attr(genai, 'gen_ai.provider.name')).toBe('openai');
    expect(attr(genai, 'gen_ai.request.model')).toBe('gpt-4o-mini');
    expect(attr(genai, 'gen_ai.request.max_tokens')).toBe(20);
    expect(attr(genai, 'gen_ai.usage.input_tokens')).toBe(res.usage?.prompt_tokens);
    expect(attr(genai, 'gen_ai.usage.output_tokens')).toBe(res.usage?.completion_tokens);

    // The upstream saw the same trace, its parent being the GenAI span.
    const upstream = fake.requests('POST /v1/chat/completions').at(-1);
    expect(upstream?.headers.traceparent).toBe(`00-${traceId}-${genai?.spanId}-01`);

    // The request's log line carries the trace id.
    const line = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'request' && l.route === '/v1/chat/completions');
    expect(line?.traceId).toBe(traceId);

    // OTLP's default encoding, decoded above with the official protobuf definitions.
    expect(receiver.requests[0]?.contentType).toBe('application/x-protobuf');
  });

  it('traces a stream, with usage, ending when the stream does', async () => {
    fake.script('POST /v1/chat/completions', [{ stream: ['a ', 'b ', 'c'] }]);
    const { openai } = sdkClients(url, user.apiKey);
    const stream = await openai.chat.completions.create({
      model: 'oa-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('a b c');
    const upstream = fake.requests('POST /v1/chat/completions').at(-1);
    const traceId = String(upstream?.headers.traceparent).split('-')[1] ?? '';
    const mine = await spansOf(traceId, 2);
    const server = mine.find((s) => s.kind === SERVER);
    const genai = mine.find((s) => s.kind === CLIENT);
    // No incoming traceparent: the server span is a root.
    expect(server?.parentSpanId ?? '').toBe('');
    expect(genai?.parentSpanId).toBe(server?.spanId);
    expect(attr(genai, 'gen_ai.request.stream')).toBe(true);
    expect(attr(genai, 'gen_ai.usage.output_tokens')).toBeGreaterThan(0);
    expect(attr(genai, 'gen_ai.response.finish_reasons')).toBeDefined();
  });

  /** A caller's traceparent, so the test knows the trace its spans land in. */
  const callerTrace = () => {
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
  };

  /** The server span and the GenAI span of one traced request, checked to nest properly. */
  async function serverAndGenAi(traceId: string, callerSpan: string, name: string) {
    const mine = await spansOf(traceId, 2);
    const server = mine.find((s) => s.kind === SERVER);
    const genai = mine.find((s) => s.kind === CLIENT);
    expect(server).toMatchObject({ name, parentSpanId: callerSpan });
    expect(genai?.traceId).toBe(traceId);
    expect(genai?.parentSpanId).toBe(server?.spanId);
    return { server, genai };
  }

  it('a tRPC chat.complete call is a GenAI span under its HTTP server span', async () => {
    const t = callerTrace();
    const res = await fetch(`${url}/trpc/chat.complete`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user.apiKey}`,
        'content-type': 'application/json',
        traceparent: t.traceparent,
      },
      body: JSON.stringify({
        model: 'oa-mini',
        messages: [{ role: 'user', content: 'via trpc' }],
        max_tokens: 7,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { content: string } } };
    expect(body.result.data.content).toBe('via trpc');
    const { genai } = await serverAndGenAi(t.traceId, t.spanId, 'POST /trpc/chat.complete');
    expect(genai?.name).toBe('chat gpt-4o-mini');
    expect(attr(genai, 'gen_ai.operation.name')).toBe('chat');
    expect(attr(genai, 'gen_ai.request.model')).toBe('gpt-4o-mini');
    expect(attr(genai, 'gen_ai.request.max_tokens')).toBe(7);
    expect(attr(genai, 'gen_ai.usage.input_tokens')).toBeGreaterThan(0);
    const upstream = fake.requests('POST /v1/chat/completions').at(-1);
    expect(upstream?.headers.traceparent).toBe(`00-${t.traceId}-${genai?.spanId}-01`);
  });

  it('a tRPC chat.stream subscription (SSE) is a GenAI span under its server span', async () => {
    fake.script('POST /v1/chat/completions', [{ stream: ['x ', 'y'] }]);
    const t = callerTrace();
    const input = {
      model: 'oa-mini',
      messages: [{ role: 'user', content: 'stream via trpc' }],
      requestId: randomBytes(8).toString('hex'),
    };
    const res = await fetch(
      `${url}/trpc/chat.stream?input=${encodeURIComponent(JSON.stringify(input))}`,
      {
        headers: {
          authorization: `Bearer ${user.apiKey}`,
          accept: 'text/event-stream',
          traceparent: t.traceparent,
        },
      },
    );
    expect(res.status).toBe(200);
    // The subscription ends after its last event; tRPC then sends a `return` event.
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('"finish"') && !text.includes('event: return')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    await reader.cancel();
    expect(text).toContain('"delta"');
    const { genai } = await serverAndGenAi(t.traceId, t.spanId, 'GET /trpc/chat.stream');
    expect(attr(genai, 'gen_ai.request.stream')).toBe(true);
    expect(attr(genai, 'gen_ai.operation.name')).toBe('chat');
  });

  it('a REST bridge call (/api/chat/completions) is a GenAI span under its server span', async () => {
    const t = callerTrace();
    const res = await app.inject({
      method: 'POST',
      url: '/api/chat/completions',
      headers: { authorization: `Bearer ${user.apiKey}`, traceparent: t.traceparent },
      payload: { model: 'oa-mini', messages: [{ role: 'user', content: 'via rest' }] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ content: 'via rest' });
    const { genai } = await serverAndGenAi(t.traceId, t.spanId, 'POST /api/chat/completions');
    expect(attr(genai, 'gen_ai.operation.name')).toBe('chat');
    expect(attr(genai, 'gen_ai.provider.name')).toBe('openai');
    expect(attr(genai, 'gen_ai.usage.output_tokens')).toBeGreaterThan(0);
  });

  it('embeddings on /api and /v1 are GenAI spans under their server spans, sent upstream', async () => {
    const rest = callerTrace();
    const r1 = await app.inject({
      method: 'POST',
      url: '/api/embeddings',
      headers: { authorization: `Bearer ${user.apiKey}`, traceparent: rest.traceparent },
      payload: { model: 'oa-embed', input: ['one', 'two'] },
    });
    expect(r1.statusCode).toBe(200);
    const a = await serverAndGenAi(rest.traceId, rest.spanId, 'POST /api/embeddings');
    expect(a.genai?.name).toBe('embeddings text-embedding-3-small');
    expect(attr(a.genai, 'gen_ai.operation.name')).toBe('embeddings');
    expect(attr(a.genai, 'gen_ai.usage.input_tokens')).toBeGreaterThan(0);
    expect(fake.requests('POST /v1/embeddings').at(-1)?.headers.traceparent).toBe(
      `00-${rest.traceId}-${a.genai?.spanId}-01`,
    );

    const v1 = callerTrace();
    const { openai } = sdkClients(url, user.apiKey);
    await openai.embeddings.create(
      { model: 'oa-embed', input: 'three' },
      { headers: { traceparent: v1.traceparent } },
    );
    const b = await serverAndGenAi(v1.traceId, v1.spanId, 'POST /v1/embeddings');
    expect(attr(b.genai, 'gen_ai.request.model')).toBe('text-embedding-3-small');
  });

  it("a batch item's GenAI span is a child of its batch job's span", async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/batches',
      headers: { authorization: `Bearer ${user.apiKey}`, 'idempotency-key': 'otel-batch-1' },
      payload: {
        items: [
          { customId: 'a', model: 'oa-mini', messages: [{ role: 'user', content: 'item a' }] },
          { customId: 'b', model: 'oa-mini', messages: [{ role: 'user', content: 'item b' }] },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const batchId = (res.json() as { id: string }).id;
    const jobs = await sql<{ id: string; payload: BatchChunk }>`select j.id, j.payload
      from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where t.identifier = 'batch_chunk' and j.payload->>'batchId' = ${batchId}`.execute(testDb.db);
    expect(jobs.rows.length).toBeGreaterThan(0);
    for (const j of jobs.rows)
      await processBatchChunk(deps, j.payload, { id: j.id, signal: new AbortController().signal });

    const chunk = await vi.waitFor(
      async () => {
        await flush();
        const s = receiver.spans.find(
          (x) => x.kind === INTERNAL && attr(x, 'tollgate.batch.id') === batchId,
        );
        expect(s).toBeDefined();
        return s as OtlpSpan;
      },
      { timeout: 5000, interval: 50 },
    );
    expect(chunk.name).toBe('batch_chunk');
    const items = (await spansOf(chunk.traceId, 3)).filter((s) => s.kind === CLIENT);
    expect(items).toHaveLength(2);
    for (const item of items) {
      expect(item.parentSpanId).toBe(chunk.spanId);
      expect(item.name).toBe('chat gpt-4o-mini');
      expect(attr(item, 'gen_ai.operation.name')).toBe('chat');
      expect(attr(item, 'gen_ai.usage.input_tokens')).toBeGreaterThan(0);
    }
    // And the upstream saw each item's own span as its parent.
    const parents = fake
      .requests('POST /v1/chat/completions')
      .slice(-2)
      .map((r) => String(r.headers.traceparent));
    expect(parents.sort()).toEqual(items.map((i) => `00-${chunk.traceId}-${i.spanId}-01`).sort());
  });
});
