import { randomUUID } from 'node:crypto';
import type { Config } from '@tollgate/config';
import type { ConnectionKind } from '@tollgate/providers';
import { type AuditStamp, recordAudit } from '../audit/audit.service.ts';
import { seal } from '../crypto/sealed-box.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import type { Page, PageInput } from '../pagination.ts';
import { pageParams } from '../pagination.ts';
import { checkBaseUrl, type Resolve } from './base-url-guard.ts';
import { CONNECTION_KEY_PURPOSE, invalidateConnections } from './connection-registry.ts';
import {
  type ConnectionRow,
  type ConnectionValues,
  deleteConnectionRow,
  findConnection,
  insertConnection,
  modelsUsingConnection,
  selectConnections,
  updateConnectionRow,
} from './connections.repository.ts';

/** What an admin sees of a connection: never the key, only its first characters. */
export type ConnectionView = {
  id: string;
  name: string;
  kind: ConnectionKind | 'mock';
  baseUrl: string | null;
  keyPrefix: string | null;
  apiVersion: string | null;
  headers: Record<string, string>;
  rpmLimit: number | null;
  tpmLimit: number | null;
  builtIn: boolean;
  createdAt: string;
  updatedAt: string;
};

export type ConnectionInput = {
  kind: ConnectionKind;
  name: string;
  baseUrl: string;
  apiKey: string;
  apiVersion?: string | null | undefined;
  headers?: Record<string, string> | undefined;
  rpmLimit?: number | null | undefined;
  tpmLimit?: number | null | undefined;
};

export type ConnectionPatch = Partial<ConnectionInput>;

/** Names the environment's connections (and the offline mock) own. */
export const RESERVED_CONNECTION_NAMES = ['openai', 'anthropic', 'mock'] as const;

export const isReservedName = (name: string): boolean =>
  (RESERVED_CONNECTION_NAMES as readonly string[]).includes(name);

/**
 * Headers a connection may not set: the credential goes in apiKey (so it is encrypted and never
 * shown), and framing headers belong to the HTTP client.
 */
const FORBIDDEN_HEADERS = new Set([
  'authorization',
  'api-key',
  'x-api-key',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
]);

// Stable ids for the built-ins, so a client can address them like any other connection.
const BUILT_IN_IDS = {
  openai: '00000000-0000-4000-8000-000000000001',
  anthropic: '00000000-0000-4000-8000-000000000002',
} as const;
const EPOCH = new Date(0).toISOString();

/** Enough of a key to recognise it, far too little to use it (none of a short key). */
export function connectionKeyPrefix(key: string): string {
  return key.length >= 20 ? `${key.slice(0, 6)}…` : '…';
}

function builtIns(config: Config): ConnectionView[] {
  const out: ConnectionView[] = [];
  const base = {
    apiVersion: null,
    headers: {},
    rpmLimit: null,
    tpmLimit: null,
    builtIn: true,
    createdAt: EPOCH,
    updatedAt: EPOCH,
  };
  if (config.openai) {
    const url = config.openai.baseUrl ?? 'https://api.openai.com/v1';
    out.push({
      ...base,
      id: BUILT_IN_IDS.openai,
      name: 'openai',
      kind: /^https:\/\/api\.openai\.com\//.test(url) ? 'openai' : 'openai-compatible',
      baseUrl: url,
      keyPrefix: connectionKeyPrefix(config.openai.apiKey),
    });
  }
  if (config.anthropic) {
    out.push({
      ...base,
      id: BUILT_IN_IDS.anthropic,
      name: 'anthropic',
      kind: 'anthropic',
      baseUrl: config.anthropic.baseUrl ?? 'https://api.anthropic.com',
      keyPrefix: connectionKeyPrefix(config.anthropic.apiKey),
    });
  }
  return out;
}

function view(r: ConnectionRow): ConnectionView {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    baseUrl: r.base_url,
    keyPrefix: r.key_prefix,
    apiVersion: r.api_version,
    headers: r.headers,
    rpmLimit: r.rpm_limit,
    tpmLimit: r.tpm_limit,
    builtIn: false,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

type ConnDeps = Pick<Deps, 'db' | 'config'> & { resolveHost?: Resolve };

/** Built-ins first, then the admin's connections newest first; cursor = the last item's id. */
export async function listConnections(
  deps: ConnDeps,
  input: PageInput,
): Promise<Page<ConnectionView>> {
  const { limit, cursor } = pageParams(input);
  const rows = (await selectConnections(deps.db))
    .sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a.id < b.id ? 1 : -1))
    .map(view);
  const all = [...builtIns(deps.config), ...rows];
  let start = 0;
  if (cursor !== undefined) {
    const i = all.findIndex((c) => c.id === cursor);
    if (i < 0) throw new DomainError('bad_request', 'invalid cursor', { param: 'cursor' });
    start = i + 1;
  }
  const items = all.slice(start, start + limit);
  const more = start + limit < all.length;
  return { items, nextCursor: more ? (items.at(-1)?.id ?? null) : null };
}

async function validate(deps: ConnDeps, v: Omit<ConnectionInput, 'apiKey'>): Promise<void> {
  if (isReservedName(v.name)) {
    throw new DomainError(
      'conflict',
      `connection name '${v.name}' is reserved for the built-in connection`,
      { param: 'name' },
    );
  }
  for (const h of Object.keys(v.headers ?? {})) {
    if (FORBIDDEN_HEADERS.has(h.toLowerCase())) {
      throw new DomainError(
        'bad_request',
        `header '${h}' cannot be set on a connection (the key goes in apiKey)`,
        { param: 'headers' },
      );
    }
  }
  const why = await checkBaseUrl(v.baseUrl, deps.resolveHost);
  if (why) throw new DomainError('bad_request', why, { param: 'baseUrl' });
}

