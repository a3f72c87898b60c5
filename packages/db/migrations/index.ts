import type { Migration } from 'kysely/migration';
import * as m0001 from './0001_init.ts';
import * as m0002 from './0002_identity.ts';
import * as m0003 from './0003_gateway.ts';
import * as m0004 from './0004_request_bodies_partitioned.ts';
import * as m0005 from './0005_batches.ts';
import * as m0006 from './0006_spend.ts';
import * as m0007 from './0007_teams_audit.ts';
import * as m0008 from './0008_compat_objects.ts';
import * as m0013 from './0013_provider_connections.ts';
import * as m0019 from './0019_openai_batches.ts';
import * as m0020 from './0020_stored_object_retention.ts';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_identity': m0002,
  '0003_gateway': m0003,
  '0004_request_bodies_partitioned': m0004,
  '0005_batches': m0005,
  '0006_spend': m0006,
  '0007_teams_audit': m0007,
  '0008_compat_objects': m0008,
  '0013_provider_connections': m0013,
  '0019_openai_batches': m0019,
  '0020_stored_object_retention': m0020,
};
