import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';
import { repoRoot } from './spawn.ts';

// The README's code, run as a reader would: as files, in a separate process, on the repo's Node.
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const nodeBin = join(repoRoot, 'node_modules/.bin/node');
const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

/** The ```ts block right after `<!-- readme-example: NAME -->`. */
function readmeBlock(name: string): string {
  const marker = `<!-- readme-example: ${name} -->\n\`\`\`ts\n`;
  const start = readme.indexOf(marker);
  if (start < 0) throw new Error(`README has no example '${name}'`);
  const from = start + marker.length;
  return readme.slice(from, readme.indexOf('```', from));
}

let s: TestServer;
let member: TestUser;
let url: string;

beforeAll(async () => {
  s = await startTestServer();
  await seedModels(s.deps);
  member = await createTestUser(s.testDb.db);
  url = await listen(s.app);
});
afterAll(() => closeTestServer(s));

function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      // What `pnpm run` / `pnpm exec` do: the repo's node_modules/.bin (its Node 24) first on PATH.
      env: {
        PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '/tmp',
        TOLLGATE_KEY: member.apiKey,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Saves a README snippet where the README says scripts live (examples/) and runs it there. */
async function runSnippet(name: string) {
  // The snippets talk to the default address; this server listens on a random port.
  const code = readmeBlock(name).replaceAll('http://127.0.0.1:3000', url);
  const file = join(repoRoot, 'examples', `.readme-${name}-${randomUUID()}.ts`);
  writeFileSync(file, code);
  try {
    return await run(nodeBin, [file]);
  } finally {
    rmSync(file, { force: true });
  }
}

describe('README examples', { timeout: 60_000 }, () => {
  it('the openai snippet runs and prints the answer', async () => {
    const r = await runSnippet('openai');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('Hello from the OpenAI SDK');
  });

  it('the @anthropic-ai/sdk snippet runs and prints the answer', async () => {
    const r = await runSnippet('anthropic');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('Hello from the Anthropic SDK');
  });

  it('the @tollgate/client snippet is examples/client.ts, and `pnpm example` runs it from the repo root', async () => {
    expect(readmeBlock('examples/client.ts')).toBe(
      readFileSync(join(repoRoot, 'examples/client.ts'), 'utf8'),
    );
    expect(rootPackage.scripts.example).toBe('node examples/client.ts');
    const r = await run('sh', ['-c', rootPackage.scripts.example as string], { TOLLGATE_URL: url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tollgate \S+, database ok$/m);
    expect(r.stdout).toMatch(/^Hello from @tollgate\/client$/m);
  });
});
