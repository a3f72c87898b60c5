import { createHash } from 'node:crypto';
import type { DB } from '@tollgate/db';
import type { ChatRequest, FinishReason, ToolCall, Usage } from '@tollgate/providers';
import type { Logger } from '@tollgate/telemetry';
import { type Kysely, sql } from 'kysely';
import type { Clock } from '../deps.ts';

/** A finished chat answer as the cache keeps it; a stream replays it as events. */
export type CachedChat = {
  model: string;
  provider: string;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  stopSequence?: string;
  usage: Usage;
};

export type ResponseCache = {
  /** The owner's live entry for this key: process-local layer first, then Postgres. */
  get: (ownerId: string, key: Buffer) => Promise<CachedChat | undefined>;
  /** Stores in the background (never on the caller's path); TTL CACHE_TTL_SECONDS. */
  put: (ownerId: string, key: Buffer, value: CachedChat) => void;
  /** Waits for the writes started so far (tests, shutdown). */
  flush: () => Promise<void>;
  /** Forgets the process-local layer (tests that expire entries in Postgres). */
  clearLocal: () => void;
};

/** Keys in a canonical order, so equal requests serialize equally whatever their field order. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/**
 * The exact-match key of a chat request: SHA-256 of its model, messages and every parameter that
 * shapes the answer, canonicalized. `user` (an end-user id for abuse tracking) does not count.
 * The model is the public name asked for: an alias and its target are separate entries.
 */
export function chatCacheKey(input: ChatRequest): Buffer {
  // `stream` (a surface may pass stream: false through) does not shape the answer either, nor do
  // the upstream headers (a traceparent differs on every traced request).
  const {
    user: _user,
    stream: _stream,
    headers: _headers,
    ...shaping
  } = input as ChatRequest & { stream?: unknown };
  return createHash('sha256')
    .update(JSON.stringify(canonical(shaping)))
    .digest();
}

const LOCAL_MAX = 2_000;

/** The exact-match response cache: Postgres (shared by every process) behind a small local layer. */
export function createResponseCache(opts: {
  db: Kysely<DB>;
  log: Logger;
  clock: Clock;
  ttlSeconds: number;
}): ResponseCache {
  const { db, log, clock } = opts;
  const local = new Map<string, { value: CachedChat; expiresMs: number }>();
  const writes = new Set<Promise<void>>();

  const localKey = (ownerId: string, key: Buffer) => `${ownerId}:${key.toString('base64url')}`;

  function remember(k: string, value: CachedChat, expiresMs: number) {
    if (local.size >= LOCAL_MAX) {
      // Oldest first (insertion order): drop a tenth at once.
      let n = LOCAL_MAX / 10;
      for (const old of local.keys()) {
        local.delete(old);
        if (--n <= 0) break;
      }
    }
    local.set(k, { value, expiresMs });
  }

  return {
    async get(ownerId, key) {
      const nowMs = clock.now().getTime();
      const k = localKey(ownerId, key);
      const hit = local.get(k);
      if (hit !== undefined) {
        if (hit.expiresMs > nowMs) return hit.value;
        local.delete(k);
      }
      const row = await db
        .selectFrom('response_cache')
        .select(['response', 'expires_at'])
        .where('owner_id', '=', ownerId)
        .where('cache_key', '=', key)
        .where('expires_at', '>', clock.now())
        .executeTakeFirst();
      if (!row) return undefined;
      const value = row.response as CachedChat;
      remember(k, value, row.expires_at.getTime());
      return value;
    },
    put(ownerId, key, value) {
      const expires = new Date(clock.now().getTime() + opts.ttlSeconds * 1000);
      remember(localKey(ownerId, key), value, expires.getTime());
      const json = JSON.stringify(value);
      const p = db
        .insertInto('response_cache')
        .values({
          owner_id: ownerId,
          cache_key: key,
          model: value.model,
          response: json,
          expires_at: expires,
        })
        .onConflict((oc) =>
          oc.columns(['owner_id', 'cache_key']).doUpdateSet({
            response: json,
            model: value.model,
            created_at: sql`now()`,
            expires_at: expires,
          }),
        )
        .execute()
        .then(
          () => {},
          (err) => log.warn({ err: String(err) }, 'could not store a cache entry'),
        )
        .finally(() => writes.delete(p));
      writes.add(p);
    },
    flush: async () => {
      await Promise.all([...writes]);
    },
    clearLocal: () => local.clear(),
  };
}
