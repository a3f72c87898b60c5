import { describe, expect, it } from 'vitest';
import { createLogger, type LoggerOptions, scrubSecrets } from './logger.ts';

function capture(opts: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const log = createLogger(
    { logLevel: 'debug', logFormat: 'json', ...opts },
    { write: (s: string) => void lines.push(s) },
  );
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const apiKey = `tg_${'A1b2C3d4E5'.repeat(4)}xyz`;
const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyLWNhbmFyeSJ9.c2lnbmF0dXJlLWNhbmFyeQ';

describe('createLogger', () => {
  it('emits logstash field names with a string level', () => {
    const { log, parsed } = capture({ logFormat: 'logstash' });
    log.warn({ route: '/healthz' }, 'hello');
    const [line] = parsed();
    expect(line).toMatchObject({
      '@version': '1',
      message: 'hello',
      level: 'warn',
      route: '/healthz',
    });
    expect(new Date(String(line?.['@timestamp'])).toISOString()).toBe(line?.['@timestamp']);
    expect(line).not.toHaveProperty('msg');
  });

  it('keeps pino JSON (numeric level, msg) by default', () => {
    const { log, parsed } = capture();
    log.info('plain');
    expect(parsed()[0]).toMatchObject({ level: 30, msg: 'plain' });
  });

  it('redacts credentials in headers, bodies and nested objects', () => {
    const { log, lines } = capture();
    log.info(
      {
        req: {
          headers: {
            authorization: 'Bearer header-canary-1',
            'x-api-key': 'xapikey-canary-2',
            cookie: 'session=cookie-canary-3',
          },
          body: { email: 'a@b.c', password: 'password-canary-4', refreshToken: 'refresh-canary-5' },
        },
        webhook: { secret: 'webhook-canary-6' },
        input: { newPassword: 'newpw-canary-7' },
        provider: { apiKey: 'provider-canary-8' },
        accessToken: 'access-canary-9',
      },
      'request',
    );
    const out = lines.join('');
    for (let i = 1; i <= 9; i++) expect(out).not.toMatch(new RegExp(`canary-${i}`));
    expect(out).toContain('a@b.c');
    expect(out).toContain('[redacted]');
  });

  it('scrubs configured secrets and credential shapes from free text and errors', () => {
    const { log, lines } = capture({
      openai: { apiKey: 'sk-openai-provider-canary-0001', baseUrl: undefined },
      anthropic: { apiKey: 'anthropic "quoted" canary\\0002', baseUrl: undefined },
      secret: 'tollgate-secret-canary-0123456789abcdef',
      metricsToken: 'metrics-token-canary-0003',
      admin: { email: 'admin@example.test', password: 'admin-password-canary-0004' },
    });
    log.error(
      {
        err: new Error(
          `upstream refused sk-openai-provider-canary-0001; key ${apiKey}; token ${jwt}; anthropic "quoted" canary\\0002`,
        ),
        detail: 'Authorization: Bearer some-opaque-canary-0005 and metrics-token-canary-0003',
      },
      'call failed with tollgate-secret-canary-0123456789abcdef admin-password-canary-0004',
    );
    const out = lines.join('');
    for (const canary of [
      'provider-canary-0001',
      'canary\\\\0002',
      'quoted\\" canary',
      'opaque-canary-0005',
      'metrics-token-canary-0003',
      'tollgate-secret-canary',
      'admin-password-canary',
      apiKey,
      jwt,
    ]) {
      expect(out).not.toContain(canary);
    }
    expect(out).toContain('upstream refused');
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ level: 50 });
  });
});

describe('scrubSecrets', () => {
  it('leaves ordinary text alone', () => {
    const line = '{"msg":"request","route":"/api/keys/{id}","status":200}';
    expect(scrubSecrets(line, ['never-present-value'])).toBe(line);
  });
});
