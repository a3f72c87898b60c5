import type { Logger } from '@tollgate/telemetry';
import pg from 'pg';
import type { KeyLimits, KeyScope } from './principal.ts';

/** The Postgres NOTIFY channel every process listens on for credential changes. */
export const AUTH_CHANNEL = 'tollgate_auth';

/** What changed: one key, everything of one user, or the signing key set. */
export type AuthEvent = { k: 'key'; id: string } | { k: 'user'; id: string } | { k: 'signing' };

export type CachedKey = {
  keyId: string;
  userId: string;
  role: 'admin' | 'member';
  scopes: readonly KeyScope[];
  expiresAt: Date | null;
  revoked: boolean;
  disabled: boolean;
  key: KeyLimits;
  cachedAt: number;
};

export type CachedUser = {
  id: string;
  role: 'admin' | 'member';
  disabled: boolean;
  tokenGeneration: number;
  cachedAt: number;
};

/** Opaque to this module: the signing-key service stores its loaded key set here. */
export type SigningCacheSlot = { value: unknown; loadedAt: number };

/**
 * Per-process authentication state: validated API keys and user states cached in memory, kept
 * honest by a dedicated LISTEN connection (a change anywhere drops the entries in every process),
 * and API key last-used times batched into one UPDATE every few seconds.
 */
export type AuthRuntime = {
  keys: Map<string, CachedKey>;
  users: Map<string, CachedUser>;
  signing: SigningCacheSlot;
  /** True while the LISTEN connection is up: only then may cached entries be trusted. Starts it. */
  live: () => boolean;
  /** Bumped on every invalidation: a lookup that started before a bump must not be cached. */
  generation: () => number;
  /** Drops what an event names, in this process (NOTIFY does the same everywhere else). */
  invalidate: (e: AuthEvent) => void;
  /** Records that a key was used; written in batches, never on the request path. */
  touch: (keyId: string, at: Date) => void;
  flush: () => Promise<void>;
  close: () => Promise<void>;
};

/** Upper bound on how long a cached entry is used even if no notification arrives. */
export const AUTH_CACHE_TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;
const FLUSH_EVERY_MS = 5_000;
const RECONNECT_MS = 500;

/** Creates the per-process auth state; the LISTEN connection opens on first use. */
export function createAuthRuntime(pool: pg.Pool, log: Logger): AuthRuntime {
  const keys = new Map<string, CachedKey>();
  const users = new Map<string, CachedUser>();
  const signing: SigningCacheSlot = { value: undefined, loadedAt: 0 };
  let gen = 0;
  let state: 'idle' | 'connecting' | 'up' | 'waiting' | 'closed' = 'idle';
  let client: pg.Client | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  const touched = new Map<string, Date>();
  let flushTimer: NodeJS.Timeout | undefined;

  const clearAll = () => {
    gen++;
    keys.clear();
    users.clear();
    signing.value = undefined;
  };

  const invalidate = (e: AuthEvent) => {
    gen++;
    if (e.k === 'signing') {
      signing.value = undefined;
      return;
    }
    if (e.k === 'user') users.delete(e.id);
    for (const [h, entry] of keys) {
      if (e.k === 'key' ? entry.keyId === e.id : entry.userId === e.id) keys.delete(h);
    }
  };

  const onNotification = (payload: string | undefined) => {
    try {
      const e = JSON.parse(payload ?? '') as AuthEvent;
      if (e.k === 'key' || e.k === 'user' || e.k === 'signing') invalidate(e);
      else clearAll();
    } catch {
      clearAll();
    }
  };

  const down = (c: pg.Client, err?: unknown) => {
    if (client !== c && state !== 'connecting') return;
    client = undefined;
    // While nobody listens, nothing cached can be trusted: drop it and read from the database.
    clearAll();
    c.removeAllListeners('notification');
    void c.end().catch(() => {});
    if (state === 'closed') return;
    if (err) log.warn({ err: String(err) }, 'auth listener connection lost; reconnecting');
    state = 'waiting';
    reconnect = setTimeout(() => {
      reconnect = undefined;
      if (state === 'waiting') state = 'idle';
      start();
    }, RECONNECT_MS);
    reconnect.unref();
  };

  const start = () => {
    if (state !== 'idle') return;
    state = 'connecting';
    const c = new pg.Client({ ...pool.options, application_name: 'tollgate-auth-listener' });
    c.on('error', (err) => down(c, err));
    c.on('end', () => down(c));
    c.on('notification', (msg) => onNotification(msg.payload));
    c.connect()
      .then(() => c.query(`listen ${AUTH_CHANNEL}`))
      .then(() => {
        if (state !== 'connecting') {
          void c.end().catch(() => {});
          return;
        }
        client = c;
        clearAll();
        state = 'up';
      })
      .catch((err) => down(c, err));
  };

  const flush = async () => {
    if (touched.size === 0) return;
    const ids = [...touched.keys()];
    const times = ids.map((id) => touched.get(id) as Date);
    touched.clear();
    try {
      await pool.query(
        `update api_keys k set last_used_at = v.t
           from unnest($1::uuid[], $2::timestamptz[]) as v(id, t)
          where k.id = v.id and (k.last_used_at is null or k.last_used_at < v.t)`,
        [ids, times],
      );
    } catch (err) {
      log.warn({ err: String(err) }, 'could not record API key last-used times');
    }
  };

  return {
    keys,
    users,
    signing,
    live: () => {
      if (state === 'idle') start();
      return state === 'up';
    },
    generation: () => gen,
    invalidate,
    touch: (keyId, at) => {
      if (state === 'closed') return;
      touched.set(keyId, at);
      if (!flushTimer) {
        flushTimer = setInterval(() => void flush(), FLUSH_EVERY_MS);
        flushTimer.unref();
      }
    },
    flush,
    close: async () => {
      const c = client;
      state = 'closed';
      if (reconnect) clearTimeout(reconnect);
      if (flushTimer) clearInterval(flushTimer);
      flushTimer = undefined;
      await flush();
      clearAll();
      client = undefined;
      if (c) await c.end().catch(() => {});
    },
  };
}

/** Adds an entry, keeping the map bounded (oldest insertion goes first). */
export function cacheSet<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MAX_ENTRIES) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
