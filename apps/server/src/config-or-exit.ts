import { type Config, ConfigError, loadConfig, loadDotEnv } from '@tollgate/config';

/**
 * The configuration of an entry point (`.env` included), or its problems on stderr, one per
 * line, and exit 1 with `outcome` saying what did not happen ("nothing started").
 */
export function configOrExit(outcome: string, load: () => Config = loadConfig): Config {
  loadDotEnv();
  try {
    return load();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`tollgate: invalid configuration, ${outcome}\n`);
    for (const line of e.problems) process.stderr.write(`  ${line}\n`);
    process.exit(1);
  }
}
