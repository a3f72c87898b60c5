import { describe, expect, it } from 'vitest';
import { createRestartPolicy } from '../src/restart-policy.js';

const opts = { quickExitMs: 10_000, maxQuickExits: 5, baseDelayMs: 500, maxDelayMs: 4_000 };

describe('restart policy for children that die', () => {
  it('backs off a child that keeps dying right after start, then gives up', () => {
    const p = createRestartPolicy(opts);
    const decisions = Array.from({ length: 5 }, () => p.onExit(300));
    expect(decisions).toEqual([
      { restart: true, delayMs: 500 },
      { restart: true, delayMs: 1_000 },
      { restart: true, delayMs: 2_000 },
      { restart: true, delayMs: 4_000 },
      { restart: false, quickExits: 5 },
    ]);
  });

  it('replaces a child that ran a while at once, and a long run resets the streak', () => {
    const p = createRestartPolicy(opts);
    for (let i = 0; i < 4; i++) expect(p.onExit(100).restart).toBe(true);
    expect(p.onExit(60_000)).toEqual({ restart: true, delayMs: 500 });
    // The streak starts over: four more quick exits are retried before giving up.
    for (let i = 0; i < 4; i++) expect(p.onExit(100).restart).toBe(true);
    expect(p.onExit(100).restart).toBe(false);
  });
});
