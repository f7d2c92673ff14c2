export { ConfigSchema, type Config, type ConfigInput } from './schema.ts';
export { loadConfig, validateConfig, readConfigFile, configKeys, envName, ConfigError, type ConfigKey, type LoadOptions } from './load.ts';
export { parseDuration } from './duration.ts';
