/**
 * A JSON array assembled in memory outside the JS heap, as jsonb's binary input: a version byte
 * (1) then the JSON text. node-postgres sends a Buffer parameter in binary format, so
 * `${builder.bytes()}::jsonb` reaches Postgres' jsonb_recv with no string in between.
 *
 * Why: the request log holds every row until its batch is written. As strings, rows and the joined
 * batch lived long enough to be promoted, and they were ~75% of all bytes promoted to the old
 * generation under load (heap sampling in bench/NOTES.md): old-space growth and RSS. Bytes in a
 * Buffer's backing store are one object for the GC however many rows they hold. Builders are
 * reused (reset) rather than made per batch: fresh off-heap memory every flush makes V8 start
 * extra full GCs for external memory pressure.
 */
export type JsonbArrayBuilder = {
  /** Appends one element, given as JSON text. */
  push(json: string): void;
  readonly length: number;
  /** Bytes of memory it holds. */
  readonly capacity: number;
  /** The finished `[...]`, valid until the next push or reset. */
  bytes(): Buffer;
  /** Empties it, keeping its memory for the next array (up to a few MiB; more is given back). */
  reset(): void;
};

const JSONB_VERSION = 1;
const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]

/** Beyond this, reset() gives the memory back: a batch with a 20 MiB body must not pin it. */
const KEEP_AT_MOST = 4 * 1024 * 1024;
/** Up to this many UTF-16 units the 3-bytes-each bound is cheap; past it, measure exactly. */
const ESTIMATE_UP_TO = 16 * 1024;

export function jsonbArrayBuilder(initialBytes = 16 * 1024): JsonbArrayBuilder {
  const initial = Math.max(initialBytes, 8);
  let buf = Buffer.allocUnsafeSlow(initial);
  buf[0] = JSONB_VERSION;
  buf[1] = OPEN;
  let used = 2;
  let length = 0;
  return {
    push(json) {
      // UTF-8 needs at most 3 bytes per UTF-16 unit; plus a comma and the closing bracket.
      const need = (json.length <= ESTIMATE_UP_TO ? json.length * 3 : Buffer.byteLength(json)) + 2;
      if (used + need > buf.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, used + need));
        buf.copy(grown, 0, 0, used);
        buf = grown;
      }
      if (length > 0) buf[used++] = COMMA;
      used += buf.write(json, used, 'utf8');
      length++;
    },
    get length() {
      return length;
    },
    get capacity() {
      return buf.length;
    },
    bytes() {
      buf[used] = CLOSE; // room for it is always kept
      return buf.subarray(0, used + 1);
    },
    reset() {
      if (buf.length > KEEP_AT_MOST) {
        buf = Buffer.allocUnsafeSlow(initial);
        buf[0] = JSONB_VERSION;
        buf[1] = OPEN;
      }
      used = 2;
      length = 0;
    },
  };
}
