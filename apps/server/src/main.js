// @ts-check
// `pnpm start`: the supervisor (plain JavaScript, for its footprint: supervisor.js says why).
import { runPrimary } from './supervisor.js';

await runPrimary(process.argv.slice(2));
