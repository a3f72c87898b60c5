import type { DB } from '@tollgate/db';
import type { Usage } from '@tollgate/providers';
import type { Logger } from '@tollgate/telemetry';
import { type Kysely, sql } from 'kysely';
import type { Surface } from '../gateway/gateway.types.ts';
import { type JsonbArrayBuilder, jsonbArrayBuilder } from './jsonb-array.ts';

export type RequestStatus = 'ok' | 'error' | 'aborted' | 'rejected';

/** Per-MTok prices as decimal strings; null = unpriced (cost stays null). */
export type ModelPrices = {
  input: string | null;
  output: string | null;
  cachedInput: string | null;
  cacheWrite: string | null;
};

/** One call, as the gateway hands it over; cost is computed in SQL from tokens × prices. */
export type RequestLogEntry = {
  id: string;
  requestId: string;
  userId: string;
  keyId: string | null;
  batchItemId: string | null;
  model: string;
  provider: string;
  upstreamModel: string;
  status: RequestStatus;
  errorCode: string | null;
  latencyMs: number;
  ttftMs: number | null;
  usage: Usage;
  usageEstimated: boolean;
  cacheHit: boolean;
  /** Which surface took the call (the gateway always sets it). */
  surface?: Surface | undefined;
  createdAt: Date;
  prices: ModelPrices;
  /** Omitted when bodies are not logged (LOG_BODIES=false); a key with log_bodies=false drops them at write. */
  bodies?: { request: unknown; response: unknown } | undefined;
};

export type RequestLogWriter = {
  /**
   * Never blocks and never throws: the row is buffered and written in the background. The entry
   * (bodies included) is the writer's from then on: it is serialized after the current I/O, so
   * the caller must not change it afterwards.
   */
  record: (entry: RequestLogEntry) => void;
  /** Writes everything buffered so far (tests, shutdown). */
  flush: () => Promise<void>;
  /** Stops the timer and flushes; later records are dropped. */
  close: () => Promise<void>;
  /** Rows waiting in memory (for tests and metrics). */
  pending: () => number;
};

export type RequestLogWriterOptions = {
  db: Kysely<DB>;
  log: Logger;
  intervalMs?: number;
  batchSize?: number;
  /** Beyond this many waiting rows new ones are dropped (counted, warned): memory stays bounded. */
  maxBuffered?: number;
};

const NO_PARTITION = '23514';

function monthsBetween(a: Date, b: Date): number {
  return (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth());
}

/**
 * Rows waiting to be written, already serialized into off-heap jsonb arrays (jsonb-array.ts: why),
 * one for request_logs and one for request_bodies. A batch closes at `batchSize` rows.
 */
type Batch = {
  meta: JsonbArrayBuilder;
  bodies: JsonbArrayBuilder;
  rows: number;
  /** Oldest and newest created_at (ms): the partitions a failed insert may need. */
  minMs: number;
  maxMs: number;
};

function emptyBatch(reuse?: Batch): Batch {
  reuse?.meta.reset();
  reuse?.bodies.reset();
  return {
    meta: reuse?.meta ?? jsonbArrayBuilder(),
    bodies: reuse?.bodies ?? jsonbArrayBuilder(),
    rows: 0,
    minMs: Number.POSITIVE_INFINITY,
    maxMs: 0,
  };
}

// Escapes that are valid JSON but that Postgres' jsonb refuses: one such body would fail its whole
// batch on every retry. JSON.stringify writes NUL and lone surrogates exactly like this.
const JSONB_REFUSES = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i;

const jsonbSafe = (_key: string, v: unknown) =>
  typeof v === 'string' ? v.replaceAll('\0', '\uFFFD').toWellFormed() : v;

/**
 * JSON text of a body for jsonb: NUL characters and lone surrogates become U+FFFD (a second,
 * slower pass only when the text has them); a body JSON cannot represent (a cycle, a BigInt) is
 * logged as null.
 */
function bodyJson(value: unknown): string {
  try {
    const json = JSON.stringify(value ?? null) ?? 'null';
    // includes() first: a plain scan, where the regex costs more on every body.
    return json.includes('\\u') && JSONB_REFUSES.test(json)
      ? (JSON.stringify(value, jsonbSafe) ?? 'null')
      : json;
  } catch {
    return 'null';
  }
}

