import type { DB } from '@tollgate/db';
import { createConnectionProvider, type Provider } from '@tollgate/providers';
import type { Kysely } from 'kysely';
import { type SealPurpose, unseal } from '../crypto/sealed-box.ts';
import type { Deps } from '../deps.ts';
import { type ConnectionRow, selectConnections } from './connections.repository.ts';

/** The purpose the connection keys are sealed under (crypto/sealed-box.ts). */
export const CONNECTION_KEY_PURPOSE: SealPurpose = {
  info: 'provider-connection-key-encryption/v1',
  what: 'provider connection key',
};

/** A connection the gateway can call: its client, its label values and its quotas. */
export type LiveConnection = {
  id: string | null;
  name: string;
  /** The `provider` value of request-log rows and metrics: the wire it speaks. */
  providerLabel: string;
  provider: Provider;
  rpmLimit: number | null;
  tpmLimit: number | null;
};

type Loaded = { at: number; connections: Promise<Map<string, LiveConnection>> };

/**
 * Like the catalog: read at most every CONNECTIONS_TTL_MS per process (and per database), dropped
 * at once by this process's writes; other processes see a change within the TTL. Clients are kept
 * across reloads while a row is unchanged, so their keep-alive sockets survive.
 */
export const CONNECTIONS_TTL_MS = 5_000;
const loaded = new WeakMap<Kysely<DB>, Loaded>();
const clients = new WeakMap<Kysely<DB>, Map<string, { version: string; provider: Provider }>>();

type RegistryDeps = Pick<Deps, 'db' | 'config' | 'providers' | 'log'>;

function clientFor(deps: RegistryDeps, r: ConnectionRow): Provider {
  let byId = clients.get(deps.db);
  if (!byId) {
    byId = new Map();
    clients.set(deps.db, byId);
  }
  const version = r.updated_at.toISOString();
  const hit = byId.get(r.id);
  if (hit?.version === version) return hit.provider;
  const provider = createConnectionProvider({
    kind: r.kind,
    baseUrl: r.base_url,
    apiKey: unseal(deps.config.secret, CONNECTION_KEY_PURPOSE, r.id, r.api_key_enc),
    apiVersion: r.api_version,
    headers: r.headers,
    upstreamTimeoutMs: deps.config.upstreamTimeoutMs,
  });
  byId.set(r.id, { version, provider });
  return provider;
}

async function load(deps: RegistryDeps): Promise<Map<string, LiveConnection>> {
  const out = new Map<string, LiveConnection>();
  // The environment's providers keep their names: `mock`, and `openai`/`anthropic` when configured.
  for (const [name, provider] of Object.entries(deps.providers)) {
    if (provider) {
      out.set(name, {
        id: null,
        name,
        providerLabel: name,
        provider,
        rpmLimit: null,
        tpmLimit: null,
      });
    }
  }
  for (const r of await selectConnections(deps.db)) {
    let provider: Provider;
    try {
      provider = clientFor(deps, r);
    } catch (err) {
      // A key sealed under another TOLLGATE_SECRET: that connection is off, the others work.
      deps.log.error({ connection: r.name, err: (err as Error).message }, 'connection unusable');
      continue;
    }
    out.set(r.name, {
      id: r.id,
      name: r.name,
      providerLabel: r.kind,
      provider,
      rpmLimit: r.rpm_limit,
      tpmLimit: r.tpm_limit,
    });
  }
  return out;
}

/** Connection name → a callable connection (built-ins included). */
export function getConnections(deps: RegistryDeps): Promise<Map<string, LiveConnection>> {
  const now = Date.now();
  const hit = loaded.get(deps.db);
  if (hit && now - hit.at < CONNECTIONS_TTL_MS) return hit.connections;
  const connections = load(deps);
  loaded.set(deps.db, { at: now, connections });
  connections.catch(() => loaded.delete(deps.db));
  return connections;
}

export function invalidateConnections(deps: Pick<Deps, 'db'>): void {
  loaded.delete(deps.db);
}
