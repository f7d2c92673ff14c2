// `berth secret put|list|delete`: berth's own secrets store for upstream registry credentials, in
// the place of AWS Secrets Manager. A secret's ARN has Secrets Manager's shape
// (`arn:aws:secretsmanager:<region>:<account>:secret:ecr-pullthroughcache/<name>-<6 characters>`),
// which is what CreatePullThroughCacheRule's credentialArn takes; the value (ECR's
// `{"username": ..., "accessToken": ...}`) is sealed with the master key and never printed again.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadKeyring } from '../auth/index.ts';
import { openMeta } from '../app/stores.ts';
import type { Config } from '../config/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { SERVE_FLAGS, serveFlagArgs } from './flags.ts';
import { UsageError } from './ecr.ts';

export const SECRET_HELP = `Upstream registry credentials (pull-through cache; on the stores directly; flags as for serve):
  berth secret put NAME --username USER (--password PASS | --password-stdin) [--account ID]
                                           store credentials; prints the ARN for --credential-arn
  berth secret list [--account ID]         names and ARNs (never values)
  berth secret delete NAME [--account ID]  refused while a pull-through cache rule uses it`;

/** Secrets Manager's prefix for ECR's pull-through cache credentials. */
export const SECRET_PREFIX = 'ecr-pullthroughcache/';

const NAME_RE = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function secretCommand(argv: string[], env: NodeJS.ProcessEnv, out: (l: string) => void, err: (l: string) => void, configOf: (args: string[], env: NodeJS.ProcessEnv) => Config): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: { username: { type: 'string' }, password: { type: 'string' }, 'password-stdin': { type: 'boolean' }, account: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...SERVE_FLAGS },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) {
    out(SECRET_HELP);
    return 0;
  }
  const [sub, given] = positionals;
  if (sub === undefined || !['put', 'list', 'delete'].includes(sub) || (sub !== 'list' && (given === undefined || positionals.length !== 2))) throw new UsageError(`usage:\n${SECRET_HELP}`);
  const name = given === undefined ? '' : given.startsWith(SECRET_PREFIX) ? given : `${SECRET_PREFIX}${given}`;
  if (sub !== 'list' && !NAME_RE.test(name)) throw new UsageError(`a secret name has letters, digits and /_+=.@- only, not "${given ?? ''}"`);
  const config = configOf(serveFlagArgs(tokens), env);
  const meta: MetaStore = await openMeta(config);
  try {
    const accountId = values.account ?? (await meta.settings.get('default_account_id'));
    if (accountId === undefined) {
      err('berth secret: no account');
      return 1;
    }
    if (sub === 'list') {
      for (const s of await meta.secrets.list(accountId)) out(`${s.name}\t${s.arn}\t${new Date(s.updatedAt).toISOString()}`);
      return 0;
    }
    if (sub === 'delete') {
      const secret = await meta.secrets.get(accountId, name);
      if (secret === undefined) {
        err(`berth secret: no secret ${name} in account ${accountId}`);
        return 1;
      }
      const users = (await meta.pullThroughCacheRules.list(accountId)).filter((r) => r.credentialArn === secret.arn).map((r) => r.prefix);
      if (users.length > 0) {
        err(`berth secret: ${name} is used by the pull-through cache rules ${users.join(', ')}; update or delete them first`);
        return 1;
      }
      await meta.secrets.delete(accountId, name);
      out(`deleted ${name}`);
      return 0;
    }
    if (values.username === undefined || (values.password === undefined) === (values['password-stdin'] !== true)) {
      throw new UsageError('berth secret put needs --username and one of --password or --password-stdin');
    }
    const password = values.password ?? (await readStdin());
    if (password === '') throw new UsageError('the password is empty');
    const keyring = await loadKeyring({ configured: config.auth.masterKey, dataDir: resolve(config.dataDir), meta });
    const arn = `arn:aws:secretsmanager:${config.region}:${accountId}:secret:${name}-${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 6)}`;
    const stored = await meta.secrets.put(accountId, name, arn, keyring.encrypt(JSON.stringify({ username: values.username, accessToken: password })), Date.now());
    out(stored.arn);
    return 0;
  } finally {
    await meta.close();
  }
}
