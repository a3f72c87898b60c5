import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configVariableNames, loadConfig, repoRoot } from './config.ts';
import { configVariables } from './variables.ts';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      webConcurrency: 1,
      workerConcurrency: 10,
      logLevel: 'info',
      logFormat: 'json',
      logBodies: true,
      logRetentionDays: 90,
      auditRetentionDays: 365,
      responsesRetentionDays: 30,
      filesRetentionDays: 30,
      batchRetentionDays: 30,
      upstreamTimeoutMs: 600_000,
      cacheTtlSeconds: 3600,
      databaseUrl: undefined,
      openai: undefined,
      anthropic: undefined,
    });
    expect(c.corsOrigins).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names each bad variable on its own line', () => {
    const p = problems({ PORT: 'abc', WEB_CONCURRENCY: '0', LOG_BODIES: 'maybe' });
    expect(p).toHaveLength(3);
    expect(p.find((l) => l.startsWith('PORT:'))).toContain('"abc"');
    expect(p.some((l) => l.startsWith('WEB_CONCURRENCY:'))).toBe(true);
    expect(p.some((l) => l.startsWith('LOG_BODIES:'))).toBe(true);
  });

  it('RESPONSES_/FILES_/BATCH_RETENTION_DAYS: 0 keeps forever; a negative value is refused', () => {
    const c = loadConfig({
      RESPONSES_RETENTION_DAYS: '0',
      FILES_RETENTION_DAYS: '7',
      BATCH_RETENTION_DAYS: '0',
    });
    expect(c).toMatchObject({
      responsesRetentionDays: 0,
      filesRetentionDays: 7,
      batchRetentionDays: 0,
    });
    for (const name of ['RESPONSES_RETENTION_DAYS', 'FILES_RETENTION_DAYS', 'BATCH_RETENTION_DAYS'])
      expect(problems({ [name]: '-1' })[0]).toMatch(new RegExp(`^${name}:`));
  });

  it('AUDIT_RETENTION_DAYS: 0 keeps the audit log forever; a negative value is refused', () => {
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '0' }).auditRetentionDays).toBe(0);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '30' }).auditRetentionDays).toBe(30);
    expect(problems({ AUDIT_RETENTION_DAYS: '-1' })[0]).toMatch(/^AUDIT_RETENTION_DAYS:/);
  });

  it('never echoes secret values in its errors', () => {
    const p = problems({ TOLLGATE_SECRET: 'short-secret-canary' });
    expect(p[0]).toMatch(/^TOLLGATE_SECRET:/);
    expect(p.join('\n')).not.toContain('short-secret-canary');
  });

  it('parses lists, booleans and provider settings', () => {
    const c = loadConfig({
      CORS_ORIGINS: 'https://a.example, https://b.example',
      LOG_BODIES: 'false',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1,10.0.0.0/8',
    });
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.logBodies).toBe(false);
    expect(c.openai).toEqual({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:9999/v1' });
    expect(c.anthropic).toBeUndefined();
    expect(c.webhookAllowHosts).toEqual(['127.0.0.1', '10.0.0.0/8']);
  });

  it('refuses a non-postgres DATABASE_URL without echoing it', () => {
    const p = problems({ DATABASE_URL: 'mysql://u:pw-canary@h/db' });
    expect(p[0]).toMatch(/^DATABASE_URL:/);
    expect(p[0]).not.toContain('pw-canary');
  });
});

describe('the variable list behind `pnpm start --help`', () => {
  it('names exactly the variables the schema reads, each once, each in the README table', () => {
    const listed = configVariables.map((v) => v.name);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...configVariableNames].sort());
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    for (const name of listed) expect(readme).toContain(`\`${name}\``);
  });
});
