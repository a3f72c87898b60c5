/**
 * `pnpm bench:otel`: what OpenTelemetry export costs. Two Tollgate processes against the same
 * fake upstream, one with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a counting OTLP/HTTP sink
 * (bench/otlp-sink.ts, its own process, like a collector), one without; c=64 load on
 * /v1/chat/completions in alternating rounds (the machine is shared: see bench/NOTES.md).
 * Goal: CPU per request with export on within 10 % of off. Prints a Markdown table for
 * docs/benchmarks.md; asserts nothing. Flags: --quick (two rounds), --node-arg=… (node flags for
 * both Tollgate processes, e.g. --cpu-prof), --on-env=NAME=value (the "on" process's
 * environment; `--on-env=OTEL_EXPORTER_OTLP_ENDPOINT=` runs an A/A check).
 * bench/otel-micro.ts measures the tracing path alone.
 */
import { DURATION_S, loadRounds, quick, startChild, startTollgate } from './harness.ts';

// Profiling (bench/NOTES.md): --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/p passes node
// flags to both Tollgate processes; --on-env=NAME=value sets the "on" process's environment (e.g.
// OTEL_EXPORTER_OTLP_PROTOCOL=http/json).
const nodeArgs = process.argv.filter((a) => a.startsWith('--node-arg=')).map((a) => a.slice(11));
const onEnv = Object.fromEntries(
  process.argv
    .filter((a) => a.startsWith('--on-env='))
    .map((a) => {
      const [k = '', ...v] = a.slice(9).split('=');
      return [k, v.join('=')];
    }),
);

async function startSink() {
  const sink = startChild(['bench/otlp-sink.ts'], {}, /listening on (http:\/\/\S+)/);
  process.on('exit', () => sink.child.kill('SIGTERM'));
  const url = (await sink.matched)[1] as string;
  return {
    url,
    stats: async () =>
      (await (await fetch(`${url}/stats`)).json()) as { batches: number; bytes: number },
    close: () => sink.child.kill('SIGTERM'),
  };
}

async function main() {
  const sink = await startSink();
  const fake = startChild(['bench/fake-upstream.ts'], {}, /listening on (http:\/\/\S+)/);
  process.on('exit', () => fake.child.kill('SIGTERM'));
  const upstreamUrl = (await fake.matched)[1] as string;
  const off = await startTollgate(upstreamUrl, { nodeArgs }, 'otel off');
  const on = await startTollgate(
    upstreamUrl,
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, ...onEnv }, nodeArgs },
    'otel on',
  );
  if (nodeArgs.length > 0)
    console.error(`serving pids: off ${off.target.pid}, on ${on.target.pid}`);
  try {
    // Warm both up (JIT, pools) before measuring.
    await loadRounds([off.target, on.target], 64, 1);
    const rounds = quick ? 2 : 6;
    const c64 = await loadRounds([off.target, on.target], 64, rounds);
    const a = c64.get('otel off');
    const b = c64.get('otel on');
    if (!a || !b) throw new Error('missing figures');
    const ratio = b.cpuUsPerReq / a.cpuUsPerReq;
    const { batches, bytes } = await sink.stats();
    const lines = [
      `Run: ${new Date().toISOString()}, c=64, ${rounds} alternating rounds of ${(DURATION_S / rounds).toFixed(1)} s per target.`,
      '',
      '| target | rps (p50 / p99 ms) | CPU µs/req | requests |',
      '|---|---|---|---|',
      `| OTel off | ${a.rps.toFixed(0)} (${a.p50} / ${a.p99}) | ${a.cpuUsPerReq.toFixed(0)} | ${a.requests} |`,
      `| OTel on (OTLP/HTTP export) | ${b.rps.toFixed(0)} (${b.p50} / ${b.p99}) | ${b.cpuUsPerReq.toFixed(0)} | ${b.requests} |`,
      '',
      `CPU per request on/off: ${ratio.toFixed(3)}× (goal ≤ 1.10×: ${ratio <= 1.1 ? 'met' : '**missed**'}); ` +
        `the sink received ${batches} export batches, ${(bytes / 1e6).toFixed(1)} MB.`,
    ];
    console.log(lines.join('\n'));
  } finally {
    off.process.child.kill('SIGTERM');
    on.process.child.kill('SIGTERM');
    fake.child.kill('SIGTERM');
    sink.close();
  }
}

await main();
