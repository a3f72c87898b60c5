import type { Config } from '@tollgate/config';
import { type Logger, pino } from 'pino';

/** Paths whose values never reach a log line, wherever they appear. */
export const redactPaths = [
  'authorization',
  'password',
  'apiKey',
  'refreshToken',
  'accessToken',
  'secret',
  'key',
  '*.authorization',
  '*.Authorization',
  '*["x-api-key"]',
  '*.cookie',
  '*["set-cookie"]',
  '*.password',
  '*.apiKey',
  '*.refreshToken',
  '*.accessToken',
  '*.secret',
  '*.key',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
];

export type LoggerOptions = Pick<Config, 'logLevel' | 'logFormat'>;

/** The process's one pino logger; `destination` is for tests that capture lines. */
export function createLogger(
  config: LoggerOptions,
  destination?: NodeJS.WritableStream | { write: (s: string) => void },
): Logger {
  const logstash = config.logFormat === 'logstash';
  return pino(
    {
      level: config.logLevel,
      redact: { paths: redactPaths, censor: '[redacted]' },
      messageKey: logstash ? 'message' : 'msg',
      timestamp: logstash
        ? () => `,"@timestamp":"${new Date().toISOString()}","@version":"1"`
        : pino.stdTimeFunctions.isoTime,
      formatters: logstash ? { level: (label) => ({ level: label }) } : {},
    },
    destination as pino.DestinationStream | undefined,
  );
}

export type { Logger };
