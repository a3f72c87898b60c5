export type { Config } from './config.ts';
export {
  ConfigError,
  childEnvironment,
  configVariableNames,
  loadConfig,
  loadDotEnv,
} from './config.ts';
export { loadOrCreateStoredSecret, withSecret } from './dev-secret.ts';
export { configVariables } from './variables.ts';
