import { parseArgs } from 'node:util';
import { configVariables } from '@tollgate/config';

/** What `pnpm start [flags]` was asked to do. */
export type StartCommand =
  | { kind: 'run'; worker: boolean }
  | { kind: 'help' }
  | { kind: 'usage_error'; message: string };

const flags = {
  'no-worker': {
    type: 'boolean',
    meaning: 'start only the server processes (run the worker elsewhere)',
  },
  help: { type: 'boolean', short: 'h', meaning: 'print this help and exit' },
} as const;

/** Flags of `pnpm start`; an unknown one is a usage error (exit 2), never silently ignored. */
export function parseStartArgs(argv: readonly string[]): StartCommand {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(flags).map(([name, f]) => [
          name,
          { type: f.type, ...('short' in f ? { short: f.short } : {}) },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    });
    if (values.help) return { kind: 'help' };
    return { kind: 'run', worker: values['no-worker'] !== true };
  } catch (e) {
    return { kind: 'usage_error', message: (e as Error).message };
  }
}

/** `pnpm start --help`: the flags, then every configuration variable with its default. */
export function startHelp(): string {
  const flagRows = Object.entries(flags).map(
    ([name, f]) =>
      `  ${`${'short' in f ? `-${f.short}, ` : '    '}--${name}`.padEnd(18)} ${f.meaning}`,
  );
  const width = Math.max(...configVariables.map((v) => v.name.length));
  const varRows = configVariables.map(
    (v) => `  ${v.name.padEnd(width)}  ${v.meaning} (default: ${v.default})`,
  );
  return [
    'Usage: pnpm start [flags]',
    '',
    'Starts Tollgate: embedded Postgres (unless DATABASE_URL), migrations, the HTTP server',
    'processes and the background worker. Ctrl-C stops everything.',
    '',
    'Flags:',
    ...flagRows,
    '',
    'Configuration (environment variables, or .env in the repo root; the environment wins):',
    ...varRows,
    '',
  ].join('\n');
}
