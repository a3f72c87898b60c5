import type { Config } from '@tollgate/config';
import { type Logger, pino } from 'pino';

// Field names whose values are credentials wherever they sit: headers, bodies, options, errors.
const secretFields = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'x-api-key',
  'X-Api-Key',
  'cookie',
  'Cookie',
  'set-cookie',
  'password',
  'newPassword',
  'currentPassword',
  'apiKey',
  'api_key',
  'refreshToken',
  'refresh_token',
  'accessToken',
  'access_token',
  'token',
  'secret',
  'webhookSecret',
  'signingSecret',
  'metricsToken',
  'key',
];

const prop = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);
const top = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`);

/** Paths whose values never reach a log line, wherever they appear. */
export const redactPaths: string[] = [
  ...secretFields.map(top),
  ...secretFields.map((f) => `*${prop(f)}`),
  // Nested one level deeper: req.headers.x, err.config.headers.x, body.input.password …
  ...secretFields.map((f) => `*.headers${prop(f)}`),
  ...secretFields.map((f) => `*.body${prop(f)}`),
  ...secretFields.map((f) => `*.input${prop(f)}`),
  ...['openai', 'anthropic'].map((p) => `*.${p}.apiKey`),
];

/** Config values that are secrets: scrubbed from every line even inside free text (errors). */
type SecretSources = Partial<
  Pick<Config, 'openai' | 'anthropic' | 'secret' | 'metricsToken' | 'admin'>
>;

export type LoggerOptions = Pick<Config, 'logLevel' | 'logFormat'> & SecretSources;

const REDACTED = '[redacted]';

// Shapes of credentials Tollgate issues or forwards, caught even in messages and stack traces.
const secretPatterns: readonly RegExp[] = [
  /tg_[A-Za-z0-9_-]{43}/g, // API keys (key-material.ts)
  /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/g, // JWTs
  /\b(Bearer|Basic)\s+[^\s"',\\]+/gi,
  /\bsk-[A-Za-z0-9_-]{16,}/g, // OpenAI / Anthropic style provider keys
];

/** Removes known secret values and credential-shaped strings from one serialized log line. */
export function scrubSecrets(line: string, values: readonly string[]): string {
  let out = line;
  for (const v of values) {
    if (out.includes(v)) out = out.replaceAll(v, REDACTED);
    // The value as it looks inside a JSON string (quotes, backslashes escaped).
    const escaped = JSON.stringify(v).slice(1, -1);
    if (escaped !== v && out.includes(escaped)) out = out.replaceAll(escaped, REDACTED);
  }
  for (const re of secretPatterns) {
    out = out.replace(re, (m) =>
      /^(bearer|basic)\s/i.test(m) ? `${m.split(/\s/)[0]} ${REDACTED}` : REDACTED,
    );
  }
  return out;
}

function secretValues(o: SecretSources): string[] {
  const all = [o.openai?.apiKey, o.anthropic?.apiKey, o.secret, o.metricsToken, o.admin?.password];
  // Very short values would scrub ordinary words; config validation makes real ones long.
  return all.filter((v): v is string => typeof v === 'string' && v.length >= 8);
}

/** The process's one pino logger; `destination` is for tests that capture lines. */
export function createLogger(
  config: LoggerOptions,
  destination?: NodeJS.WritableStream | { write: (s: string) => void },
): Logger {
  const logstash = config.logFormat === 'logstash';
  const values = secretValues(config);
  return pino(
    {
      level: config.logLevel,
      redact: { paths: redactPaths, censor: REDACTED },
      messageKey: logstash ? 'message' : 'msg',
      timestamp: logstash
        ? () => `,"@timestamp":"${new Date().toISOString()}","@version":"1"`
        : pino.stdTimeFunctions.isoTime,
      formatters: logstash ? { level: (label) => ({ level: label }) } : {},
      hooks: { streamWrite: (s) => scrubSecrets(s, values) },
    },
    destination as pino.DestinationStream | undefined,
  );
}

export type { Logger };
