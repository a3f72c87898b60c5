import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The repository root: `.tollgate/` and `.env` live here unless told otherwise. */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

const blankIsUnset = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(blankIsUnset, z.string().optional());
const optionalUrl = z.preprocess(blankIsUnset, z.url().optional());
const millis = (fallback: number) =>
  z.coerce.number().int().min(1).max(86_400_000).default(fallback);
const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  );

const EnvSchema = z.object({
  DATABASE_URL: z.preprocess(
    blankIsUnset,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// connection string')
      .optional(),
  ),
  // PgBouncer in transaction mode breaks LISTEN/NOTIFY, session advisory locks and
  // graphile-worker: those use this URL (Postgres itself) when DATABASE_URL points at a pooler.
  DATABASE_DIRECT_URL: z.preprocess(
    blankIsUnset,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// connection string')
      .optional(),
  ),
  TOLLGATE_HOME: optionalString,
  HOST: z.preprocess(
    blankIsUnset,
    z
      .string()
      .refine((h) => h === 'localhost' || isIP(h) !== 0, 'expected an IP address or localhost')
      .default('127.0.0.1'),
  ),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  WEB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(10),
  BATCH_PROVIDER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
  CORS_ORIGINS: list.pipe(
    z.array(z.url({ message: 'expected comma-separated origins such as https://app.example.com' })),
  ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TOLLGATE_SECRET: z.preprocess(
    blankIsUnset,
    z.string().min(32, 'expected at least 32 characters').optional(),
  ),
  UPSTREAM_TIMEOUT_MS: millis(600_000),
  UPSTREAM_TTFT_TIMEOUT_MS: millis(60_000),
  STREAM_IDLE_TIMEOUT_MS: millis(60_000),
  SHUTDOWN_GRACE_MS: millis(25_000),
  HTTP_HEADERS_TIMEOUT_MS: millis(20_000),
  HTTP_REQUEST_TIMEOUT_MS: millis(300_000),
  CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(31_536_000).default(3600),
  LOG_FORMAT: z.enum(['json', 'logstash']).default('json'),
  LOG_BODIES: z.stringbool().default(true),
  LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(365),
  RESPONSES_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(30),
  FILES_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(30),
  BATCH_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(30),
  METRICS_TOKEN: optionalString,
  WEBHOOK_ALLOW_HOSTS: list,
  // The OpenTelemetry standard variable: OTLP/HTTP traces go to <endpoint>/v1/traces when set.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  // The OpenTelemetry standard variable; grpc is not offered (OTLP/HTTP only).
  OTEL_EXPORTER_OTLP_PROTOCOL: z.preprocess(
    blankIsUnset,
    z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  ),
  TOLLGATE_ADMIN_EMAIL: z.preprocess(blankIsUnset, z.email().optional()),
  TOLLGATE_ADMIN_PASSWORD: z.preprocess(
    blankIsUnset,
    z.string().min(12, 'expected at least 12 characters').optional(),
  ),
});

/** The variable names the schema validates (config.test.ts compares them with variables.ts). */
export const configVariableNames: readonly string[] = Object.keys(EnvSchema.shape);

export type Config = Readonly<{
  databaseUrl: string | undefined;
  /** Postgres without a pooler in between (LISTEN/NOTIFY, advisory locks, graphile-worker). */
  databaseDirectUrl: string | undefined;
  home: string;
  host: string;
  port: number;
  webConcurrency: number;
  workerConcurrency: number;
  /** Batch jobs of one provider running at once, across all workers (one queue each). */
  batchProviderConcurrency: number;
  openai: Readonly<{ apiKey: string; baseUrl: string | undefined }> | undefined;
  anthropic: Readonly<{ apiKey: string; baseUrl: string | undefined }> | undefined;
  corsOrigins: readonly string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFormat: 'json' | 'logstash';
  logBodies: boolean;
  logRetentionDays: number;
  /** Audit-log rows older than this are purged daily; 0 keeps them forever. */
  auditRetentionDays: number;
  /** Stored /v1/responses (`store: true`) live this long after creation; 0 keeps them forever. */
  responsesRetentionDays: number;
  /** /v1/files uploads live this long after upload (OpenAI's `expires_at`); 0: until deleted. */
  filesRetentionDays: number;
  /** Ended batches (items, results, output files) live this long after they end; 0: forever. */
  batchRetentionDays: number;
  secret: string | undefined;
  upstreamTimeoutMs: number;
  upstreamTtftTimeoutMs: number;
  streamIdleTimeoutMs: number;
  /** SIGTERM: how long in-flight requests and streams may take to finish. */
  shutdownGraceMs: number;
  /** Slow-loris bounds: all headers within this, the whole request body within the other. */
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  cacheTtlSeconds: number;
  metricsToken: string | undefined;
  webhookAllowHosts: readonly string[];
  /** OTEL_EXPORTER_OTLP_ENDPOINT; undefined: tracing is off entirely. */
  otlpEndpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_PROTOCOL: the OTLP/HTTP body encoding. */
  otlpProtocol: 'http/protobuf' | 'http/json';
  admin: Readonly<{ email: string | undefined; password: string | undefined }>;
}>;

/** Thrown by loadConfig with one line per bad variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Reads `.env` from the repo root (or `file`) into `process.env` without overriding set values. */
export function loadDotEnv(file = join(repoRoot, '.env')): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

/** Validates the environment into a frozen Config; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? '?');
        const value = env[name];
        // Never echo values of secret-bearing variables back into logs.
        const shown = /KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL/.test(name)
          ? ''
          : ` (got ${JSON.stringify(value)})`;
        return `${name}: ${i.message}${shown}`;
      }),
    );
  }
  const e = parsed.data;
  return deepFreeze({
    databaseUrl: e.DATABASE_URL,
    databaseDirectUrl: e.DATABASE_DIRECT_URL,
    home: resolve(e.TOLLGATE_HOME ?? join(repoRoot, '.tollgate')),
    host: e.HOST,
    port: e.PORT,
    webConcurrency: e.WEB_CONCURRENCY,
    workerConcurrency: e.WORKER_CONCURRENCY,
    batchProviderConcurrency: e.BATCH_PROVIDER_CONCURRENCY,
    openai: e.OPENAI_API_KEY ? { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL } : undefined,
    anthropic: e.ANTHROPIC_API_KEY
      ? { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL }
      : undefined,
    corsOrigins: e.CORS_ORIGINS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    logBodies: e.LOG_BODIES,
    logRetentionDays: e.LOG_RETENTION_DAYS,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    responsesRetentionDays: e.RESPONSES_RETENTION_DAYS,
    filesRetentionDays: e.FILES_RETENTION_DAYS,
    batchRetentionDays: e.BATCH_RETENTION_DAYS,
    secret: e.TOLLGATE_SECRET,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    upstreamTtftTimeoutMs: e.UPSTREAM_TTFT_TIMEOUT_MS,
    streamIdleTimeoutMs: e.STREAM_IDLE_TIMEOUT_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    httpHeadersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
    metricsToken: e.METRICS_TOKEN,
    webhookAllowHosts: e.WEBHOOK_ALLOW_HOSTS,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    otlpProtocol: e.OTEL_EXPORTER_OTLP_PROTOCOL,
    admin: { email: e.TOLLGATE_ADMIN_EMAIL, password: e.TOLLGATE_ADMIN_PASSWORD },
  });
}

/** The environment for a child process this one starts: ours, plus values decided at start. */
export function childEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
