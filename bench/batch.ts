/**
 * `pnpm bench`, batch section (issue #11): N mock-echo items (default 50,000; `--items=N`)
 * through one worker process of a `pnpm start`-style Tollgate (server + worker, embedded
 * Postgres). Measures submit time, items/s, time to the whole results stream, peak RSS of the
 * worker and the server, and interactive `/v1/chat/completions` p50 at c=1 without and during the
 * batch. Rewrites the "## Batches" section of docs/benchmarks.md. Not a test: nothing asserts.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, percentile, root, rssMb, startChild } from './harness.ts';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};
const ITEMS = arg('items', 50_000);
const C1_SAMPLES = arg('samples', 300);

/** The worker process the supervisor forked: a child of `ppid` running apps/worker. */
function findWorkerPid(ppid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('apps/worker/src/main.ts')) return Number(d);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

async function chatOnce(url: string, key: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content: 'ping' }] }),
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`interactive call: ${res.status}`);
  return performance.now() - start;
}

async function p50(url: string, key: string, n: number, keepGoing = () => true): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n && keepGoing(); i++) samples.push(await chatOnce(url, key));
  samples.sort((a, b) => a - b);
  return percentile(samples, 50);
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'tollgate-bench-batch-'));
  const tg = startChild(
    ['apps/server/src/main.js'],
    {
      TOLLGATE_HOME: home,
      PORT: '0',
      WEB_CONCURRENCY: '1',
      WORKER_CONCURRENCY: '10',
      LOG_LEVEL: 'warn',
      TOLLGATE_ADMIN_EMAIL: 'bench@example.com',
      TOLLGATE_ADMIN_PASSWORD: 'bench-password-0123456789',
    },
    /listening on (http:\/\/\S+)/,
  );
  const stop = () => tg.child.kill('SIGTERM');
  process.on('exit', stop);
  try {
    const url = (await tg.matched)[1] as string;
    const adminKey = /admin api key: (tg_\S+)/.exec(tg.output())?.[1];
    if (!adminKey) throw new Error('no admin api key in the banner');
    const { key } = (await api(url, '/api/keys', 'POST', adminKey, { name: 'bench' })) as {
      key: string;
    };
    const health = (await (await fetch(`${url}/healthz`)).json()) as { pid: number };
    let workerPid: number | undefined;
    for (let i = 0; i < 100 && !workerPid; i++) {
      workerPid = findWorkerPid(tg.child.pid ?? 0);
      if (!workerPid) await new Promise((r) => setTimeout(r, 100));
    }
    if (!workerPid) throw new Error('no worker process found');
    // The worker is ready once it beats (/readyz).
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`${url}/readyz`)).ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    for (let i = 0; i < 50; i++) await chatOnce(url, key); // warm-up
    const idleP50 = await p50(url, key, C1_SAMPLES);

    const lines: string[] = [];
    for (let i = 0; i < ITEMS; i++) {
      lines.push(
        JSON.stringify({
          customId: `b-${i}`,
          model: 'mock-echo',
          messages: [{ role: 'user', content: `batch item ${i}` }],
        }),
      );
    }
    const body = lines.join('\n');
    let peakWorker = rssMb(workerPid);
    let peakServer = rssMb(health.pid);
    const workerStartRss = peakWorker;
    const t0 = performance.now();
    const res = await fetch(`${url}/api/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    if (!res.ok) throw new Error(`submit: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    const submitS = (performance.now() - t0) / 1000;

    let finished = false;
    let firstStart: number | undefined;
    let finishedAt = 0;
    const sampler = setInterval(() => {
      peakWorker = Math.max(peakWorker, rssMb(workerPid));
      peakServer = Math.max(peakServer, rssMb(health.pid));
    }, 200);
    const poll = (async () => {
      while (!finished) {
        const b = (await api(url, `/api/batches/${id}`, 'GET', key)) as {
          status: string;
          counts: { succeeded: number; failed: number };
          finishedAt: string | null;
        };
        if (firstStart === undefined && b.counts.succeeded > 0) firstStart = performance.now();
        if (b.finishedAt) {
          finished = true;
          finishedAt = performance.now();
          if (b.counts.succeeded !== ITEMS) throw new Error(`batch ended ${JSON.stringify(b)}`);
        } else await new Promise((r) => setTimeout(r, 250));
      }
    })();
    // Interactive latency while the batch runs (as many samples as fit, up to C1_SAMPLES).
    const busyP50 = await p50(url, key, C1_SAMPLES, () => !finished);
    await poll;
    clearInterval(sampler);
    const runS = (finishedAt - t0) / 1000;
    const itemsPerS = ITEMS / ((finishedAt - (firstStart ?? t0)) / 1000);

    const r0 = performance.now();
    const results = await fetch(`${url}/api/batches/${id}/results`, {
      headers: { authorization: `Bearer ${key}` },
    });
    let count = 0;
    const text = await results.text();
    for (const l of text.split('\n')) if (l) count++;
    const resultsS = (performance.now() - r0) / 1000;
    peakServer = Math.max(peakServer, rssMb(health.pid));
    if (count !== ITEMS) throw new Error(`results: ${count} lines`);

    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    const section = [
      '## Batches',
      '',
      '`node bench/batch.ts` (part of `pnpm bench`): a `pnpm start`-style Tollgate (one server process,',
      'one worker process with WORKER_CONCURRENCY=10, BATCH_PROVIDER_CONCURRENCY=4, embedded',
      `Postgres, request log with bodies); ${ITEMS.toLocaleString('en')} \`mock-echo\` items as one JSONL upload.`,
      `Run: ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.`,
      '',
      '| target | goal | measured | |',
      '|---|---|---|---|',
      `| items/s per worker process | ≥ 1,000 | ${itemsPerS.toFixed(0)} | ${verdict(itemsPerS >= 1000)} |`,
      `| worker RSS (start → peak) | flat, ≤ 250 MB | ${workerStartRss.toFixed(0)} → ${peakWorker.toFixed(0)} MB | ${verdict(peakWorker <= 250)} |`,
      `| interactive p50 at c=1 during the batch | ≤ 2× idle | ${busyP50.toFixed(2)} ms vs ${idleP50.toFixed(2)} ms idle (${(busyP50 / idleP50).toFixed(2)}×) | ${verdict(busyP50 <= 2 * idleP50)} |`,
      '',
      '| figure | value |',
      '|---|---|',
      `| submit (upload, validation, ${ITEMS} rows + jobs in one transaction) | ${submitS.toFixed(2)} s |`,
      `| submit → batch finished | ${runS.toFixed(1)} s |`,
      `| results stream (${count} JSONL lines) | ${resultsS.toFixed(2)} s |`,
      `| server peak RSS | ${peakServer.toFixed(0)} MB |`,
      '',
      // Kept by hand: what the runs so far showed and why.
      readFileSync(join(root, 'bench/BATCH-NOTES.md'), 'utf8').trim(),
      '',
    ].join('\n');
    console.log(section);
    const docPath = join(root, 'docs/benchmarks.md');
    const doc = readFileSync(docPath, 'utf8');
    const start = doc.indexOf('## Batches');
    const next = start === -1 ? -1 : doc.indexOf('\n## ', start + 1);
    const updated =
      start === -1
        ? `${doc.trimEnd()}\n\n${section}`
        : `${doc.slice(0, start)}${section}${next === -1 ? '' : doc.slice(next + 1)}`;
    writeFileSync(docPath, updated.endsWith('\n') ? updated : `${updated}\n`);
    console.log('updated docs/benchmarks.md');
  } finally {
    stop();
  }
}

await main();
