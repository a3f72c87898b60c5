// @ts-check
// Plain JavaScript: imported by the `pnpm start` supervisor, which loads no .ts (supervisor.js).
/**
 * A child process's start-up failure that no restart can fix (its port is taken): the child tells
 * the primary in one line and exits with EXIT_FATAL; the primary prints the line, stops everything
 * (Postgres last) and exits non-zero instead of restarting the child.
 */
export const EXIT_FATAL = 78; // EX_CONFIG in sysexits.h

/** @typedef {{ type: 'fatal'; message: string }} FatalMessage */

/** @param {unknown} m @returns {m is FatalMessage} */
export function isFatalMessage(m) {
  return (
    typeof m === 'object' &&
    m !== null &&
    /** @type {FatalMessage} */ (m).type === 'fatal' &&
    typeof (/** @type {FatalMessage} */ (m).message) === 'string'
  );
}

/**
 * The one line for a listen() failure an operator fixes with PORT/HOST; undefined for others.
 * @param {unknown} err @param {string} host @param {number} port
 * @returns {string | undefined}
 */
export function listenFailureMessage(err, host, port) {
  const code = /** @type {NodeJS.ErrnoException | undefined} */ (err)?.code;
  if (code === 'EADDRINUSE') return `port ${port} on ${host} is in use; set PORT`;
  if (code === 'EACCES')
    return `port ${port} on ${host} needs privileges this user lacks; set PORT`;
  if (code === 'EADDRNOTAVAIL') return `address ${host} is not available on this machine; set HOST`;
  return undefined;
}

/**
 * Reports `message` to the primary (or stderr when run alone) and exits with EXIT_FATAL.
 * @param {string} message
 */
export function exitFatal(message) {
  if (process.send) {
    /** @type {FatalMessage} */
    const m = { type: 'fatal', message };
    process.send(m, () => process.exit(EXIT_FATAL));
  } else {
    process.stderr.write(`tollgate: ${message}\n`);
    process.exit(EXIT_FATAL);
  }
}
