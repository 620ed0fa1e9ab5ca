// Config layer: YAML directory → schema → semantic checks → normalised DesiredState.
export type { ConfigError } from './types';
export type { LoadResult } from './load';
export { loadConfig, loadConfigFromStrings, formatConfigError } from './load';
export { CONFIG_SCHEMA } from './schema-json';
export { parseRate, parseSize, parseTime, parseHandle, parseClassId } from './units';
