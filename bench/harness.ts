/**
 * The overhead benchmark's harness, shared by `pnpm bench` (bench/run.ts) and the profiling driver
 * (bench/profile.ts): the three targets, their start-up, and the measurements.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

export const root = join(import.meta.dirname, '..');
const node = process.execPath;
export const CLK_TCK = 100; // Linux USER_HZ
export const BODY = JSON.stringify({
  model: 'bench-gpt',
  messages: [{ role: 'user', content: 'Say hello in one short sentence.' }],
  max_tokens: 32,
});
export const STREAM_BODY = JSON.stringify({ ...JSON.parse(BODY), stream: true });
export const quick = process.argv.includes('--quick');
export const DURATION_S = quick ? 3 : 10;
export const C1_REQUESTS = quick ? 300 : 2000;
export const TTFB_REQUESTS = quick ? 50 : 300;

export type Target = { name: string; url: string; pid: number; headers: Record<string, string> };

export function startChild(args: string[], env: Record<string, string>, ready: RegExp) {
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

export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

export function post(
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

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** c=1 latency (or TTFB) of one target: its warm-up, then `n` requests one after another. */
export async function sequential(
  target: Target,
  body: string,
  n: number,
  pick: 'totalMs' | 'ttfbMs',
) {
  const figures = (await interleaved([target], body, n, pick)).get(target.name);
  if (!figures) throw new Error(`${target.name}: no samples`);
  return figures;
}

/** Load at `connections` on one target for DURATION_S in one go. */
export async function load(target: Target, connections: number) {
  const figures = (await loadRounds([target], connections, 1)).get(target.name);
  if (!figures) throw new Error(`${target.name}: no load figures`);
  return figures;
}

