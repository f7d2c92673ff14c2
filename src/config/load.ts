// Loads the configuration: defaults < YAML file < BERTH_* environment < command-line flags.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import { z } from 'zod';
import { ConfigSchema, type Config } from './schema.ts';

// The YAML parser is loaded only when a configuration file is read.
const require = createRequire(import.meta.url);
type Yaml = typeof YamlModule;
function parseYaml(text: string): unknown {
  const yaml = require('yaml') as Yaml;
  return yaml.parse(text);
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigKey {
  /** Dotted path, e.g. `storage.filesystem.root`. */
  path: string;
  env: string;
  type: string;
  default?: unknown;
  description: string;
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  pattern?: string;
};

export function envName(path: string): string {
  return `BERTH_${path
    .split('.')
    .map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

/** Every leaf key of the schema, with its environment variable, type, default and description. */
export function configKeys(): ConfigKey[] {
  const root = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: ConfigKey[] = [];
  const walk = (s: JsonSchema, prefix: string): void => {
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      const path = prefix === '' ? k : `${prefix}.${k}`;
      if (v.type === 'object' && v.properties !== undefined) {
        walk(v, path);
        continue;
      }
      const types = [v.type ?? [], ...(v.anyOf ?? []).map((a) => a.type ?? [])].flat();
      let type = types.join(' | ');
      if (v.enum !== undefined) type = v.enum.map((e) => JSON.stringify(e)).join(' | ');
      if (types.includes('boolean')) type = 'boolean';
      else if (types.includes('number') && types.includes('string')) type = 'duration';
      const key: ConfigKey = { path, env: envName(path), type, description: v.description ?? '' };
      if (v.default !== undefined) key.default = v.default;
      out.push(key);
    }
  };
  walk(root, '');
  return out;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

export interface LoadOptions {
  /** YAML file. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, by dotted path. */
  overrides?: Record<string, unknown>;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must hold a mapping of keys`);
  return doc as Record<string, unknown>;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const raw: Record<string, unknown> = opts.file === undefined ? {} : readConfigFile(opts.file);
  for (const key of configKeys()) {
    const v = env[key.env];
    if (v !== undefined && v !== '') setPath(raw, key.path, v);
  }
  for (const [path, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) setPath(raw, path, v);
  return validateConfig(raw, opts.file);
}

export function validateConfig(raw: unknown, source?: string): Config {
  const r = ConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const path = i.path.join('.');
    const env = path === '' ? '' : ` (${envName(path)})`;
    return `  ${path === '' ? '(top level)' : path}${env}: ${i.message}`;
  });
  throw new ConfigError(`invalid configuration${source === undefined ? '' : ` in ${source}`}:\n${lines.join('\n')}`);
}
