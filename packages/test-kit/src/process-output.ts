import type { ChildProcess } from 'node:child_process';

export type Exited = { code: number | null; signal: NodeJS.Signals | null };

export type ProcessOutput = {
  stdout: () => string;
  stderr: () => string;
  /** Every stdout chunk as it arrived. */
  chunks: string[];
  /** Resolves when `re` matches stdout (or stderr); rejects on timeout or if it exits first. */
  waitFor: (re: RegExp, on?: 'stdout' | 'stderr', timeoutMs?: number) => Promise<RegExpMatchArray>;
  exited: Promise<Exited>;
};

/**
 * What a spawned process (stdio piped) writes, for tests that wait on its output. `settledOn`:
 * 'close' resolves `exited` once its output is all read too; 'exit' as soon as it exits (a
 * supervisor's children may still hold its pipes open).
 */
export function watchOutput(
  proc: ChildProcess,
  opts: { settledOn: 'exit' | 'close'; timeoutMs: number },
): ProcessOutput {
  const text = { stdout: '', stderr: '' };
  const chunks: string[] = [];
  const listeners = new Set<() => void>();
  proc.stdout?.on('data', (d: Buffer) => {
    text.stdout += d.toString();
    chunks.push(d.toString());
    for (const l of listeners) l();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    text.stderr += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<Exited>((r) =>
    proc.once(opts.settledOn, (code: number | null, signal: NodeJS.Signals | null) =>
      r({ code, signal }),
    ),
  );
  const waitFor = (re: RegExp, on: 'stdout' | 'stderr' = 'stdout', timeoutMs = opts.timeoutMs) =>
    new Promise<RegExpMatchArray>((resolvePromise, reject) => {
      const output = () => `stdout:\n${text.stdout}\nstderr:\n${text.stderr}`;
      const check = () => {
        const m = text[on].match(re);
        if (m) {
          done();
          resolvePromise(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${re}\n${output()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then(({ code, signal }) => {
        if (!listeners.has(check)) return;
        done();
        reject(new Error(`exited (${code ?? signal}) before ${re}\n${output()}`));
      });
      check();
    });
  return { stdout: () => text.stdout, stderr: () => text.stderr, chunks, waitFor, exited };
}
