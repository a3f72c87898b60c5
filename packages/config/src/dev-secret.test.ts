import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { loadOrCreateStoredSecret, withSecret } from './dev-secret.ts';

// Every folder a test here makes, removed when the file is done (and checked: issue #10).
const made: string[] = [];
function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-secret-'));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  const left = readdirSync(tmpdir()).filter((n) => made.some((d) => d.endsWith(n)));
  expect(left).toEqual([]);
});

describe('stored secret', () => {
  it('is generated once (0600) and then reused, saying so only the first time', () => {
    const home = join(tempHome(), 'home');
    const generated: string[] = [];
    const first = loadOrCreateStoredSecret(home, (f) => generated.push(f));
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(loadOrCreateStoredSecret(home, (f) => generated.push(f))).toBe(first);
    expect(generated).toEqual([join(home, 'secret')]);
    expect(readFileSync(join(home, 'secret'), 'utf8').trim()).toBe(first);
    expect(statSync(join(home, 'secret')).mode & 0o777).toBe(0o600);
  });

  it('never replaces a configured TOLLGATE_SECRET', () => {
    const home = tempHome();
    const configured = 'x'.repeat(40);
    const c = withSecret(loadConfig({ TOLLGATE_HOME: home, TOLLGATE_SECRET: configured }));
    expect(c.secret).toBe(configured);
    const generated = withSecret(loadConfig({ TOLLGATE_HOME: home }));
    expect(generated.secret).not.toBe(configured);
    expect(generated.secret).toBe(loadOrCreateStoredSecret(home));
  });
});
