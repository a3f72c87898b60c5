import cluster from 'node:cluster';
import { runServerProcess } from './serve.ts';
import { runPrimary } from './supervisor.ts';

// `pnpm start`: the primary supervises; each cluster worker is one server process.
if (cluster.isPrimary) {
  await runPrimary(process.argv.slice(2));
} else {
  await runServerProcess();
}
