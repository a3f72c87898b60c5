// @ts-check
// Plain JavaScript: imported by the `pnpm start` supervisor, which loads no .ts (supervisor.js).

/**
 * What to do when a child process (a server process or the worker) has exited unasked.
 * @typedef {{ restart: true; delayMs: number } | { restart: false; quickExits: number }} RestartDecision
 */

/**
 * @typedef {{
 *   quickExitMs: number;
 *   maxQuickExits: number;
 *   baseDelayMs: number;
 *   maxDelayMs: number;
 * }} RestartPolicyOptions
 * quickExitMs: an exit this soon after start counts as dying "right after start";
 * maxQuickExits: this many quick exits in a row: give up; baseDelayMs: the first restart's
 * delay, doubling with each further quick exit, up to maxDelayMs.
 */

/** @type {RestartPolicyOptions} */
export const defaultRestartPolicy = {
  quickExitMs: 10_000,
  maxQuickExits: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
};

/**
 * One per kind of child. A child that ran a while and crashed is replaced after baseDelayMs; a
 * child that keeps dying right after start (a bad upstream setting, a broken install) is retried
 * with a doubling delay and then given up on, instead of being restarted in a hot loop forever.
 * @param {RestartPolicyOptions} [opts]
 */
export function createRestartPolicy(opts = defaultRestartPolicy) {
  let quickExits = 0;
  return {
    /** @param {number} ranForMs @returns {RestartDecision} */
    onExit(ranForMs) {
      quickExits = ranForMs < opts.quickExitMs ? quickExits + 1 : 0;
      if (quickExits >= opts.maxQuickExits) return { restart: false, quickExits };
      const delayMs = Math.min(
        opts.baseDelayMs * 2 ** Math.max(0, quickExits - 1),
        opts.maxDelayMs,
      );
      return { restart: true, delayMs };
    },
  };
}