function values(id: string, config: Config, v: ConnectionInput): ConnectionValues {
  return {
    name: v.name,
    kind: v.kind,
    baseUrl: v.baseUrl.replace(/\/+$/, ''),
    apiKeyEnc: seal(config.secret, CONNECTION_KEY_PURPOSE, id, v.apiKey),
    keyPrefix: connectionKeyPrefix(v.apiKey),
    apiVersion: v.apiVersion ?? null,
    headers: v.headers ?? {},
    rpmLimit: v.rpmLimit ?? null,
    tpmLimit: v.tpmLimit ?? null,
  };
}

const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === '23505';

/**
 * A connection as its audit row keeps it: the view (never the key) with header values removed,
 * since extra headers may carry an upstream's own tokens.
 */
function auditView(v: ConnectionView) {
  return {
    ...v,
    headers: Object.fromEntries(Object.keys(v.headers).map((k) => [k, '[redacted]'])),
  };
}

function builtInRefusal(id: string): void {
  if (Object.values(BUILT_IN_IDS).includes(id as never)) {
    throw new DomainError(
      'bad_request',
      'built-in connections come from OPENAI_* / ANTHROPIC_* and are changed there',
      { param: 'id' },
    );
  }
}

/** Creates a connection; its key is stored encrypted and never returned. */
export async function createConnection(
  deps: ConnDeps,
  input: ConnectionInput,
  audit?: AuditStamp,
): Promise<ConnectionView> {
  await validate(deps, input);
  const id = randomUUID();
  try {
    const created = await deps.db.transaction().execute(async (trx) => {
      const after = view(await insertConnection(trx, id, values(id, deps.config, input)));
      await recordAudit(trx, audit, {
        targetType: 'provider_connection',
        targetId: id,
        before: null,
        after: auditView(after),
      });
      return after;
    });
    invalidateConnections(deps);
    return created;
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new DomainError('conflict', `a connection named '${input.name}' exists`, {
        param: 'name',
      });
    }
    throw e;
  }
}

/** Changes a connection; a key left out stays as it is. */
export async function updateConnection(
  deps: ConnDeps,
  id: string,
  patch: ConnectionPatch,
  audit?: AuditStamp,
): Promise<ConnectionView> {
  builtInRefusal(id);
  const cur = await findConnection(deps.db, id);
  if (!cur) throw new DomainError('not_found', 'connection not found');
  const next = {
    kind: patch.kind ?? cur.kind,
    name: patch.name ?? cur.name,
    baseUrl: patch.baseUrl ?? cur.base_url,
    apiVersion: patch.apiVersion !== undefined ? patch.apiVersion : cur.api_version,
    headers: patch.headers ?? cur.headers,
    rpmLimit: patch.rpmLimit !== undefined ? patch.rpmLimit : cur.rpm_limit,
    tpmLimit: patch.tpmLimit !== undefined ? patch.tpmLimit : cur.tpm_limit,
  };
  if (next.name !== cur.name && (await modelsUsingConnection(deps.db, cur.name)).length > 0) {
    throw new DomainError(
      'conflict',
      'models route to this connection by name: rename them first',
      {
        param: 'name',
      },
    );
  }
  await validate(deps, next);
  const v =
    patch.apiKey !== undefined
      ? values(id, deps.config, { ...next, apiKey: patch.apiKey })
      : {
          ...values(id, deps.config, { ...next, apiKey: '' }),
          apiKeyEnc: cur.api_key_enc,
          keyPrefix: cur.key_prefix,
        };
  try {
    const updated = await deps.db.transaction().execute(async (trx) => {
      const row = await updateConnectionRow(trx, id, v);
      if (!row) throw new DomainError('not_found', 'connection not found');
      const after = view(row);
      await recordAudit(trx, audit, {
        targetType: 'provider_connection',
        targetId: id,
        before: auditView(view(cur)),
        after: auditView(after),
      });
      return after;
    });
    invalidateConnections(deps);
    return updated;
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new DomainError('conflict', `a connection named '${next.name}' exists`, {
        param: 'name',
      });
    }
    throw e;
  }
}

/** Deletes a connection no catalog model routes to. */
export async function deleteConnection(
  deps: ConnDeps,
  id: string,
  audit?: AuditStamp,
): Promise<ConnectionView> {
  builtInRefusal(id);
  const cur = await findConnection(deps.db, id);
  if (!cur) throw new DomainError('not_found', 'connection not found');
  const users = await modelsUsingConnection(deps.db, cur.name);
  if (users.length > 0) {
    throw new DomainError(
      'conflict',
      `models route to this connection: ${users.slice(0, 5).join(', ')}`,
      { param: 'id' },
    );
  }
  const deleted = await deps.db.transaction().execute(async (trx) => {
    const row = await deleteConnectionRow(trx, id);
    if (!row) throw new DomainError('not_found', 'connection not found');
    const before = view(row);
    await recordAudit(trx, audit, {
      targetType: 'provider_connection',
      targetId: id,
      before: auditView(before),
      after: null,
    });
    return before;
  });
  invalidateConnections(deps);
  return deleted;
}
