// @ts-check
// Plain JavaScript: imported by the `pnpm start` supervisor, which loads no .ts (supervisor.js).
// The help text (it lists the configuration variables) is start-help.ts, loaded only for --help.
import { parseArgs } from 'node:util';

/**
 * What `pnpm start [flags]` was asked to do.
 * @typedef {{ kind: 'run'; worker: boolean }
 *   | { kind: 'help' }
 *   | { kind: 'usage_error'; message: string }} StartCommand
 */

/**
 * The flags of `pnpm start`, with their meaning for the help text.
 * @type {Record<string, { type: 'boolean'; short?: string; meaning: string }>}
 */
export const startFlags = {
  'no-worker': {
    type: 'boolean',
    meaning: 'start only the server processes (run the worker elsewhere)',
  },
  help: { type: 'boolean', short: 'h', meaning: 'print this help and exit' },
};

/**
 * Flags of `pnpm start`; an unknown one is a usage error (exit 2), never silently ignored.
 * @param {readonly string[]} argv
 * @returns {StartCommand}
 */
export function parseStartArgs(argv) {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(startFlags).map(([name, f]) => [
          name,
          { type: f.type, ...(f.short ? { short: f.short } : {}) },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    });
    if (values.help) return { kind: 'help' };
    return { kind: 'run', worker: values['no-worker'] !== true };
  } catch (e) {
    return { kind: 'usage_error', message: /** @type {Error} */ (e).message };
  }
}
