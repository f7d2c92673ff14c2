// An in-process berth with an ECR client of the AWS SDK pointed at it.
import { ECRClient } from '@aws-sdk/client-ecr';
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
