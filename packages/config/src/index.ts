export type { Config } from './config.ts';
export { ConfigError, childEnvironment, loadConfig, loadDotEnv } from './config.ts';
export { loadOrCreateStoredSecret, withSecret } from './dev-secret.ts';
