// The `berth` command line.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { configKeys, ConfigError, loadConfig, readConfigFile, validateConfig, type Config } from '../config/index.ts';
import { serve } from './serve.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const HELP = `berth ${VERSION}: a self-hosted container registry that does what Amazon ECR does

Usage:
  berth serve [flags]            start the registry (npm start runs this)
  berth config validate FILE     check a YAML configuration file
  berth config keys              list every configuration key with its environment variable
  berth --version | --help

Flags of serve (each has an environment equivalent):
  --listen HOST:PORT    BERTH_LISTEN       default 0.0.0.0:5000
  --data-dir DIR        BERTH_DATA_DIR     default ./data
  --config FILE         BERTH_CONFIG       YAML file; every key is also settable as BERTH_<KEY>
  --tls-cert FILE       BERTH_TLS_CERT     serve HTTPS with this certificate...
  --tls-key FILE        BERTH_TLS_KEY      ...and this key

Root credentials: BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY; when unset on first
start, berth generates them, prints them once and stores them in <data-dir>/root-credentials.json.
`;

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

function err(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
}

export function configFromArgs(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const file = values.config ?? (env.BERTH_CONFIG !== undefined && env.BERTH_CONFIG !== '' ? env.BERTH_CONFIG : undefined);
  return loadConfig({
    file,
    env,
    overrides: { listen: values.listen, dataDir: values['data-dir'], 'tls.cert': values['tls-cert'], 'tls.key': values['tls-key'] },
  });
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        out(HELP);
        return 0;
      case '--version':
      case 'version':
        out(VERSION);
        return 0;
      case 'serve':
        if (rest.includes('--help') || rest.includes('-h')) {
          out(HELP);
          return 0;
        }
        return await serve(configFromArgs(rest, process.env));
      case 'config': {
        const [sub, file] = rest;
        if (sub === 'validate' && file !== undefined) {
          validateConfig(readConfigFile(file), file);
          out(`${file}: valid`);
          return 0;
        }
        if (sub === 'keys') {
          for (const k of configKeys()) out(`${k.path}\t${k.env}\t${k.type}\t${k.default === undefined ? '' : JSON.stringify(k.default)}\t${k.description}`);
          return 0;
        }
        err('usage: berth config validate FILE | berth config keys');
        return 2;
      }
      default:
        err(`berth: unknown command "${cmd}"\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return 2;
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      err(`berth: ${e.message}\n\n${HELP}`);
      return 2;
    }
    throw e;
  }
}
