// @ts-check
// Plain JavaScript: part of the `pnpm start` supervisor, which loads no .ts and no pino
// (supervisor.js says why).
import { hostname } from 'node:os';

/** pino's level numbers. */
const LEVELS = /** @type {const} */ ({
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
});

/** @typedef {keyof typeof LEVELS | 'silent'} LevelName */
/** @typedef {{ level: LevelName; format: 'json' | 'logstash' }} LogSettings */
/** @typedef {(fields: Record<string, unknown>, msg: string) => void} LogFn */
/** @typedef {{ debug: LogFn; info: LogFn; warn: LogFn; error: LogFn }} SupervisorLog */

/**
 * The supervisor's few log lines, in the shape @tollgate/telemetry's pino logger writes them
 * (createLogger: `{"level":30,"time":"…","pid":…,"hostname":"…",…,"msg":"…"}`, or the logstash
 * shape with LOG_FORMAT=logstash), so a log consumer sees one format from every process. Its
 * lines carry no secrets (pids, exit codes, signals, postgres' own log), so no scrubbing here.
 * @param {LogSettings} settings
 * @param {{ write: (line: string) => unknown }} [out]
 * @returns {SupervisorLog}
 */
export function createSupervisorLog(settings, out = process.stdout) {
  const threshold = settings.level === 'silent' ? Number.POSITIVE_INFINITY : LEVELS[settings.level];
  const host = hostname();
  /** @param {keyof typeof LEVELS} level @returns {LogFn} */
  const at = (level) => (fields, msg) => {
    if (LEVELS[level] < threshold) return;
    const line =
      settings.format === 'logstash'
        ? {
            level,
            '@timestamp': new Date().toISOString(),
            '@version': '1',
            pid: process.pid,
            hostname: host,
            ...fields,
            message: msg,
          }
        : {
            level: LEVELS[level],
            time: new Date().toISOString(),
            pid: process.pid,
            hostname: host,
            ...fields,
            msg,
          };
    out.write(`${JSON.stringify(line)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
