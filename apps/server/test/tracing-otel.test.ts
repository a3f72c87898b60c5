import { randomBytes } from 'node:crypto';
import { loadConfig } from '@tollgate/config';
import { upsertModel } from '@tollgate/core';
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
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer } from '../src/app.ts';
import { sdkClients } from './compat-fixtures.ts';
import { listen } from './helpers.ts';

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
  const deps = { ...base, log: createLogger(config, { write: (s: string) => void lines.push(s) }) };
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
});
