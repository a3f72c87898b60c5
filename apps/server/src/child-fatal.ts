/**
 * A child process's start-up failure that no restart can fix (its port is taken): the child tells
 * the primary in one line and exits with EXIT_FATAL; the primary prints the line, stops everything
 * (Postgres last) and exits non-zero instead of restarting the child.
 */
export const EXIT_FATAL = 78; // EX_CONFIG in sysexits.h

export type FatalMessage = { type: 'fatal'; message: string };

export function isFatalMessage(m: unknown): m is FatalMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as FatalMessage).type === 'fatal' &&
    typeof (m as FatalMessage).message === 'string'
  );
}

/** The one line for a listen() failure an operator fixes with PORT/HOST; undefined for others. */
export function listenFailureMessage(err: unknown, host: string, port: number): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `port ${port} on ${host} is in use; set PORT`;
  if (code === 'EACCES')
    return `port ${port} on ${host} needs privileges this user lacks; set PORT`;
  if (code === 'EADDRNOTAVAIL') return `address ${host} is not available on this machine; set HOST`;
  return undefined;
}

/** Reports `message` to the primary (or stderr when run alone) and exits with EXIT_FATAL. */
export function exitFatal(message: string): void {
  if (process.send) {
    process.send({ type: 'fatal', message } satisfies FatalMessage, () => process.exit(EXIT_FATAL));
  } else {
    process.stderr.write(`tollgate: ${message}\n`);
    process.exit(EXIT_FATAL);
  }
}
