// @ts-check
// Plain JavaScript: imported by the `pnpm start` supervisor, which loads no .ts (supervisor.js).
/**
 * V8 flags for the server processes the primary forks. Node 24 sizes the young generation from
 * the machine's memory: on this 24 GB bench machine each semi-space may grow to 64 MB, and a
 * server under load sat at ~350 MB RSS with only ~60 MB of live heap (bench/NOTES.md). 8 MB
 * semi-spaces keep RSS after the c=64 run at ~175 MB (16 MB: ~190, 64 MB: ~350) with no CPU cost
 * the bench could tell from noise, now that a request allocates little (the SDK's client was most
 * of it). A flag given on the node command line wins (nothing is added then); NODE_OPTIONS comes
 * before execArgv, so set another size on the command line.
 */
const DEFAULTS = ['--max-semi-space-size=8'];

/** @param {readonly string[]} execArgv @returns {string[]} */
export function serverExecArgv(execArgv) {
  const extra = DEFAULTS.filter((flag) => {
    const name = flag.split('=')[0];
    return !execArgv.some((g) => g.split('=')[0]?.replace(/_/g, '-') === name);
  });
  return [...execArgv, ...extra];
}
