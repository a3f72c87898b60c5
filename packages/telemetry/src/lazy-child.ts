import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const REAL = Symbol('tollgate.realChild');
const BINDINGS = Symbol('tollgate.childBindings');

type Lazy = Logger & { [REAL]?: Logger; [BINDINGS]: Bindings };

const protos = new WeakMap<Logger, object>();

function protoFor(parent: Logger): object {
  const known = protos.get(parent);
  if (known) return known;
  const real = (self: Lazy): Logger => {
    self[REAL] ??= parent.child(self[BINDINGS]);
    return self[REAL];
  };
  // Inherits everything else (level, isLevelEnabled, bindings of the parent…) from the parent.
  const proto = Object.create(parent) as Record<string, unknown>;
  for (const level of LEVELS) {
    proto[level] = function (this: Lazy, ...args: unknown[]) {
      if (!parent.isLevelEnabled(level)) return;
      (real(this)[level] as (...a: unknown[]) => void)(...args);
    };
  }
  proto.child = function (this: Lazy, b: Bindings, o?: ChildLoggerOptions) {
    return real(this).child(b, o);
  };
  proto.bindings = function (this: Lazy) {
    return real(this).bindings();
  };
  protos.set(parent, proto);
  return proto;
}

/**
 * Fastify `childLoggerFactory`: the per-request child (bindings `{ reqId }`) is made only when
 * something is actually logged at an enabled level. pino's child() runs the redaction over its
 * bindings every time, which cost ~3% of a gateway request's CPU (bench/NOTES.md) for children
 * that, below `info`, never write a line. Per-route options (a route `logLevel`) get a real child.
 */
export function lazyChildLogger(
  parent: Logger,
  bindings: Bindings,
  opts: ChildLoggerOptions = {},
): Logger {
  for (const _ in opts) return parent.child(bindings, opts);
  const lazy = Object.create(protoFor(parent)) as Lazy;
  lazy[BINDINGS] = bindings;
  return lazy;
}
