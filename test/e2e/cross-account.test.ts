// Cross-account pulls with a standard client: account B asks GetAuthorizationToken for account A's
// registry (registryIds), logs skopeo in with that token, and pulls A's repository exactly when A's
// repository policy grants B; the same token cannot push there, and B's own token addresses B's
// registry. (ECR puts the account in the host name, <account>.dkr.ecr...; berth puts it in the token:
// docs/adr/0012-cross-account-addressing.md.)
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GetAuthorizationTokenCommand, SetRepositoryPolicyCommand, CreateRepositoryCommand, DescribeImagesCommand } from '@aws-sdk/client-ecr';
import type { Fixture } from '../fixtures/build.ts';
import { childEnv } from '../helpers/server.ts';
import { addAccount, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';
import { Cleanup, assertDirMatches, describeRun, loadFixtures, makeTempDir, missingTools, run, type RunResult } from './support.ts';

const B = '444455556666';
const REPO = 'team/app';

describe('cross-account pulls with skopeo and a login token for the other registry', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let t: EcrTestApp;
  let b: Awaited<ReturnType<typeof addAccount>>;
  let tiny: Fixture;
  let work: string;
  let A: string;

  before(async () => {
    skip = missingTools([['skopeo', 'skopeo']]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures(['tiny']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    tiny = loaded.fixtures.tiny;
    work = await makeTempDir('cross-account');
    cleanup.dir(work);
    t = await startEcrApp();
    A = t.app.boot.accountId;
    b = await addAccount(t, B);
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    const r = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${t.accessKeyId}:${t.secretAccessKey}`, tiny.source, ref(`${REPO}:latest`)]);
    assert.equal(r.code, 0, describeRun(r));
  });

  after(async () => {
    await t?.close();
    await cleanup.run();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }

  function ref(repoAndTag: string): string {
    return `docker://${t.host}/${repoAndTag}`;
  }

  async function skopeo(args: string[]): Promise<RunResult> {
    const env = childEnv({ HOME: work, XDG_RUNTIME_DIR: work, REGISTRY_AUTH_FILE: join(work, 'auth.json'), TMPDIR: work });
    return await run('skopeo', ['--insecure-policy', ...args], { env, timeoutMs: 120_000 });
  }

  /** `AWS:<token>` for the registries asked (the caller's own when none). */
  async function loginFor(registryIds?: string[]): Promise<string> {
    const r = await b.ecr.send(new GetAuthorizationTokenCommand(registryIds === undefined ? {} : { registryIds }));
    return Buffer.from(r.authorizationData?.[0]?.authorizationToken ?? '', 'base64').toString('utf8');
  }

  test('refused until A\'s repository policy grants B, then pulled byte for byte', async (c) => {
    if (skipped(c)) return;
    const creds = await loginFor([A]);
    assert.match(creds, /^AWS:/);
    const denied = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, ref(`${REPO}:latest`)]);
    assert.notEqual(denied.code, 0, describeRun(denied));
    assert.match(denied.stderr, /denied|not authorized/i, describeRun(denied));

    await t.ecr.send(
      new SetRepositoryPolicyCommand({
        repositoryName: REPO,
        policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'PullFromB', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'] }] }),
      }),
    );
    const dir = join(work, 'pulled');
    const pulled = await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--src-creds', creds, ref(`${REPO}:latest`), `dir:${dir}`]);
    assert.equal(pulled.code, 0, describeRun(pulled));
    await assertDirMatches(dir, tiny);
  });

  test('the same token cannot push to A, and B\'s own token addresses B\'s registry', async (c) => {
    if (skipped(c)) return;
    const creds = await loginFor([A]);
    const push = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, tiny.source, ref(`${REPO}:from-b`)]);
    assert.notEqual(push.code, 0, describeRun(push));
    const tags = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO }))).imageDetails?.flatMap((d) => d.imageTags ?? []);
    assert.deepEqual(tags, ['latest'], 'nothing was pushed by B');
    const own = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', await loginFor(), ref(`${REPO}:latest`)]);
    assert.notEqual(own.code, 0, describeRun(own));
    assert.match(own.stderr, /unknown|not found/i, describeRun(own));
  });
});
