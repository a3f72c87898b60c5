/**
 * `pnpm bench:deployments` (issue #16): CPU per request of the bench model behind one deployment
 * vs the same model behind two weighted deployments (two connections to the same fake upstream,
 * weights 3:1), on one Tollgate process, in alternating rounds at c=16 so the machine's moods
 * fall on both alike. Prints a Markdown table for docs/benchmarks.md. Not a test: nothing asserts.
 */
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { api, CLK_TCK, cpuTicks, quick, startTargets } from './harness.ts';

const ROUNDS = quick ? 4 : 8;
const ROUND_S = quick ? 2 : 3;
const CONNECTIONS = 16;

const body = (model: string) =>
  JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Say hello in one short sentence.' }],
    max_tokens: 32,
  });

async function main() {
  const { targets, tollgate, stopAll } = await startTargets();
  try {
    const tg = targets.find((t) => t.name === 'tollgate');
    const upstream = targets.find((t) => t.name === 'upstream');
    if (!tg || !upstream) throw new Error('targets missing');
    const adminKey = /admin api key: (tg_\S+)/.exec(tollgate.output())?.[1] as string;
    await api(tg.url, '/api/providers', 'POST', adminKey, {
      kind: 'openai-compatible',
      name: 'bench-b',
      baseUrl: `${upstream.url}/v1`,
      apiKey: 'sk-bench-b',
    });
    await api(tg.url, '/api/models/bench-gpt-2', 'PUT', adminKey, {
      kind: 'chat',
      inputPricePerMTok: '0.15',
      outputPricePerMTok: '0.6',
      deployments: [
        { provider: 'openai', upstreamModel: 'gpt-4o-mini', weight: 3 },
        { provider: 'bench-b', upstreamModel: 'gpt-4o-mini', weight: 1 },
      ],
    });
    const cases = [
      { name: 'one deployment (bench-gpt)', body: body('bench-gpt') },
      { name: 'two weighted deployments (bench-gpt-2)', body: body('bench-gpt-2') },
    ];
    const acc = cases.map(() => ({ ticks: 0, ok: 0, rps: [] as number[] }));
    // Warm-up, one short round each.
    for (const c of cases) {
      await autocannon({
        url: `${tg.url}/v1/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...tg.headers },
        body: c.body,
        connections: CONNECTIONS,
        duration: 1,
      });
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        const before = cpuTicks(tg.pid);
        const r = await autocannon({
          url: `${tg.url}/v1/chat/completions`,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...tg.headers },
          body: c.body,
          connections: CONNECTIONS,
          duration: ROUND_S,
        });
        const a = acc[i] as (typeof acc)[number];
        a.ticks += cpuTicks(tg.pid) - before;
        a.ok += r['2xx'];
        a.rps.push(r.requests.average);
        if (r.non2xx > 0 || r.errors > 0) console.warn(`${c.name}: ${r.non2xx} non-2xx`);
      }
    }
    const us = acc.map((a) => (a.ticks / CLK_TCK / a.ok) * 1e6);
    const rps = acc.map((a) => a.rps.reduce((x, y) => x + y, 0) / a.rps.length);
    const ratio = (us[1] as number) / (us[0] as number);
    const lines = [
      `Run: ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, c=${CONNECTIONS}, ${ROUNDS} alternating rounds of ${ROUND_S} s per case.`,
      '',
      '| case | rps | CPU µs/req |',
      '|---|---|---|',
      ...cases.map((c, i) => `| ${c.name} | ${rps[i]?.toFixed(0)} | ${us[i]?.toFixed(0)} |`),
      '',
      `Two deployments vs one: ${((ratio - 1) * 100).toFixed(1)} % CPU per request (goal: within 5 %) — ${Math.abs(ratio - 1) <= 0.05 ? 'met' : '**missed**'}.`,
    ];
    console.log(lines.join('\n'));
  } finally {
    stopAll();
  }
}

await main();
