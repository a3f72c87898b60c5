import { loadConfig, withSecret } from '@tollgate/config';
import { createLogger } from '@tollgate/telemetry';
import { configOrExit } from './config-or-exit.ts';
import { firstAdminBanner, prepareDatabase } from './prepare.ts';

// `node apps/server/src/prepare-main.ts`: migrate and bootstrap a database, then exit (the
// Kubernetes migration Job; deploy/k8s). `pnpm start` does the same before it starts anything.
const config = configOrExit('nothing done', () => withSecret(loadConfig()));
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
