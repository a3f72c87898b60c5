/**
 * Resident memory of every process `pnpm start` runs (supervisor, server process(es), worker),
 * idle and after a short load. `node bench/footprint.ts` (`--quick`: a 3 s load instead of 10 s);
 * prints a markdown table for docs/benchmarks.md. Embedded Postgres in a temporary TOLLGATE_HOME.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const root = join(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const home = mkdtempSync(join(tmpdir(), 'tollgate-footprint-'));

const rssMb = (pid: number) => {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};
const children = (pid: number) => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};
const role = (pid: number) => {
  const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  if (cmd.includes('worker/src/main.ts')) return 'worker';
  if (cmd.includes('postgres')) return undefined;
  return 'server process';
};

const proc = spawn(process.execPath, ['apps/server/src/main.js'], {
  cwd: root,
  env: { ...process.env, DATABASE_URL: '', TOLLGATE_HOME: home, PORT: '0', LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
const url = await new Promise<string>((resolve) => {
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = out.match(/listening on (http:\/\/\S+)/);
    if (m) resolve(m[1] as string);
  });
});
const key = out.match(/admin api key: (tg_\S+)/)?.[1] ?? '';

const snapshot = () => {
  const rows: [string, number][] = [['supervisor', rssMb(proc.pid as number)]];
  for (const pid of children(proc.pid as number)) {
    const r = role(pid);
    if (r) rows.push([r, rssMb(pid)]);
  }
  return rows;
};

await new Promise((r) => setTimeout(r, 5000));
const idle = snapshot();
const result = await autocannon({
  url: `${url}/v1/chat/completions`,
  method: 'POST',
  connections: 16,
  duration: quick ? 3 : 10,
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content: 'hello' }] }),
});
await new Promise((r) => setTimeout(r, 2000));
const loaded = snapshot();

process.stdout.write(
  `| process | idle RSS (MB) | after load RSS (MB) |\n|---|---|---|\n${idle
    .map(([name, mb], i) => `| ${name} | ${mb} | ${loaded[i]?.[1] ?? '?'} |`)
    .join(
      '\n',
    )}\n\nload: ${result.requests.total} requests of /v1/chat/completions (mock-echo), c=16, ${quick ? 3 : 10} s; non-2xx: ${result.non2xx}\n`,
);
proc.kill('SIGINT');
await new Promise((r) => proc.once('exit', r));
rmSync(home, { recursive: true, force: true });
