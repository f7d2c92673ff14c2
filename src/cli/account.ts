// `berth account create|list`: the deployment's accounts, administered on the configured stores
// directly (as `berth migrate` does): whoever holds the configuration and the data is the
// administrator, and no account's credentials are needed.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVE_FLAGS, serveFlagArgs } from './flags.ts';
import type { Config } from '../config/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { loadKeyring } from '../auth/index.ts';
import { createAccount, type CreatedAccount } from '../app/bootstrap.ts';
import { openMeta } from '../app/stores.ts';
import { describeDatabase, sqlitePath } from './migrate.ts';
import { table, UsageError } from './ecr.ts';

export const ACCOUNT_HELP = `Accounts (on the configured database directly, like berth migrate; flags as for serve):
  berth account create [--id 12-DIGIT-ID] [--json]
                                        a new account with a root access key, printed once
                                        (a random id when --id is not given); with
                                        templates.bootstrapRoot on it also gets the ROOT
                                        CREATE_ON_PUSH template, as the default account does
  berth account list [--json]           every account, the default one marked
`;

const ACCOUNT_ID_RE = /^\d{12}$/;

export interface AccountRow {
  accountId: string;
  createdAt: Date;
  default: boolean;
}

/** Every account, by id. */
export async function listAccounts(meta: MetaStore): Promise<AccountRow[]> {
  const defaultId = await meta.settings.get('default_account_id');
  const rows = await meta.db.selectFrom('accounts').select(['id', 'created_at']).orderBy('id').execute();
  return rows.map((r) => ({ accountId: r.id, createdAt: new Date(Number(r.created_at)), default: r.id === defaultId }));
}

/**
 * Opens the configured database of a deployment that has started once (its default account
 * exists): a mistyped --data-dir is refused rather than made into a new, empty deployment.
 */
async function openDeployment(config: Config): Promise<MetaStore> {
  if (config.database.driver === 'sqlite' && !existsSync(sqlitePath(config))) {
    throw new DeploymentError(`${describeDatabase(config)}: no database there; start berth once with this configuration (berth serve) or point --data-dir at its data directory`);
  }
  const meta = await openMeta(config);
  if ((await meta.settings.get('default_account_id')) === undefined) {
    await meta.close();
    throw new DeploymentError(`${describeDatabase(config)}: berth has not started on this database yet (no default account); start it once first (berth serve)`);
  }
  return meta;
}

class DeploymentError extends Error {}

function accountJson(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

/**
 * `berth account <create|list> [flags]`; `configOf` turns the serve flags left over into the
 * configuration (main's configFromArgs). Returns the exit status.
 */
export async function accountCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  err: (line: string) => void,
  configOf: (args: string[], env: NodeJS.ProcessEnv) => Config,
  now: () => number = Date.now,
): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: {
      id: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...SERVE_FLAGS,
    },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) {
    out(ACCOUNT_HELP);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub !== 'create' && sub !== 'list') throw new UsageError(sub === undefined ? 'usage: berth account create|list [flags]; see berth --help' : `unknown command "berth account ${sub}"`);
  if (extra.length > 0) throw new UsageError(`berth account ${sub} takes no arguments (got "${extra.join(' ')}")`);
  if (sub === 'list' && values.id !== undefined) throw new UsageError('--id is not an option of berth account list');
  if (values.id !== undefined && !ACCOUNT_ID_RE.test(values.id)) throw new UsageError(`--id must be a 12-digit account id, not "${values.id}"`);

  // The serve flags, given back to the configuration loader as they came.
  const config = configOf(serveFlagArgs(tokens), env);
  const dataDir = resolve(config.dataDir);

  let meta: MetaStore;
  try {
    meta = await openDeployment({ ...config, dataDir });
  } catch (e) {
    if (e instanceof DeploymentError) {
      err(`berth account: ${e.message}`);
      return 1;
    }
    throw e;
  }
  try {
    if (sub === 'list') {
      const accounts = await listAccounts(meta);
      if (values.json === true) out(accountJson(accounts));
      else out(table(['ACCOUNT', 'CREATED', 'DEFAULT'], accounts.map((a) => [a.accountId, a.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), a.default ? 'yes' : ''])));
      return 0;
    }
    const keyring = await loadKeyring({ configured: config.auth.masterKey, dataDir, meta });
    let created: CreatedAccount | undefined;
    // A random id can meet an existing one: draw again (a given id is refused instead).
    for (let attempt = 0; created === undefined && attempt < (values.id === undefined ? 5 : 1); attempt++) {
      created = await createAccount(meta, keyring, { accountId: values.id, rootTemplate: config.templates.bootstrapRoot, now: now() });
    }
    if (created === undefined) {
      err(`berth account: account ${values.id ?? '(random)'} already exists; nothing was changed`);
      return 1;
    }
    if (values.json === true) {
      out(accountJson({ accountId: created.accountId, accessKeyId: created.accessKeyId, secretAccessKey: created.secretAccessKey, rootTemplate: created.rootTemplate }));
    } else {
      out(
        [
          `AccountId        ${created.accountId}`,
          `AccessKeyId      ${created.accessKeyId}`,
          `SecretAccessKey  ${created.secretAccessKey}`,
          '',
          "The root user's secret is shown only now; berth keeps it hashed and sealed.",
        ].join('\n'),
      );
    }
    return 0;
  } finally {
    await meta.close();
  }
}
