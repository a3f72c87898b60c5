/**
 * `node bench/otel-micro.ts [--rate=4000] [--ms=1000] [--rounds=10] [--json]`: the tracing path of one request in
 * isolation (bench/NOTES.md, "OpenTelemetry export on vs off"): a server span continuing a
 * caller's traceparent, the traceparent handed to the traced provider, its GenAI span around a
 * provider call that resolves at once, both spans ended and exported by the real exporter to a
 * counting OTLP/HTTP sink in this process. Prints CPU µs per request (GC and the export
 * request included; the sink's share measured apart and taken out) for comparing builds of
 * packages/telemetry/src/tracing.ts; asserts nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatRequest, ChatResponse, Provider } from '../packages/providers/src/index.ts';
import { createTracing } from '../packages/telemetry/src/index.ts';

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const RATE = arg('rate', 4000);
const ROUND_MS = arg('ms', 1000);
let traced = 0; // requests with tracing on, for bytes per span
const ROUNDS = arg('rounds', 10);

let sinkCpu = 0;
let bytes = 0;
let batches = 0;
const sink = http.createServer((req, res) => {
  const t0 = process.cpuUsage();
  req.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  req.on('end', () => {
    batches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const d = process.cpuUsage(t0);
    sinkCpu += d.user + d.system;
  });
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const protocol = process.argv.includes('--json') ? 'http/json' : 'http/protobuf';
const tracing = createTracing({ endpoint, serviceVersion: '0.1.0', protocol });
if (!tracing) throw new Error('tracing off');

const response: ChatResponse = {
  id: 'chatcmpl-1',
  model: 'gpt-4o-mini',
  content: 'Hello there.',
  finishReason: 'stop',
  usage: { inputTokens: 14, outputTokens: 4, cachedInputTokens: 0, cacheWriteTokens: 0 },
} as unknown as ChatResponse;
const inner: Provider = {
  name: 'openai',
  chat: async () => response,
  chatStream: async function* () {},
  embed: async () => {
    throw new Error('no');
  },
} as unknown as Provider;
const provider = tracing.traceProviders({ openai: inner }).openai as Provider;
const messages = [{ role: 'user' as const, content: 'Say hello in one short sentence.' }];

/** One request's path with tracing off: the same objects, the provider called directly. */
async function oneOff(i: number) {
  const headers: Record<string, unknown> = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    traceparent: `00-${(i + 0x10000000).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`,
  };
  const req: ChatRequest = { model: 'gpt-4o-mini', messages, max_tokens: 32 };
  if (headers.host) await inner.chat(req, {} as never);
}

async function one(i: number) {
  const headers: Record<string, unknown> = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    traceparent: `00-${(i + 0x10000000).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`,
  };
  traced++;
  const span = tracing?.startServerSpan('POST', '/v1/chat/completions', headers);
  if (!span || !tracing) return;
  const req: ChatRequest = {
    model: 'gpt-4o-mini',
    messages,
    max_tokens: 32,
    headers: { traceparent: tracing.traceparentOf(span) },
  };
  await provider.chat(req, {} as never);
  tracing.endServerSpan(span, 'POST', '/v1/chat/completions', 200);
}

/**
 * One round: RATE requests per second for ROUND_MS, launched in ticks of 10 ms (a server's pace,
 * not a tight loop: a loop outruns the batch processor, whose full queue then drops spans and
 * makes tracing look cheaper than it is); every span exported before the round's CPU is read.
 */
async function round(run: (i: number) => Promise<void>) {
  const t0 = process.cpuUsage();
  const s0 = sinkCpu;
  const perTick = Math.round(RATE / 100);
  const ticks = ROUND_MS / 10;
  const inFlight: Promise<void>[] = [];
  let n = 0;
  for (let t = 0; t < ticks; t++) {
    for (let i = 0; i < perTick; i++) inFlight.push(run(n++));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(inFlight);
  await tracing?.forceFlush();
  const d = process.cpuUsage(t0);
  return (d.user + d.system - (sinkCpu - s0)) / n;
}

await round(oneOff); // warm-up
await round(one);
// Tracing on minus off, round by round (the machine is shared: pairs, not two long runs).
const xs: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const off = await round(oneOff);
  xs.push((await round(one)) - off);
}
xs.sort((a, b) => a - b);
console.log(
  `${protocol}: tracing per request: min ${xs[0]?.toFixed(1)}, median ${xs[Math.floor(xs.length / 2)]?.toFixed(1)}, max ${xs.at(-1)?.toFixed(1)} µs CPU ` +
    `over ${ROUNDS} rounds of ${RATE} req/s; ` +
    `${batches} export batches, ${(bytes / batches / 1024).toFixed(0)} KiB each, ` +
    `${(bytes / (traced * 2)).toFixed(0)} B per span`,
);
await tracing.shutdown();
sink.close();
