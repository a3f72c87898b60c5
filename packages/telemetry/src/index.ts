export type { Logger, LoggerOptions } from './logger.ts';
export { createLogger, redactPaths } from './logger.ts';
