import { configVariables } from '@tollgate/config';
import { startFlags } from './start-options.js';

/** `pnpm start --help`: the flags, then every configuration variable with its default. */
export function startHelp(): string {
  const flagRows = Object.entries(startFlags).map(
    ([name, f]) => `  ${`${f.short ? `-${f.short}, ` : '    '}--${name}`.padEnd(18)} ${f.meaning}`,
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
