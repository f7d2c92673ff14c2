// The `berth` command line.
import { parseArgs } from 'node:util';
import { SERVE_FLAGS } from './flags.ts';
import { readFileSync } from 'node:fs';
import { configKeys, ConfigError, loadConfig, readConfigFile, validateConfig, type Config } from '../config/index.ts';
import { serve } from './serve.ts';
import { migrateCommand } from './migrate.ts';
import { gcCommand } from './gc.ts';
import { lifecycleCommand } from './lifecycle.ts';
import { quarantineCommand, SCAN_HELP, sbomCommand, vulndbCommand } from './scan.ts';
import { SECRET_HELP, secretCommand } from './secret.ts';
import { copyCommand } from './copy.ts';
import { ECR_HELP, ecrCommand, UsageError } from './ecr.ts';
import { IAM_HELP, iamCommand } from './iam.ts';
import { ACCOUNT_HELP, accountCommand } from './account.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const HELP = `berth ${VERSION}: a self-hosted container registry that does what Amazon ECR does

Usage:
  berth serve [flags]            start the registry (npm start runs this)
  berth migrate [flags]          apply pending database migrations and exit (flags as for serve)
  berth gc [--dry-run] [--full] [flags]
                                 one garbage-collection pass on the stores, beside running servers
  berth lifecycle run [--dry-run] [--account ID] [--repository NAME] [flags]
                                 apply lifecycle policies now (the server does it hourly)
  berth vulndb import PATH | status
                                 load OSV vulnerability data; show what is loaded
  berth sbom REPO:TAG|REPO@DIGEST [--format cyclonedx|spdx]
                                 an image's inventory (from its last scan) as an SBOM
  berth quarantine set|exempt|show
                                 refuse pulls of images with findings at or above a severity
  berth secret put|list|delete   credentials of upstream registries (pull-through cache)
  berth copy --from FROM.yaml --to TO.yaml [--concurrency N]
                                 copy a deployment's blobs and metadata into another deployment's
                                 stores (e.g. SQLite + filesystem to PostgreSQL + S3); safe to rerun
  berth config validate FILE     check a YAML configuration file
  berth config keys              list every configuration key with its environment variable
  berth repo create|list|delete  manage repositories   (see below)
  berth image list|delete        manage images
  berth login                    print a registry password
  berth iam COMMAND              users, access keys, groups, roles, policies, OIDC providers
  berth account create|list      the deployment's accounts (on its database directly)
  berth --version | --help

Flags of serve, migrate and account (each has an environment equivalent):
  --listen HOST:PORT    BERTH_LISTEN       default 0.0.0.0:5000
  --data-dir DIR        BERTH_DATA_DIR     default ./data
  --config FILE         BERTH_CONFIG       YAML file; every key is also settable as BERTH_<KEY>
  --tls-cert FILE       BERTH_TLS_CERT     serve HTTPS with this certificate...
  --tls-key FILE        BERTH_TLS_KEY      ...and this key

Root credentials: BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY; when unset on first
start, berth generates them, prints them once and stores them in <data-dir>/root-credentials.json.

Migrations: every process applies pending ones at start (on PostgreSQL exactly one of them, under a
lock); berth migrate does it as a separate step. copy: BERTH_* variables apply to TO.yaml and
BERTH_FROM_* variables to FROM.yaml.

${ACCOUNT_HELP}
${SCAN_HELP}
${SECRET_HELP}
${ECR_HELP}
${IAM_HELP}`;

function stdoutLine(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

function stderrLine(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** Where a command's output goes and the environment it reads: the process's by default (tests pass their own). */
export interface CliIo {
  out?: (line: string) => void;
  err?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export function configFromArgs(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args,
    options: {
      ...SERVE_FLAGS,
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

export async function main(argv: string[], io: CliIo = {}): Promise<number> {
  const out = io.out ?? stdoutLine;
  const err = io.err ?? stderrLine;
  const env = io.env ?? process.env;
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
        return await serve(configFromArgs(rest, env));
      case 'migrate':
        if (rest.includes('--help') || rest.includes('-h')) {
          out(HELP);
          return 0;
        }
        return await migrateCommand(configFromArgs(rest, env), out, err);
      case 'copy':
        return await copyCommand(rest, env, out, err);
      case 'gc':
        return await gcCommand(rest, env, out, err);
      case 'lifecycle':
        return await lifecycleCommand(rest, env, out, err, configFromArgs);
      case 'vulndb':
        return await vulndbCommand(rest, env, out, err, configFromArgs);
      case 'sbom':
        return await sbomCommand(rest, env, out, err, configFromArgs);
      case 'quarantine':
        return await quarantineCommand(rest, env, out, err, configFromArgs);
      case 'secret':
        return await secretCommand(rest, env, out, err, configFromArgs);
      case 'repo':
      case 'image':
      case 'login':
        return await ecrCommand(cmd, rest, env, out, err);
      case 'iam':
        return await iamCommand(rest, env, out, err);
      case 'account':
        return await accountCommand(rest, env, out, err, configFromArgs);
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
    if (e instanceof UsageError) {
      err(`berth: ${e.message}`);
      return 2;
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      err(`berth: ${e.message}\n\n${HELP}`);
      return 2;
    }
    throw e;
  }
}