function appendRow(batch: Batch, r: RequestLogEntry): void {
  const createdAt = r.createdAt.toISOString();
  const meta = JSON.stringify({
    id: r.id,
    request_id: r.requestId,
    user_id: r.userId,
    key_id: r.keyId,
    batch_item_id: r.batchItemId,
    model: r.model,
    provider: r.provider,
    upstream_model: r.upstreamModel,
    status: r.status,
    error_code: r.errorCode,
    latency_ms: Math.max(0, Math.round(r.latencyMs)),
    ttft_ms: r.ttftMs === null ? null : Math.max(0, Math.round(r.ttftMs)),
    input_tokens: r.usage.inputTokens,
    cached_input_tokens: r.usage.cachedInputTokens,
    cache_write_tokens: r.usage.cacheWriteTokens,
    output_tokens: r.usage.outputTokens,
    reasoning_tokens: r.usage.reasoningTokens,
    usage_estimated: r.usageEstimated,
    cache_hit: r.cacheHit,
    surface: r.surface ?? null,
    created_at: createdAt,
    // Prices travel as strings and are cast to numeric in SQL: cost never touches a float.
    p_in: r.prices.input,
    p_out: r.prices.output,
    p_cached: r.prices.cachedInput,
    p_write: r.prices.cacheWrite,
  });
  batch.meta.push(meta);
  if (r.bodies !== undefined) {
    batch.bodies.push(
      `{"log_id":${JSON.stringify(r.id)},"request_id":${JSON.stringify(r.requestId)},` +
        `"key_id":${JSON.stringify(r.keyId)},"created_at":"${createdAt}",` +
        `"request":${bodyJson(r.bodies.request)},"response":${bodyJson(r.bodies.response)}}`,
    );
  }
  const ms = r.createdAt.getTime();
  batch.minMs = Math.min(batch.minMs, ms);
  batch.maxMs = Math.max(batch.maxMs, ms);
  batch.rows++;
}

async function insertBatch(db: Kysely<DB>, batch: Batch): Promise<void> {
  await db.transaction().execute((trx) => insertRows(trx, batch));
}

/** The inserts of one batch, in the caller's transaction. */
async function insertRows(trx: Kysely<DB>, batch: Batch): Promise<void> {
  const meta = batch.meta.bytes();
  // Cached reads and cache writes are parts of input_tokens, billed at their own price when the
  // model has one, else at the input price; reasoning is part of output. Refusals and cache
  // hits cost 0.
  await sql`
    insert into request_logs (id, request_id, user_id, key_id, batch_item_id, model, provider,
      upstream_model, status, error_code, latency_ms, ttft_ms, input_tokens, cached_input_tokens,
      cache_write_tokens, output_tokens, reasoning_tokens, usage_estimated, cost_usd, cache_hit,
      surface, created_at)
    select v.id, v.request_id, v.user_id, v.key_id, v.batch_item_id, v.model, v.provider,
      v.upstream_model, v.status, v.error_code, v.latency_ms, v.ttft_ms, v.input_tokens,
      v.cached_input_tokens, v.cache_write_tokens, v.output_tokens, v.reasoning_tokens,
      v.usage_estimated,
      case
        when v.status = 'rejected' or v.cache_hit then 0
        when v.p_in is null or v.p_out is null then null
        else (
          greatest(v.input_tokens - v.cached_input_tokens - v.cache_write_tokens, 0)::numeric * v.p_in
          + v.cached_input_tokens::numeric * coalesce(v.p_cached, v.p_in)
          + v.cache_write_tokens::numeric * coalesce(v.p_write, v.p_in)
          + v.output_tokens::numeric * v.p_out
        ) / 1000000
      end,
      v.cache_hit, v.surface, v.created_at
    from jsonb_to_recordset(${meta}::jsonb) as v(id uuid, request_id text, user_id uuid,
      key_id uuid, batch_item_id text, model text, provider text, upstream_model text,
      status text, error_code text, latency_ms integer, ttft_ms integer, input_tokens integer,
      cached_input_tokens integer, cache_write_tokens integer, output_tokens integer,
      reasoning_tokens integer, usage_estimated boolean, cache_hit boolean, surface text,
      created_at timestamptz, p_in numeric, p_out numeric, p_cached numeric, p_write numeric)
    on conflict do nothing`.execute(trx);
  if (batch.bodies.length > 0) {
    await sql`
      insert into request_bodies (log_id, request_id, request, response, created_at)
      select v.log_id, v.request_id, v.request, v.response, v.created_at
      from jsonb_to_recordset(${batch.bodies.bytes()}::jsonb) as v(log_id uuid,
        request_id text, key_id uuid, request jsonb, response jsonb, created_at timestamptz)
      where not exists (
        select 1 from api_keys k where k.id = v.key_id and k.log_bodies = false)
      on conflict do nothing`.execute(trx);
  }
}

/**
 * Writes entries now, in the caller's transaction (batch items: the log row commits together
 * with the item's result, or not at all). Throws on a missing partition (SQLSTATE 23514): the
 * caller rolls back, calls `ensurePartitions` and tries again.
 */
export async function writeRequestLogEntries(
  trx: Kysely<DB>,
  entries: readonly RequestLogEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  const batch = emptyBatch();
  for (const e of entries) appendRow(batch, e);
  await insertRows(trx, batch);
}

/** Creates the monthly partitions the rows need (a row dated in a month nobody prepared). */
export async function ensurePartitions(
  db: Kysely<DB>,
  since: Date,
  months: number,
): Promise<number> {
  const r = await sql<{ made: number }>`
    select tollgate_ensure_request_log_partitions(${since.toISOString()}::timestamptz, ${months}::int) as made`.execute(
    db,
  );
  return r.rows[0]?.made ?? 0;
}

