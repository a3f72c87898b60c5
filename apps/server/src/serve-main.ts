import { loadConfig } from '@tollgate/config';
import { runServerProcess } from './serve.ts';

// `node apps/server/src/serve-main.ts`: one server process on its own, no supervisor (Kubernetes
// runs and restarts it; deploy/k8s). Needs DATABASE_URL and TOLLGATE_SECRET, and a database that
// prepare-main.ts has migrated (/readyz answers 503 until then).
const port = await runServerProcess();
if (port !== undefined) process.stdout.write(`listening on http://${loadConfig().host}:${port}\n`);
