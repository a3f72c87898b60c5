import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { loadOrCreateStoredSecret, withSecret } from './dev-secret.ts';

describe('stored secret', () => {
  it('is generated once (0600) and then reused', () => {
    const home = join(mkdtempSync(join(tmpdir(), 'tg-secret-')), 'home');
    const first = loadOrCreateStoredSecret(home);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(loadOrCreateStoredSecret(home)).toBe(first);
    expect(readFileSync(join(home, 'secret'), 'utf8').trim()).toBe(first);
    expect(statSync(join(home, 'secret')).mode & 0o777).toBe(0o600);
  });

  it('never replaces a configured TOLLGATE_SECRET', () => {
    const home = mkdtempSync(join(tmpdir(), 'tg-secret-'));
    const configured = 'x'.repeat(40);
    const c = withSecret(loadConfig({ TOLLGATE_HOME: home, TOLLGATE_SECRET: configured }));
    expect(c.secret).toBe(configured);
    const generated = withSecret(loadConfig({ TOLLGATE_HOME: home }));
    expect(generated.secret).not.toBe(configured);
    expect(generated.secret).toBe(loadOrCreateStoredSecret(home));
  });
});
