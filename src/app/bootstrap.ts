// First-start bootstrap: the default account, its root credentials and its ROOT creation template.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import type { AccessKey, CreationTemplateRow, MetaStore } from '../meta/index.ts';
import { hashSecret, newAccessKeyId, newAccountId, newSecretAccessKey, verifySecret, type Keyring } from '../auth/index.ts';
import { ROOT_PREFIX, type CreationTemplate } from '../registry/repositories.ts';

export interface BootstrapResult {
  accountId: string;
  rootAccessKeyId: string;
  /** Set only when the credentials were generated now (printed once). */
  generatedSecret?: string;
  credentialsFile: string;
}

export const CREDENTIALS_FILE = 'root-credentials.json';

export async function bootstrap(config: Config, meta: MetaStore, now: number, keyring: Keyring): Promise<BootstrapResult> {
  const wanted = config.accountId ?? newAccountId();
  const accountId = await meta.settings.setIfAbsent('default_account_id', wanted);
  if (config.accountId !== undefined && config.accountId !== accountId) {
    throw new Error(`accountId is configured as ${config.accountId} but this data directory's default account is ${accountId}; unset BERTH_ACCOUNT_ID or use another data directory`);
  }
  await meta.accounts.ensure(accountId, now);
  await bootstrapRootTemplate(meta, accountId, now, config.templates.bootstrapRoot);
  const credentialsFile = join(config.dataDir, CREDENTIALS_FILE);

  const { accessKeyId, secretAccessKey } = config.root;
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    const existing = await meta.accessKeys.get(accessKeyId);
    if (existing !== undefined && existing.accountId !== accountId) {
      throw new Error(`access key ${accessKeyId} belongs to account ${existing.accountId}, not the default account ${accountId}`);
    }
    if (existing === undefined || existing.status !== 'Active' || !opens(keyring, existing.secretEnc, secretAccessKey) || !(await verifySecret(secretAccessKey, existing.secretHash))) {
      await meta.accessKeys.put(await rootKey(keyring, accountId, accessKeyId, secretAccessKey, existing?.createdAt ?? now));
    }
    return { accountId, rootAccessKeyId: accessKeyId, credentialsFile };
  }

  const keys = await meta.accessKeys.listForUser(accountId, 'root');
  const active = keys.find((k) => k.status === 'Active');
  if (active !== undefined) {
    // A key made before secrets were kept encrypted: the credentials file still has its secret.
    if ((active.secretEnc === null || active.secretEnc === undefined) && existsSync(credentialsFile)) {
      const saved = JSON.parse(readFileSync(credentialsFile, 'utf8')) as { accessKeyId?: string; secretAccessKey?: string };
      if (saved.accessKeyId === active.accessKeyId && saved.secretAccessKey !== undefined) await meta.accessKeys.put({ ...active, secretEnc: keyring.encrypt(saved.secretAccessKey) });
    }
    return { accountId, rootAccessKeyId: active.accessKeyId, credentialsFile };
  }

  const id = newAccessKeyId();
  const secret = newSecretAccessKey();
  // The file first: if writing it fails, no credentials exist that nobody knows.
  writeFileSync(credentialsFile, `${JSON.stringify({ accountId, accessKeyId: id, secretAccessKey: secret }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(credentialsFile, 0o600);
  await meta.accessKeys.put(await rootKey(keyring, accountId, id, secret, now));
  return { accountId, rootAccessKeyId: id, generatedSecret: secret, credentialsFile };
}

/** An active access key of an account's root user: the secret stored hashed (Basic) and sealed (SigV4). */
async function rootKey(keyring: Keyring, accountId: string, accessKeyId: string, secret: string, createdAt: number): Promise<AccessKey> {
  return { accessKeyId, accountId, userName: 'root', secretHash: await hashSecret(secret), secretEnc: keyring.encrypt(secret), status: 'Active', createdAt };
}

export interface CreatedAccount {
  accountId: string;
  accessKeyId: string;
  /** Known only now: stored hashed and sealed. */
  secretAccessKey: string;
  /** Whether the account got the ROOT CREATE_ON_PUSH template (templates.bootstrapRoot), as the default account does. */
  rootTemplate: boolean;
}

/**
 * Another account of the deployment (`berth account create`), made as the first start makes the
 * default one: the account, a root access key and, when templates.bootstrapRoot is on, the ROOT
 * creation template for CREATE_ON_PUSH. All in one transaction; undefined, with nothing written,
 * when the id is taken.
 */
export async function createAccount(meta: MetaStore, keyring: Keyring, opts: { accountId?: string | undefined; rootTemplate: boolean; now: number }): Promise<CreatedAccount | undefined> {
  const accountId = opts.accountId ?? newAccountId();
  const accessKeyId = newAccessKeyId();
  const secretAccessKey = newSecretAccessKey();
  const key = await rootKey(keyring, accountId, accessKeyId, secretAccessKey, opts.now);
  return await meta.transaction(async (tx) => {
    // The insert decides between concurrent creations of one id (the store's ensure() would accept both).
    const r = await tx.db.insertInto('accounts').values({ id: accountId, created_at: opts.now }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n) === 0) return undefined;
    await tx.accessKeys.put(key);
    if (opts.rootTemplate) await tx.creationTemplates.create(rootTemplate(accountId, opts.now, 'with the account'));
    return { accountId, accessKeyId, secretAccessKey, rootTemplate: opts.rootTemplate };
  });
}

/** Set by the first start that knows templates ("created" or "skipped"): later starts leave templates alone. */
const ROOT_TEMPLATE_MARK = 'bootstrap_root_template';

/**
 * The old convenience of issue 2, as an ECR user would set it up: a ROOT repository creation template
 * for CREATE_ON_PUSH, so that a push to a repository that does not exist creates it. Decided once,
 * by the first start (of a new data directory, or the first after an upgrade from a berth without
 * templates), per templates.bootstrapRoot; whoever deletes the template gets ECR's behaviour.
 */
async function bootstrapRootTemplate(meta: MetaStore, accountId: string, now: number, create: boolean): Promise<void> {
  await meta.transaction(async (tx) => {
    if ((await tx.settings.get(ROOT_TEMPLATE_MARK)) !== undefined) return;
    await tx.settings.set(ROOT_TEMPLATE_MARK, create ? 'created' : 'skipped');
    if (!create) return;
    await tx.creationTemplates.create(rootTemplate(accountId, now));
  });
}

/** The ROOT template for CREATE_ON_PUSH that a new account gets (made on first start, or with the account). */
function rootTemplate(accountId: string, now: number, made: 'on first start' | 'with the account' = 'on first start'): CreationTemplateRow {
  const template: CreationTemplate = {
    description: `Created by berth ${made}: a push to a repository that does not exist creates it. Delete it to require CreateRepository (or a template for the prefix).`,
    encryptionConfiguration: { encryptionType: 'AES256' },
    resourceTags: [],
    imageTagMutability: 'MUTABLE',
    appliedFor: ['CREATE_ON_PUSH'],
  };
  return { accountId, prefix: ROOT_PREFIX, template: { ...template }, createdAt: now, updatedAt: now };
}

/** Whether `sealed` is `secret` sealed with this keyring (not null, not another deployment's). */
function opens(keyring: Keyring, sealed: string | null | undefined, secret: string): boolean {
  if (sealed === null || sealed === undefined) return false;
  try {
    return keyring.decrypt(sealed) === secret;
  } catch {
    return false;
  }
}

export function credentialsFileExists(config: Config): boolean {
  return existsSync(join(config.dataDir, CREDENTIALS_FILE));
}