export async function api(
  base: string,
  path: string,
  method: string,
  token: string,
  body?: unknown,
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

export type TollgateOptions = {
  /** Extra node flags for Tollgate's processes (e.g. --cpu-prof). */
  nodeArgs?: string[];
  logBodies?: boolean;
  /** Extra environment (e.g. OTEL_EXPORTER_OTLP_ENDPOINT for bench/otel.ts). */
  env?: Record<string, string>;
};

/**
 * Starts the three targets, each in its own process: the fake upstream, the floor proxy and
 * Tollgate (embedded Postgres, one server process, a priced catalog entry and a fresh API key).
 */
export async function startTargets(opts: TollgateOptions = {}) {
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('exit', stopAll);
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
  const tg = await startTollgate(upstreamUrl, opts);
  children.push(tg.process.child);
  const { url: tgUrl, adminKey } = tg;
  // The same calls under limits that never trigger: a key budget per day and month, RPM, TPM.
  const limited = (await api(tgUrl, '/api/keys', 'POST', adminKey, {
    name: 'bench-limits',
    rpmLimit: 1_000_000_000,
    tpmLimit: 2_000_000_000,
  })) as { key: string; id: string };
  for (const period of ['day', 'month']) {
    await api(tgUrl, '/api/budgets', 'PUT', adminKey, {
      scope: 'key',
      targetId: limited.id,
      period,
      amountUsd: '1000000',
    });
  }
  // Every call of this key is the same request: after the first, each one is a cache hit.
  const cached = (await api(tgUrl, '/api/keys', 'POST', adminKey, {
    name: 'bench-cache',
    cache: true,
  })) as { key: string };
  const health = { pid: tg.target.pid };

  const targets: Target[] = [
    { name: 'upstream', url: upstreamUrl, pid: fake.child.pid ?? 0, headers: {} },
    { name: 'floor', url: proxyUrl, pid: proxy.child.pid ?? 0, headers: {} },
    tg.target,
    {
      name: 'tollgate+limits',
      url: tgUrl,
      pid: health.pid,
      headers: { authorization: `Bearer ${limited.key}` },
    },
    {
      name: 'tollgate cache hit',
      url: tgUrl,
      pid: health.pid,
      headers: { authorization: `Bearer ${cached.key}` },
    },
  ];

  return { targets, tollgate: tg.process, tollgatePid: health.pid, stopAll };
}

/**
 * Tollgate on its own embedded Postgres (a fresh TOLLGATE_HOME), one server process, request
 * logging on, a priced `bench-gpt` catalog entry for the upstream and a fresh API key.
 */
export async function startTollgate(
  upstreamUrl: string,
  opts: TollgateOptions = {},
  name = 'tollgate',
) {
  const home = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const password = 'bench-password-0123456789';
  const tg = startChild(
    [...(opts.nodeArgs ?? []), 'apps/server/src/main.js', '--no-worker'],
    {
      TOLLGATE_HOME: home,
      PORT: '0',
      WEB_CONCURRENCY: '1',
      LOG_LEVEL: 'warn',
      LOG_BODIES: opts.logBodies === false ? 'false' : 'true',
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${upstreamUrl}/v1`,
      TOLLGATE_ADMIN_EMAIL: 'bench@example.com',
      TOLLGATE_ADMIN_PASSWORD: password,
      ...opts.env,
    },
    /listening on (http:\/\/\S+)/,
  );
  process.on('exit', () => tg.child.kill('SIGTERM'));
  const url = (await tg.matched)[1] as string;
  const adminKey = /admin api key: (tg_\S+)/.exec(tg.output())?.[1];
  if (!adminKey) throw new Error('no admin api key in the banner');
  await api(url, '/api/models/bench-gpt', 'PUT', adminKey, {
    provider: 'openai',
    upstreamModel: 'gpt-4o-mini',
    kind: 'chat',
    inputPricePerMTok: '0.15',
    outputPricePerMTok: '0.6',
  });
  const created = (await api(url, '/api/keys', 'POST', adminKey, { name: 'bench' })) as {
    key: string;
  };
  const health = (await (await fetch(`${url}/healthz`)).json()) as { pid?: number };
  if (!health.pid) throw new Error('/healthz does not report the serving pid');
  const target: Target = {
    name,
    url,
    pid: health.pid,
    headers: { authorization: `Bearer ${created.key}` },
  };
  return { target, process: tg, url, adminKey, created };
}

export type Figures = {
  c1p50: number;
  c1p99: number;
  ttfbP50: number;
  c64cpu: number;
  rss: number;
};

/** The whole measurement of one target: c=1 latency, TTFB, c=16 and c=64 load, RSS. */
export async function measureTarget(t: Target): Promise<{ row: string; figures: Figures }> {
  const { rows, figures } = await measureAll([t]);
  const f = figures[t.name];
  if (!f || rows[0] === undefined) throw new Error(`${t.name}: no figures`);
  return { row: rows[0], figures: f };
}

/**
 * c=1 latency (or TTFB) of every target, the targets taking turns in blocks of 100 requests after
 * their warm-up: on a shared machine the slow and fast moments then fall on every target alike,
 * instead of on whichever target happened to be measured during them. Blocks, not single
 * requests: taking turns request by request made every request of every target a cold one (its
 * process had just slept while two others ran), which measured the machine's caches, not a
 * gateway serving its clients.
 */
export async function interleaved(
  targets: Target[],
  body: string,
  n: number,
  pick: 'totalMs' | 'ttfbMs',
): Promise<Map<string, { p50: number; p99: number }>> {
  const block = Math.min(100, n);
  for (const t of targets) for (let i = 0; i < Math.min(50, n); i++) await post(t, body);
  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let done = 0; done < n; done += block) {
    for (const t of targets) {
      for (let i = done; i < Math.min(n, done + block); i++) {
        const r = await post(t, body);
        if (r.status !== 200) throw new Error(`${t.name}: status ${r.status}`);
        samples.get(t.name)?.push(r[pick]);
      }
    }
  }
  const out = new Map<string, { p50: number; p99: number }>();
  for (const [name, xs] of samples) {
    xs.sort((a, b) => a - b);
    out.set(name, { p50: percentile(xs, 50), p99: percentile(xs, 99) });
  }
  return out;
}

/** Rounds of load per target: DURATION_S in all, alternating (five rounds, or one with --quick). */
const LOAD_ROUNDS = quick ? 1 : 5;

/**
 * Load at `connections` on every target in alternating rounds, summed per target: a burst of load
 * from other tenants of the machine falls on every target alike. rps is the mean of the rounds;
 * latency p50 / p99 the median of the rounds'; CPU is all ticks over all answered requests.
 */
export async function loadRounds(targets: Target[], connections: number, rounds = LOAD_ROUNDS) {
  const acc = new Map(
    targets.map((t) => [
      t.name,
      { ticks: 0, ok: 0, rps: [] as number[], p50: [] as number[], p99: [] as number[] },
    ]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const a = acc.get(t.name);
      if (!a) continue;
      const before = cpuTicks(t.pid);
      const result = await autocannon({
        url: `${t.url}/v1/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...t.headers },
        body: BODY,
        connections,
        duration: DURATION_S / rounds,
      });
      a.ticks += cpuTicks(t.pid) - before;
      a.ok += result['2xx'];
      a.rps.push(result.requests.average);
      a.p50.push(result.latency.p50);
      a.p99.push(result.latency.p99);
      if (result.non2xx > 0 || result.errors > 0) {
        console.warn(
          `${t.name} c=${connections}: ${result.non2xx} non-2xx, ${result.errors} errors`,
        );
      }
    }
  }
  const median = (xs: number[]) =>
    [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const out = new Map<
    string,
    { rps: number; p50: number; p99: number; cpuUsPerReq: number; requests: number }
  >();
  for (const [name, a] of acc) {
    out.set(name, {
      rps: a.rps.reduce((x, y) => x + y, 0) / a.rps.length,
      p50: median(a.p50),
      p99: median(a.p99),
      cpuUsPerReq: a.ok > 0 ? (a.ticks / CLK_TCK / a.ok) * 1e6 : Number.NaN,
      requests: a.ok,
    });
  }
  return out;
}

/** `pnpm bench`'s measurement: every step on all targets at once, interleaved (see above). */
export async function measureAll(targets: Target[]) {
  const c1 = await interleaved(targets, BODY, C1_REQUESTS, 'totalMs');
  const ttfb = await interleaved(targets, STREAM_BODY, TTFB_REQUESTS, 'ttfbMs');
  const c16 = await loadRounds(targets, 16);
  const c64 = await loadRounds(targets, 64);
  const rows: string[] = [];
  const figures: Record<string, Figures> = {};
  for (const t of targets) {
    const a = c1.get(t.name);
    const f = ttfb.get(t.name);
    const l16 = c16.get(t.name);
    const l64 = c64.get(t.name);
    if (!a || !f || !l16 || !l64) throw new Error(`${t.name}: missing figures`);
    const rss = rssMb(t.pid);
    rows.push(
      `| ${t.name} | ${a.p50.toFixed(3)} / ${a.p99.toFixed(3)} | ${f.p50.toFixed(3)} | ` +
        `${l16.rps.toFixed(0)} (${l16.p50} / ${l16.p99}) | ${l64.rps.toFixed(0)} (${l64.p50} / ${l64.p99}) | ` +
        `${l16.cpuUsPerReq.toFixed(0)} / ${l64.cpuUsPerReq.toFixed(0)} | ${rss.toFixed(0)} |`,
    );
    figures[t.name] = { c1p50: a.p50, c1p99: a.p99, ttfbP50: f.p50, c64cpu: l64.cpuUsPerReq, rss };
  }
  return { rows, figures };
}
