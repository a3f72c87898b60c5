import type { BatchTables } from './schema/batches.ts';
import type { GatewayTables } from './schema/gateway.ts';
import type { IdentityTables } from './schema/identity.ts';
import type { SpendTables } from './schema/spend.ts';
import type { SystemTables } from './schema/system.ts';

/** The whole database as kysely sees it; each domain keeps its tables in `schema/<domain>.ts`. */
export interface DB extends SystemTables, IdentityTables, GatewayTables, BatchTables, SpendTables {}
