/**
 * Profiling driver for the overhead benchmark (bench/NOTES.md): the same targets and load steps
 * as bench/run.ts, but it writes nothing and can instrument Tollgate's serving process.
 *   node bench/profile.ts --quick [--only=upstream,floor,tollgate] [--no-bodies]
 *     [--tg-node-arg=--cpu-prof --tg-node-arg=--cpu-prof-dir=/tmp/prof]   (passed to node)
 *     [--gc-tail]      print the serving process's last --trace-gc lines (with --tg-node-arg=--trace-gc)
 *     [--hold=15000]   after the load, wait and print RSS again (does the heap shrink back?)
 *     [--c1-again]     after the load, measure c=1 and TTFB again on the warmed-up process
 * Prints each target's figures row plus Tollgate's RSS right after start-up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const root = join(import.meta.dirname, '..');
const node = process.execPath;
const CLK_TCK = 100; // Linux USER_HZ
const BODY = JSON.stringify({
  model: 'bench-gpt',
  messages: [{ role: 'user', content: 'Say hello in one short sentence.' }],
  max_tokens: 32,
});
const STREAM_BODY = JSON.stringify({ ...JSON.parse(BODY), stream: true });
const quick = process.argv.includes('--quick');
const nodeArgs = process.argv.filter((a) => a.startsWith('--tg-node-arg=')).map((a) => a.slice(14));
const DURATION_S = quick ? 3 : 10;
const C1_REQUESTS = quick ? 300 : 2000;
const TTFB_REQUESTS = quick ? 50 : 300;

type Target = { name: string; url: string; pid: number; headers: Record<string, string> };

function startChild(args: string[], env: Record<string, string>, ready: RegExp) {
  const child = spawn(node, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const matched = new Promise<RegExpMatchArray>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) resolve(m);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${out}`)));
  });
  return { child, matched, output: () => out };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(
  target: Target,
  body: string,
): Promise<{ status: number; ttfbMs: number; totalMs: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let ttfb = 0;
    const req = http.request(
      `${target.url}/v1/chat/completions`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', ...target.headers },
      },
      (res) => {
        res.once('data', () => {
          ttfb = Number(process.hrtime.bigint() - start) / 1e6;
        });
        res.on('data', () => {});
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ttfbMs: ttfb,
            totalMs: Number(process.hrtime.bigint() - start) / 1e6,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function sequential(target: Target, body: string, n: number, pick: 'totalMs' | 'ttfbMs') {
  for (let i = 0; i < Math.min(50, n); i++) await post(target, body); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await post(target, body);
    if (r.status !== 200) throw new Error(`${target.name}: status ${r.status}`);
    samples.push(r[pick]);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function load(target: Target, connections: number) {
  const before = cpuTicks(target.pid);
  const result = await autocannon({
    url: `${target.url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: BODY,
    connections,
    duration: DURATION_S,
  });
  const ticks = cpuTicks(target.pid) - before;
  const ok = result['2xx'];
  if (result.non2xx > 0 || result.errors > 0) {
    console.warn(
      `${target.name} c=${connections}: ${result.non2xx} non-2xx, ${result.errors} errors`,
    );
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerReq: ok > 0 ? (ticks / CLK_TCK / ok) * 1e6 : Number.NaN,
    requests: ok,
  };
}

async function api(base: string, path: string, method: string, token: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function main() {
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('exit', stopAll);
  try {
    // 1. The fake upstream, in its own process.
    const fake = startChild(['bench/fake-upstream.ts'], {}, /listening on (http:\/\/\S+)/);
    children.push(fake.child);
    const upstreamUrl = (await fake.matched)[1] as string;

    // 2. The floor: a bare forwarding proxy.
    const proxy = startChild(
      ['bench/reference-proxy.ts', upstreamUrl],
      {},
      /listening on (http:\/\/\S+)/,
    );
    children.push(proxy.child);
    const proxyUrl = (await proxy.matched)[1] as string;

    // 3. Tollgate on its own embedded Postgres, one server process, request logging on.
    const home = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
    const password = 'bench-password-0123456789';
    const tg = startChild(
      [...nodeArgs, 'apps/server/src/main.ts', '--no-worker'],
      {
        TOLLGATE_HOME: home,
        PORT: '0',
        WEB_CONCURRENCY: '1',
        LOG_LEVEL: 'warn',
        LOG_BODIES: process.argv.includes('--no-bodies') ? 'false' : 'true',
        OPENAI_API_KEY: 'sk-bench',
        OPENAI_BASE_URL: `${upstreamUrl}/v1`,
        TOLLGATE_ADMIN_EMAIL: 'bench@example.com',
        TOLLGATE_ADMIN_PASSWORD: password,
      },
      /listening on (http:\/\/\S+)/,
    );
    children.push(tg.child);
    const tgUrl = (await tg.matched)[1] as string;
    const adminKey = /admin api key: (tg_\S+)/.exec(tg.output())?.[1];
    if (!adminKey) throw new Error('no admin api key in the banner');
    await api(tgUrl, '/api/models/bench-gpt', 'PUT', adminKey, {
      provider: 'openai',
      upstreamModel: 'gpt-4o-mini',
      kind: 'chat',
      inputPricePerMTok: '0.15',
      outputPricePerMTok: '0.6',
    });
    const created = (await api(tgUrl, '/api/keys', 'POST', adminKey, { name: 'bench' })) as {
      key: string;
    };
    const health = (await (await fetch(`${tgUrl}/healthz`)).json()) as { pid?: number };
    if (!health.pid) throw new Error('/healthz does not report the serving pid');

    const targets: Target[] = [
      { name: 'upstream', url: upstreamUrl, pid: fake.child.pid ?? 0, headers: {} },
      { name: 'floor', url: proxyUrl, pid: proxy.child.pid ?? 0, headers: {} },
      {
        name: 'tollgate',
        url: tgUrl,
        pid: health.pid,
        headers: { authorization: `Bearer ${created.key}` },
      },
    ];

    const rows: string[] = [];
    const figures: Record<string, Record<string, number>> = {};
    console.log(
      'rss at start',
      rssMb(health.pid).toFixed(0),
      JSON.stringify(
        readFileSync(`/proc/${health.pid}/status`, 'utf8').match(
          /(VmRSS|RssAnon|RssFile|VmHWM):.*$/gm,
        ),
      ),
    );
    const only = (
      process.argv.find((a) => a.startsWith('--only='))?.slice(7) ?? 'floor,tollgate'
    ).split(',');
    for (const t of targets.filter((x) => only.includes(x.name))) {
      const t0 = cpuTicks(t.pid);
      const c1 = await sequential(t, BODY, C1_REQUESTS, 'totalMs');
      console.log(
        `${t.name} c=1 CPU µs/req incl. warm-up ~${(((cpuTicks(t.pid) - t0) / CLK_TCK / (C1_REQUESTS + Math.min(50, C1_REQUESTS))) * 1e6).toFixed(0)}`,
      );
      const ttfb = await sequential(t, STREAM_BODY, TTFB_REQUESTS, 'ttfbMs');
      const c16 = await load(t, 16);
      const c64 = await load(t, 64);
      const rss = rssMb(t.pid);
      if (process.argv.includes('--c1-again')) {
        const again = await sequential(t, BODY, C1_REQUESTS, 'totalMs');
        const ttfb2 = await sequential(t, STREAM_BODY, TTFB_REQUESTS, 'ttfbMs');
        console.log(
          `${t.name} warm: c=1 p50 ${again.p50.toFixed(3)} TTFB p50 ${ttfb2.p50.toFixed(3)}`,
        );
      }
      figures[t.name] = {
        c1p50: c1.p50,
        c1p99: c1.p99,
        ttfbP50: ttfb.p50,
        c64cpu: c64.cpuUsPerReq,
        rss,
      };
      rows.push(
        `| ${t.name} | ${c1.p50.toFixed(3)} / ${c1.p99.toFixed(3)} | ${ttfb.p50.toFixed(3)} | ` +
          `${c16.rps.toFixed(0)} (${c16.p50} / ${c16.p99}) | ${c64.rps.toFixed(0)} (${c64.p50} / ${c64.p99}) | ` +
          `${c16.cpuUsPerReq.toFixed(0)} / ${c64.cpuUsPerReq.toFixed(0)} | ${rss.toFixed(0)} |`,
      );
      console.log(rows.at(-1));
    }

    if (process.argv.includes('--gc-tail'))
      console.log(
        tg
          .output()
          .split('\n')
          .filter((l) => /Mark-Compact|Scavenge/.test(l))
          .slice(-8)
          .join('\n'),
      );
    const hold = Number(process.argv.find((a) => a.startsWith('--hold='))?.slice(7) ?? 0);
    if (hold > 0) {
      console.log('holding; pid', health.pid);
      await new Promise((r) => setTimeout(r, hold));
      console.log('rss after hold', rssMb(health.pid).toFixed(0));
      console.log(
        tg
          .output()
          .split('\n')
          .filter((l) => /Mark-Compact/.test(l))
          .slice(-5)
          .join('\n'),
      );
    }
  } finally {
    stopAll();
  }
}

await main();
process.exit(0);
