// First-start bootstrap: the default account and its root credentials.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { hashSecret, newAccessKeyId, newAccountId, newSecretAccessKey, verifySecret, type Keyring } from '../auth/index.ts';

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
  const credentialsFile = join(config.dataDir, CREDENTIALS_FILE);

  const { accessKeyId, secretAccessKey } = config.root;
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    const existing = await meta.accessKeys.get(accessKeyId);
    if (existing !== undefined && existing.accountId !== accountId) {
      throw new Error(`access key ${accessKeyId} belongs to account ${existing.accountId}, not the default account ${accountId}`);
    }
    if (existing === undefined || existing.status !== 'Active' || !opens(keyring, existing.secretEnc, secretAccessKey) || !(await verifySecret(secretAccessKey, existing.secretHash))) {
      await meta.accessKeys.put({
        accessKeyId,
        accountId,
        userName: 'root',
        secretHash: await hashSecret(secretAccessKey),
        secretEnc: keyring.encrypt(secretAccessKey),
        status: 'Active',
        createdAt: existing?.createdAt ?? now,
      });
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
  await meta.accessKeys.put({ accessKeyId: id, accountId, userName: 'root', secretHash: await hashSecret(secret), secretEnc: keyring.encrypt(secret), status: 'Active', createdAt: now });
  return { accountId, rootAccessKeyId: id, generatedSecret: secret, credentialsFile };
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
