/** What to do when a child process (a server process or the worker) has exited unasked. */
export type RestartDecision =
  | { restart: true; delayMs: number }
  | { restart: false; quickExits: number };

export type RestartPolicyOptions = {
  /** An exit this soon after start counts as dying "right after start". */
  quickExitMs: number;
  /** This many quick exits in a row: give up. */
  maxQuickExits: number;
  /** The first restart's delay; it doubles with each further quick exit, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
};

export const defaultRestartPolicy: RestartPolicyOptions = {
  quickExitMs: 10_000,
  maxQuickExits: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
};

/**
 * One per kind of child. A child that ran a while and crashed is replaced after baseDelayMs; a
 * child that keeps dying right after start (a bad upstream setting, a broken install) is retried
 * with a doubling delay and then given up on, instead of being restarted in a hot loop forever.
 */
export function createRestartPolicy(opts: RestartPolicyOptions = defaultRestartPolicy) {
  let quickExits = 0;
  return {
    onExit(ranForMs: number): RestartDecision {
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
