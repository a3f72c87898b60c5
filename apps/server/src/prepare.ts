import type { Config } from '@tollgate/config';
import { bootstrapFirstAdmin, ensureSigningKey, type FirstAdmin, seedModels } from '@tollgate/core';
import { createDb, createPool, migrate } from '@tollgate/db';
import type { Logger } from '@tollgate/telemetry';

/**
 * Everything a database needs before servers and workers use it: migrations (under an advisory
 * lock, so two instances starting at once migrate once), the first admin on an empty database,
 * the JWT signing key, the model catalog's seed rows. Idempotent. Runs on the direct URL when
 * one is set: a session advisory lock does not survive PgBouncer's transaction mode.
 */
export async function prepareDatabase(opts: {
  config: Config;
  databaseUrl: string;
  secret: string;
  log: Logger;
}): Promise<FirstAdmin | null> {
  const { config, log } = opts;
  const pool = createPool(config.databaseDirectUrl ?? opts.databaseUrl, {
    max: 2,
    applicationName: 'tollgate-prepare',
    onError: (err) => log.warn({ err: err.message }, 'database connection error'),
  });
  try {
    const applied = await migrate(pool);
    if (applied.length > 0)
      log.info({ migrations: applied }, `applied ${applied.length} migrations`);
    const deps = { db: createDb(pool), config };
    const admin = await bootstrapFirstAdmin(deps);
    if (admin) log.info({ email: admin.email }, 'first start: created the admin user');
    // The JWT signing key pair, private half encrypted with TOLLGATE_SECRET, made on first start.
    await ensureSigningKey({ db: deps.db, config: { ...config, secret: opts.secret } });
    // The mock models always; a configured provider's current models (existing rows kept).
    const seeded = await seedModels(deps);
    if (seeded > 0) log.info({ added: seeded }, 'seeded the model catalog');
    return admin;
  } finally {
    await pool.end();
  }
}

/** The first-start banner: shown once, the password and key are stored only as hashes. */
export function firstAdminBanner(admin: FirstAdmin): string {
  return `${[
    '',
    'Tollgate first start: an admin user was created. Save these now; they are not shown again.',
    `admin email: ${admin.email}`,
    `admin password: ${admin.password}`,
    `admin api key: ${admin.apiKey}`,
    '',
  ].join('\n')}\n`;
}
