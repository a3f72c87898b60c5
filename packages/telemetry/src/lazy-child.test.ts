import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from './lazy-child.ts';
import { createLogger, type LoggerOptions } from './logger.ts';

function capture(level: LoggerOptions['logLevel']) {
  const lines: string[] = [];
  const log = createLogger(
    { logLevel: level, logFormat: 'json' },
    { write: (s: string) => void lines.push(s) },
  );
  return { log, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('lazyChildLogger', () => {
  it('writes lines with the bindings, redacted like the parent', () => {
    const { log, parsed } = capture('info');
    const child = lazyChildLogger(log, { reqId: 'r-1' });
    child.info({ headers: { authorization: 'Bearer secret-value-123' } }, 'hello');
    child.error('bad');
    expect(parsed()).toMatchObject([
      { reqId: 'r-1', msg: 'hello', headers: { authorization: '[redacted]' } },
      { reqId: 'r-1', msg: 'bad', level: 50 },
    ]);
  });

  it('honours the level: nothing below it, the child and grandchildren above it', () => {
    const { log, parsed } = capture('warn');
    const child = lazyChildLogger(log, { reqId: 'r-2' });
    child.info('skipped');
    child.debug('skipped');
    expect(child.isLevelEnabled('info')).toBe(false);
    child.child({ step: 'x' }).warn('kept');
    expect(parsed()).toEqual([expect.objectContaining({ reqId: 'r-2', step: 'x', msg: 'kept' })]);
    expect(child.bindings()).toEqual({ reqId: 'r-2' });
  });

  it('gives routes with their own options (a logLevel) a real child', () => {
    const { log, parsed } = capture('info');
    const child = lazyChildLogger(log, { reqId: 'r-3' }, { level: 'warn' });
    child.info('skipped');
    child.warn('kept');
    expect(parsed()).toEqual([expect.objectContaining({ reqId: 'r-3', msg: 'kept' })]);
  });
});
