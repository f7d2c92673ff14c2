// An in-process berth with an ECR client of the AWS SDK pointed at it.
import { ECRClient } from '@aws-sdk/client-ecr';
import { createHash, randomBytes } from 'node:crypto';
import { hashSecret, newAccessKeyId, newSecretAccessKey } from '../../src/auth/index.ts';
import { startTestApp, type TestApp, type TestAppOptions } from '../helpers/app.ts';

export interface EcrTestApp extends TestApp {
  ecr: ECRClient;
  /** A client with other credentials or settings. */
  client(overrides?: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; region?: string }): ECRClient;
}

export async function startEcrApp(opts: TestAppOptions = {}): Promise<EcrTestApp> {
  process.env.BERTH_STRICT_ERRORS = '1';
  const t = await startTestApp(opts);
  const client = (o: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; region?: string } = {}): ECRClient =>
    new ECRClient({
      endpoint: t.url,
      region: o.region ?? 'us-east-1',
      credentials: {
        accessKeyId: o.accessKeyId ?? t.accessKeyId,
        secretAccessKey: o.secretAccessKey ?? t.secretAccessKey,
        ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}),
      },
      maxAttempts: 1,
    });
  const ecr = client();
  return {
    ...t,
    ecr,
    client,
    async close() {
      ecr.destroy();
      await t.close();
    },
  };
}

/** The exception a rejected call gives: its name, message and HTTP status. Fails the test if the call succeeded. */
export async function refusal(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('the call succeeded');
}

/** The exception's name and message alone. */
export async function refusalMessage(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  const { name, message } = await refusal(p);
  return { name, message };
}

/** Another account with a root access key in the same berth, and an ECR client signed with it. */
export async function addAccount(t: EcrTestApp, accountId: string): Promise<{ accountId: string; accessKeyId: string; secretAccessKey: string; ecr: ECRClient; auth: string }> {
  const accessKeyId = newAccessKeyId();
  const secretAccessKey = newSecretAccessKey();
  const now = Date.now();
  await t.app.meta.accounts.ensure(accountId, now);
  await t.app.meta.accessKeys.put({ accessKeyId, accountId, userName: 'root', secretHash: await hashSecret(secretAccessKey), secretEnc: t.app.keyring.encrypt(secretAccessKey), status: 'Active', createdAt: now });
  const auth = `Basic ${Buffer.from(`${accessKeyId}:${secretAccessKey}`).toString('base64')}`;
  return { accountId, accessKeyId, secretAccessKey, ecr: t.client({ accessKeyId, secretAccessKey }), auth };
}

/** An IAM user of the app's default account with an access key, and an ECR client signed with it. */
export async function addUser(t: EcrTestApp, name: string): Promise<{ accessKeyId: string; secretAccessKey: string; ecr: ECRClient; auth: string; arn: string }> {
  const accountId = t.app.boot.accountId;
  const accessKeyId = newAccessKeyId();
  const secretAccessKey = newSecretAccessKey();
  const now = Date.now();
  await t.app.meta.iam.create({ accountId, kind: 'user', name, id: `AIDA${randomBytes(8).toString('hex').toUpperCase()}`, path: '/', tags: [], createdAt: now });
  await t.app.meta.accessKeys.put({ accessKeyId, accountId, userName: name, secretHash: await hashSecret(secretAccessKey), secretEnc: t.app.keyring.encrypt(secretAccessKey), status: 'Active', createdAt: now });
  const auth = `Basic ${Buffer.from(`${accessKeyId}:${secretAccessKey}`).toString('base64')}`;
  return { accessKeyId, secretAccessKey, ecr: t.client({ accessKeyId, secretAccessKey }), auth, arn: `arn:aws:iam::${accountId}:user/${name}` };
}

/** `sha256:<hex>` of the bytes. */
export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
