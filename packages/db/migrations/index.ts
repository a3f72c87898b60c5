import type { Migration } from 'kysely/migration';
import * as m0001 from './0001_init.ts';
import * as m0002 from './0002_identity.ts';
import * as m0003 from './0003_gateway.ts';
import * as m0004 from './0004_request_bodies_partitioned.ts';
import * as m0005 from './0005_batches.ts';
import * as m0006 from './0006_spend.ts';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_identity': m0002,
  '0003_gateway': m0003,
  '0004_request_bodies_partitioned': m0004,
  '0005_batches': m0005,
  '0006_spend': m0006,
};