async function writeBatch(db: Kysely<DB>, batch: Batch): Promise<void> {
  try {
    await insertBatch(db, batch);
  } catch (err) {
    if ((err as { code?: string }).code !== NO_PARTITION) throw err;
    const min = new Date(batch.minMs);
    await ensurePartitions(db, min, monthsBetween(min, new Date(batch.maxMs)));
    await insertBatch(db, batch);
  }
}

/**
 * The request log off the critical path: rows wait in memory and are written every `intervalMs`
 * (or at once when `batchSize` are waiting) with one multi-row insert. A slow or down database
 * only grows the buffer, up to `maxBuffered`, never the latency of a request.
 */
export function createRequestLogWriter(opts: RequestLogWriterOptions): RequestLogWriter {
  const intervalMs = opts.intervalMs ?? 250;
  const batchSize = opts.batchSize ?? 500;
  const maxBuffered = opts.maxBuffered ?? 20_000;
  /** Oldest first; rows are appended to the last one until it holds `batchSize`. */
  let batches: Batch[] = [];
  let buffered = 0;
  /** Written batches whose memory the next ones reuse (jsonb-array.ts: why). */
  const spare: Batch[] = [];
  const newBatch = () => emptyBatch(spare.pop());
  let recorded: RequestLogEntry[] = [];
  let serializeScheduled = false;
  let inFlight: Promise<void> | null = null;
  let closed = false;
  let dropped = 0;
  let kicked = false;

  const writeOnce = async (): Promise<void> => {
    const batch = batches.shift();
    if (!batch) return;
    try {
      await writeBatch(opts.db, batch);
      buffered -= batch.rows;
      if (spare.length < 4) spare.push(batch);
    } catch (err) {
      // Keep the rows for the next tick (record() keeps the total within maxBuffered).
      batches.unshift(batch);
      opts.log.warn(
        { err: String((err as Error).message ?? err), rows: batch.rows, dropped },
        'request log write failed; will retry',
      );
      throw err;
    }
  };

  /**
   * One writer at a time; resolves when the buffer as of now is written (or a write failed).
   * Only the batches waiting when it starts: rows that arrive meanwhile go into a new batch for
   * the next tick. Writing until the buffer was empty degenerated, under steady traffic, into one
   * insert of 1–3 rows per request (each insert lasts ~2 ms): ~100 µs of CPU per request at c=1.
   */
  const drain = (): Promise<void> => {
    if (inFlight) return inFlight.then(drain);
    serializeRecorded();
    if (buffered === 0) return Promise.resolve();
    inFlight = (async () => {
      try {
        let due = batches.length;
        // Later rows start a batch of their own.
        if ((batches.at(-1)?.rows ?? 0) > 0) batches.push(newBatch());
        while (due-- > 0) await writeOnce();
      } catch {
        // logged in writeOnce; the timer retries
      } finally {
        batches = batches.filter((b) => b.rows > 0);
        inFlight = null;
      }
    })();
    return inFlight;
  };

  /**
   * Rows are serialized after the current I/O callbacks (setImmediate), not in record(): the
   * caller's response is written first, which keeps ~10–20 µs of serialization off every call's
   * latency. Entries wait here one event-loop turn at most (too briefly to be promoted).
   */
  function serializeRecorded(): void {
    serializeScheduled = false;
    const entries = recorded;
    recorded = [];
    for (const entry of entries) {
      let batch = batches.at(-1);
      if (!batch || batch.rows >= batchSize) {
        batch = newBatch();
        batches.push(batch);
      }
      try {
        appendRow(batch, entry);
      } catch (err) {
        // Never throw out of an immediate: the row is lost, counted and said once per 1000.
        buffered--;
        dropped++;
        if (dropped === 1 || dropped % 1000 === 0) {
          opts.log.warn({ err: String(err), dropped }, 'request log row could not be serialized');
        }
        continue;
      }
      if (batch.rows >= batchSize && !inFlight && !kicked) {
        kicked = true;
        setImmediate(() => {
          kicked = false;
          void drain();
        });
      }
    }
  }

  const timer = setInterval(() => {
    if (!inFlight && buffered > 0) void drain();
  }, intervalMs);
  timer.unref();

  return {
    record(entry) {
      if (closed) return;
      if (buffered >= maxBuffered) {
        dropped++;
        if (dropped === 1 || dropped % 1000 === 0) {
          opts.log.warn({ dropped }, 'request log buffer full; dropping rows');
        }
        return;
      }
      buffered++;
      recorded.push(entry);
      if (!serializeScheduled) {
        serializeScheduled = true;
        setImmediate(serializeRecorded);
      }
    },
    flush: () => drain(),
    async close() {
      closed = true;
      clearInterval(timer);
      await drain();
    },
    pending: () => buffered,
  };
}
