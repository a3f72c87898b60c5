/**
 * Builds the dashboard into apps/web/dist. `--if-stale` (used by `pnpm start`) builds only when
 * dist is missing or older than the sources, so a `git pull` followed by a `pnpm install` that
 * had nothing to install (pnpm then skips the postinstall build) still serves the new dashboard.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const sources = [
  join(webRoot, 'src'),
  join(webRoot, 'index.html'),
  join(webRoot, 'vite.config.ts'),
  join(webRoot, 'package.json'),
  join(webRoot, '../../packages/client/src'),
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const e of readdirSync(path)) max = Math.max(max, newest(join(path, e)));
  return max;
}

function stale(): boolean {
  const index = join(webRoot, 'dist/index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return sources.some((s) => newest(s) > built);
}

if (!process.argv.includes('--if-stale') || stale()) {
  const started = Date.now();
  const { build } = await import('vite');
  await build({ root: webRoot, logLevel: 'warn' });
  console.log(`dashboard built into apps/web/dist in ${Date.now() - started} ms`);
}
