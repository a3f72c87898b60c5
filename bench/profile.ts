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
import { readFileSync } from 'node:fs';
import {
  BODY,
  C1_REQUESTS,
  CLK_TCK,
  cpuTicks,
  measureTarget,
  rssMb,
  STREAM_BODY,
  sequential,
  startTargets,
  TTFB_REQUESTS,
} from './harness.ts';

const nodeArgs = process.argv.filter((a) => a.startsWith('--tg-node-arg=')).map((a) => a.slice(14));

async function main() {
  const {
    targets,
    tollgate: tg,
    tollgatePid,
    stopAll,
  } = await startTargets({
    nodeArgs,
    logBodies: !process.argv.includes('--no-bodies'),
  });
  const health = { pid: tollgatePid };
  try {
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
      // CPU of the c=1 step alone (warm-up included): what one request costs an idle process.
      const t0 = cpuTicks(t.pid);
      await sequential(t, BODY, C1_REQUESTS, 'totalMs');
      const c1Cpu =
        ((cpuTicks(t.pid) - t0) / CLK_TCK / (C1_REQUESTS + Math.min(50, C1_REQUESTS))) * 1e6;
      console.log(`${t.name} c=1 CPU µs/req incl. warm-up ~${c1Cpu.toFixed(0)}`);
      console.log((await measureTarget(t)).row);
      if (process.argv.includes('--c1-again')) {
        const again = await sequential(t, BODY, C1_REQUESTS, 'totalMs');
        const ttfb2 = await sequential(t, STREAM_BODY, TTFB_REQUESTS, 'ttfbMs');
        console.log(
          `${t.name} warm: c=1 p50 ${again.p50.toFixed(3)} TTFB p50 ${ttfb2.p50.toFixed(3)}`,
        );
      }
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
