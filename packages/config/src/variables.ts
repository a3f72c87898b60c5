/**
 * Every environment variable Tollgate reads, for `pnpm start --help`: the README's config table in
 * short. config.test.ts checks it names exactly the variables the schema in config.ts validates.
 */
export const configVariables: ReadonlyArray<{ name: string; meaning: string; default: string }> = [
  { name: 'DATABASE_URL', meaning: 'Postgres connection string', default: 'embedded Postgres' },
  {
    name: 'DATABASE_DIRECT_URL',
    meaning: 'Postgres itself when DATABASE_URL is a PgBouncer (LISTEN, locks, jobs)',
    default: 'DATABASE_URL',
  },
  {
    name: 'TOLLGATE_HOME',
    meaning: 'embedded Postgres data and generated dev secrets',
    default: '.tollgate/ in the repo root',
  },
  { name: 'HOST', meaning: 'listen address', default: '127.0.0.1' },
  { name: 'PORT', meaning: 'listen port (0: any free port)', default: '3000' },
  { name: 'WEB_CONCURRENCY', meaning: 'server processes on one port', default: '1' },
  { name: 'WORKER_CONCURRENCY', meaning: 'jobs at once per worker process', default: '10' },
  { name: 'OPENAI_API_KEY', meaning: 'OpenAI key (turns the provider on)', default: 'off' },
  { name: 'OPENAI_BASE_URL', meaning: 'OpenAI-compatible server', default: 'api.openai.com' },
  { name: 'ANTHROPIC_API_KEY', meaning: 'Anthropic key (turns the provider on)', default: 'off' },
  { name: 'ANTHROPIC_BASE_URL', meaning: 'Anthropic API base URL', default: 'api.anthropic.com' },
  { name: 'CORS_ORIGINS', meaning: 'comma-separated allowed browser origins', default: 'none' },
  { name: 'LOG_LEVEL', meaning: 'fatal|error|warn|info|debug|trace|silent', default: 'info' },
  {
    name: 'TOLLGATE_SECRET',
    meaning: '32+ character secret for stored secrets and HMAC',
    default: 'generated into TOLLGATE_HOME',
  },
  { name: 'UPSTREAM_TIMEOUT_MS', meaning: 'whole upstream call limit', default: '600000' },
  { name: 'UPSTREAM_TTFT_TIMEOUT_MS', meaning: 'time to first token', default: '60000' },
  {
    name: 'STREAM_IDLE_TIMEOUT_MS',
    meaning: 'longest gap between stream chunks',
    default: '60000',
  },
  {
    name: 'SHUTDOWN_GRACE_MS',
    meaning: 'SIGTERM: time in-flight requests and streams get',
    default: '25000',
  },
  { name: 'HTTP_HEADERS_TIMEOUT_MS', meaning: 'all request headers within', default: '20000' },
  { name: 'HTTP_REQUEST_TIMEOUT_MS', meaning: 'a whole request body within', default: '300000' },
  { name: 'CACHE_TTL_SECONDS', meaning: 'exact-match cache entry lifetime', default: '3600' },
  { name: 'LOG_FORMAT', meaning: 'json or logstash', default: 'json' },
  {
    name: 'LOG_BODIES',
    meaning: 'store prompt/response bodies in the request log',
    default: 'true',
  },
  { name: 'LOG_RETENTION_DAYS', meaning: 'request-log retention', default: '90' },
  {
    name: 'AUDIT_RETENTION_DAYS',
    meaning: 'audit-log retention in days (0 keeps it forever)',
    default: '365',
  },
  {
    name: 'RESPONSES_RETENTION_DAYS',
    meaning: 'stored /v1/responses retention in days (0 keeps them forever)',
    default: '30',
  },
  {
    name: 'FILES_RETENTION_DAYS',
    meaning: '/v1/files upload retention in days (0 keeps them until deleted)',
    default: '30',
  },
  {
    name: 'BATCH_RETENTION_DAYS',
    meaning: 'days an ended batch and its results are kept (0 keeps them forever)',
    default: '30',
  },
  { name: 'METRICS_TOKEN', meaning: 'bearer token required on /metrics', default: 'public' },
  {
    name: 'BATCH_PROVIDER_CONCURRENCY',
    meaning: 'batch jobs of one provider at once, across all workers',
    default: '4',
  },
  { name: 'WEBHOOK_ALLOW_HOSTS', meaning: 'hosts/CIDRs webhooks may reach', default: 'none' },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    meaning: 'OpenTelemetry collector (OTLP/HTTP) for traces',
    default: 'tracing off',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    meaning: 'OTLP/HTTP encoding: http/protobuf or http/json',
    default: 'http/protobuf',
  },
  { name: 'TOLLGATE_ADMIN_EMAIL', meaning: "first admin's email", default: 'generated' },
  {
    name: 'TOLLGATE_ADMIN_PASSWORD',
    meaning: "first admin's password (12+)",
    default: 'generated',
  },
];
