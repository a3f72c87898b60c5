import { ConfigError, loadConfig, loadDotEnv, withSecret } from '@tollgate/config';
import { createLogger } from '@tollgate/telemetry';
import { firstAdminBanner, prepareDatabase } from './prepare.ts';

// `node apps/server/src/prepare-main.ts`: migrate and bootstrap a database, then exit (the
// Kubernetes migration Job; deploy/k8s). `pnpm start` does the same before it starts anything.
loadDotEnv();
let config: ReturnType<typeof loadConfig>;
try {
  config = withSecret(loadConfig());
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write('tollgate: invalid configuration, nothing done\n');
  for (const line of e.problems) process.stderr.write(`  ${line}\n`);
  process.exit(1);
}
const log = createLogger(config).child({ process: 'prepare' });
if (!config.databaseUrl || !config.secret) {
  log.fatal('DATABASE_URL and TOLLGATE_SECRET are required');
  process.exit(1);
}
const admin = await prepareDatabase({
  config,
  databaseUrl: config.databaseUrl,
  secret: config.secret,
  log,
});
if (admin) process.stdout.write(firstAdminBanner(admin));
log.info('database ready');
