/**
 * What Tollgate's serving process allocates per request under c=64 load, by allocation site, from
 * V8's sampling heap profiler over the inspector (bench/NOTES.md, round three):
 *   node bench/heap-sample.ts            objects that were promoted (live, or died in a full GC):
 *                                        what grows the old generation and RSS
 *   node bench/heap-sample.ts --all      every allocation, young garbage included: what drives
 *                                        scavenges
 * Same targets as `pnpm bench` (harness.ts); writes nothing.
 */
import { BODY, load, sequential, startTargets } from './harness.ts';

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { callFrame: CallFrame; selfSize: number; children?: ProfileNode[] };

const all = process.argv.includes('--all');

function site(f: CallFrame): string {
  const file = (f.url.split('/node_modules/').pop() ?? '').split('/').slice(-2).join('/');
  return `${f.functionName || '(anon)'} ${file}:${f.lineNumber}`;
}

/** A minimal Chrome DevTools Protocol client over Node's global WebSocket. */
async function inspector(url: string) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  let id = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: unknown };
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? m.error);
  });
  return {
    send: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        id++;
        waiting.set(id, resolve as (v: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

async function main() {
  const { targets, tollgate, stopAll } = await startTargets({
    nodeArgs: ['--inspect=127.0.0.1:0'],
  });
  try {
    const t = targets.find((x) => x.name === 'tollgate');
    if (!t) throw new Error('no tollgate target');
    // The primary prints its inspector URL first, the forked server process after it.
    const urls = [...tollgate.output().matchAll(/Debugger listening on (ws:\/\/\S+)/g)];
    const url = urls.at(-1)?.[1];
    if (!url) throw new Error('the serving process has no inspector');
    const cdp = await inspector(url);
    const pid = await cdp.send<{ result: { value: number } }>('Runtime.evaluate', {
      expression: 'process.pid',
    });
    if (pid.result.value !== t.pid) throw new Error('inspector is not the serving process');

    await sequential(t, BODY, 500, 'totalMs'); // warm-up
    await cdp.send('HeapProfiler.enable');
    await cdp.send('HeapProfiler.startSampling', {
      samplingInterval: all ? 8192 : 2048,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: all,
    });
    const run = await load(t, 64);
    const { profile } = await cdp.send<{ profile: { head: ProfileNode } }>(
      'HeapProfiler.stopSampling',
    );
    cdp.close();

    const bySite = new Map<string, number>();
    const walk = (n: ProfileNode) => {
      if (n.selfSize > 0)
        bySite.set(site(n.callFrame), (bySite.get(site(n.callFrame)) ?? 0) + n.selfSize);
      for (const c of n.children ?? []) walk(c);
    };
    walk(profile.head);
    const total = [...bySite.values()].reduce((a, b) => a + b, 0);
    const perReq = (bytes: number) => bytes / run.requests;
    console.log(
      `${all ? 'allocated' : 'promoted (live or collected by a full GC)'}: ` +
        `${(perReq(total) / 1024).toFixed(2)} KB per request over ${run.requests} requests`,
    );
    for (const [name, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`${perReq(bytes).toFixed(0).padStart(7)} B/req  ${name}`);
    }
  } finally {
    stopAll();
  }
}

await main();
process.exit(0);
