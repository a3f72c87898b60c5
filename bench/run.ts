/**
 * `pnpm bench`: Tollgate's overhead, measured against two references in one run on this machine:
 *   upstream — the fake OpenAI upstream called directly (what a client pays without any gateway);
 *   floor    — a bare node:http forwarding proxy (bench/reference-proxy.ts), the least any Node
 *              gateway can add;
 *   tollgate — /v1/chat/completions with an API key, request logging on.
 * Each target runs in its own process; CPU time comes from /proc of the serving process.
 * Writes docs/benchmarks.md. Not a test: nothing here asserts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { DURATION_S, type Figures, measureAll, quick, root, startTargets } from './harness.ts';

async function main() {
  const { targets, stopAll } = await startTargets();
  try {
    const { rows, figures } = await measureAll(targets);
    for (const row of rows) console.log(row);

    const up = figures.upstream as Figures;
    const floor = figures.floor as Figures;
    const tgf = figures.tollgate as Figures;
    const limits = figures['tollgate+limits'] as Figures;
    const hit = figures['tollgate cache hit'] as Figures;
    const limitsRatio = (limits.c64cpu ?? 0) / (floor.c64cpu ?? 1);
    const added = (x: Figures) => (x.c1p50 ?? 0) - (up.c1p50 ?? 0);
    const cpuRatio = (tgf.c64cpu ?? 0) / (floor.c64cpu ?? 1);
    const ttfbOverhead = (tgf.ttfbP50 ?? 0) - (floor.ttfbP50 ?? 0);
    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    const targetsTable = [
      '| target | goal | measured | |',
      '|---|---|---|---|',
      `| CPU per request at c=64 vs floor | ≤ 2.2× | ${cpuRatio.toFixed(2)}× (${tgf.c64cpu?.toFixed(0)} µs vs ${floor.c64cpu?.toFixed(0)} µs) | ${verdict(cpuRatio <= 2.2)} |`,
      `| added p50 at c=1 vs floor's added p50 | ≤ +0.15 ms | ${(added(tgf) - added(floor)).toFixed(3)} ms (tollgate +${added(tgf).toFixed(3)}, floor +${added(floor).toFixed(3)}) | ${verdict(added(tgf) - added(floor) <= 0.15)} |`,
      `| streaming TTFB overhead vs floor (p50) | ≤ 1 ms | ${ttfbOverhead.toFixed(3)} ms | ${verdict(ttfbOverhead <= 1)} |`,
      `| RSS after the c=64 run | ≤ 200 MB | ${tgf.rss?.toFixed(0)} MB | ${verdict((tgf.rss ?? 0) <= 200)} |`,
      `| with limits (budget, RPM, TPM): CPU per request at c=64 vs floor | ≤ 2.2× | ${limitsRatio.toFixed(2)}× (${limits.c64cpu?.toFixed(0)} µs; without limits ${tgf.c64cpu?.toFixed(0)} µs) | ${verdict(limitsRatio <= 2.2)} |`,
      `| with limits: added p50 at c=1 vs floor's added p50 | ≤ +0.15 ms | ${(added(limits) - added(floor)).toFixed(3)} ms (+${added(limits).toFixed(3)}; without limits +${added(tgf).toFixed(3)}) | ${verdict(added(limits) - added(floor) <= 0.15)} |`,
      `| cache hit: CPU per request at c=64 vs floor | ≤ 1× | ${((hit.c64cpu ?? 0) / (floor.c64cpu ?? 1)).toFixed(2)}× (${hit.c64cpu?.toFixed(0)} µs vs ${floor.c64cpu?.toFixed(0)} µs) | ${verdict((hit.c64cpu ?? 0) <= (floor.c64cpu ?? 0))} |`,
    ];
    const doc = [
      '# Benchmarks',
      '',
      'Produced by `pnpm bench` (bench/run.ts); every figure below comes from one run on one machine.',
      'Three targets, each in its own process: the fake OpenAI upstream called directly, a bare',
      'node:http forwarding proxy (the floor any Node gateway can reach), and Tollgate',
      '`/v1/chat/completions` (API key auth, catalog lookup, request logging with bodies on).',
      '',
      `Run: ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ` +
        `${DURATION_S} s per load step${quick ? ' (--quick)' : ''}.`,
      '',
      '## Targets',
      '',
      ...targetsTable,
      '',
      '## Figures',
      '',
      'Latencies in ms. c=1: sequential keep-alive requests (p50 / p99, hrtime). TTFB: streamed',
      'request, time to the first response byte (p50). c=16 / c=64: autocannon, requests per second',
      '(p50 / p99 latency, whole ms). CPU: µs of CPU (user+sys, /proc) of the serving process per',
      'request. RSS: MB after the c=64 run.',
      '',
      'The machine is shared, and its speed changes from minute to minute. So the targets are',
      'measured side by side, not one after the other: at c=1 and for TTFB they take turns in blocks',
      'of 100 requests (after 50 warm-up requests each); the c=16 and c=64 loads run in alternating rounds',
      `(${quick ? 'one round' : `five rounds of ${DURATION_S / 5} s`} per target), summed per target (latency: the median round).`,
      '',
      '| target | c=1 p50 / p99 | TTFB p50 | c=16 rps (p50 / p99) | c=64 rps (p50 / p99) | CPU µs/req c=16 / c=64 | RSS MB |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      '',
      // How the figures were chased, kept by hand in bench/NOTES.md and carried into every run.
      readFileSync(join(root, 'bench/NOTES.md'), 'utf8')
        .replace(/^# .*\n/, '')
        .trim(),
      '',
    ].join('\n');
    writeFileSync(join(root, 'docs/benchmarks.md'), `${doc}\n`);
    console.log(`\n${targetsTable.join('\n')}\n\nwrote docs/benchmarks.md`);
  } finally {
    stopAll();
  }
}

await main();
process.exit(0);
