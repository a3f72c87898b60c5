import { runServerProcess } from './serve.ts';

// One server process under the `pnpm start` supervisor (node:cluster runs this file: supervisor.js).
await runServerProcess();
