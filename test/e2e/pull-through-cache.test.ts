// The pull-through cache end to end: CNCF Distribution (/usr/bin/docker-registry) as the upstream,
// without and with authentication (htpasswd credentials kept in berth's secrets store), rules made
// with the AWS CLI (and the SDK for what Debian's CLI predates), images pulled through berth with
// skopeo (a multi-arch index, every digest preserved) and podman, a tag that changes upstream, and
// the upstream going away while the cache keeps serving.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreatePullThroughCacheRuleCommand, ECRClient, ValidatePullThroughCacheRuleCommand } from '@aws-sdk/client-ecr';
import { main } from '../../src/cli/main.ts';
import type { Fixture } from '../fixtures/build.ts';
import { distributionMissing, startDistribution, type RunningDistribution } from '../helpers/distribution.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { assertOk, awsCliEnv, Cleanup, describeRun, loadFixtures, makeTempDir, missingTools, podmanSandbox, run, skopeo, type RunResult, type Skopeo } from './support.ts';

const AWS = '/usr/bin/aws';

describe('pull-through cache with Distribution upstreams, skopeo and podman', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let open: RunningDistribution;
  let locked: RunningDistribution;
  let sk: Skopeo;
  let fx: Record<'tiny' | 'tiny-docker' | 'multiarch', Fixture>;
  let work: string;
  let awsEnv: Record<string, string>;
  let ecr: ECRClient;
  let podman: (args: string[]) => Promise<RunResult>;

  /** skopeo copy into a Distribution (all images, digests kept). */
  async function seed(d: RunningDistribution, f: Fixture, ref: string, creds?: string): Promise<void> {
    const r = await run('skopeo', ['--insecure-policy', 'copy', '--all', '--preserve-digests', '--dest-tls-verify=false', ...(creds !== undefined ? ['--dest-creds', creds] : []), f.source, `docker://${d.url.replace(/^https?:\/\//, '')}/${ref}`], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TMPDIR: work },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, describeRun(r));
  }

  before(async () => {
    if (!existsSync(AWS)) {
      skip = `SKIP: ${AWS} not found (install the Debian package 'awscli')`;
      return;
    }
    const missing = distributionMissing();
    if (missing !== false) {
      skip = missing;
      return;
    }
    skip = missingTools([
      ['skopeo', 'skopeo'],
      ['podman', 'podman'],
    ]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<'tiny' | 'tiny-docker' | 'multiarch'>(['tiny', 'tiny-docker', 'multiarch']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    work = await makeTempDir('pull-through');
    cleanup.dir(work);
    open = await startDistribution();
    locked = await startDistribution({ auth: 'htpasswd', users: { alice: 'wonderland' } });
    await seed(open, fx.multiarch, 'team/multi:latest');
    await seed(open, fx.tiny, 'library/tiny:moving');
    await seed(locked, fx.tiny, 'private/app:1.0', 'alice:wonderland');
    server = await startServer({ env: { BERTH_STRICT_ERRORS: '1', BERTH_PULL_THROUGH_CACHE_REVALIDATE_AFTER: '1s' } });
    cleanup.server(server);
    awsEnv = await awsCliEnv(work, server);
    ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    sk = skopeo(server, join(work, 'skopeo-home'));
    const sandbox = await podmanSandbox(join(work, 'podman'));
    podman = async (args) => await run('podman', [...sandbox.flags, ...args], { env: sandbox.env, timeoutMs: 180_000 });
  });
  after(async () => {
    await cleanup.run();
    await open?.close();
    await locked?.close();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }
  async function awsJson<T>(args: string[]): Promise<T> {
    const r = assertOk(await run(AWS, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: awsEnv, timeoutMs: 120_000 }), server);
    const text = r.stdout.toString('utf8').trim();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }
  async function berth(args: string[]): Promise<string[]> {
    const out: string[] = [];
    const code = await main([...args, '--data-dir', server.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, BERTH_LOG_LEVEL: 'silent' } });
    assert.equal(code, 0, out.join('\n'));
    return out;
  }
  const indexDigest = async (layout: string): Promise<string> => ((JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]?.digest ?? '');

  test('rules with the AWS CLI; a multi-arch index pulled through with skopeo keeps every digest and is cached', async (c) => {
    if (skipped(c)) return;
    const rule = await awsJson<{ ecrRepositoryPrefix: string; upstreamRegistryUrl: string }>(['ecr', 'create-pull-through-cache-rule', '--ecr-repository-prefix', 'dist', '--upstream-registry-url', open.url]);
    assert.equal(rule.ecrRepositoryPrefix, 'dist');
    const described = await awsJson<{ pullThroughCacheRules: Array<{ ecrRepositoryPrefix: string }> }>(['ecr', 'describe-pull-through-cache-rules']);
    assert.deepEqual(described.pullThroughCacheRules.map((r) => r.ecrRepositoryPrefix), ['dist']);
    const valid = await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'dist' }));
    assert.equal(valid.isValid, true, valid.failure);

    await sk.pullOci('dist/team/multi:latest', join(work, 'multi'), 'latest');
    assert.equal(await indexDigest(join(work, 'multi')), fx.multiarch.manifestDigest, 'the index digest is the upstream one');
    // Cached: the same pull with the upstream's copy deleted from berth's view is local (checked below).
    const images = await awsJson<{ imageDetails: Array<{ imageDigest: string; imageTags?: string[] }> }>(['ecr', 'describe-images', '--repository-name', 'dist/team/multi']);
    for (let i = 0; images.imageDetails.every((d) => d.imageDigest !== fx.multiarch.manifestDigest) && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      images.imageDetails = (await awsJson<typeof images>(['ecr', 'describe-images', '--repository-name', 'dist/team/multi'])).imageDetails;
    }
    assert.ok(images.imageDetails.some((d) => d.imageDigest === fx.multiarch.manifestDigest && d.imageTags?.includes('latest') === true), JSON.stringify(images));
  });

  test('an authenticated upstream: credentials from berth secret, pulled with podman', async (c) => {
    if (skipped(c)) return;
    const arn = (await berth(['secret', 'put', 'dist-alice', '--username', 'alice', '--password', 'wonderland']))[0] ?? '';
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'locked', upstreamRegistryUrl: locked.url, credentialArn: arn }));
    assert.equal((await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'locked' }))).isValid, true);
    const login = await podman(['login', '--tls-verify=false', '-u', server.accessKeyId, '-p', server.secretAccessKey, server.host]);
    assert.equal(login.code, 0, describeRun(login));
    const pulled = await podman(['pull', '--tls-verify=false', `${server.host}/locked/private/app:1.0`]);
    assert.equal(pulled.code, 0, describeRun(pulled));
    const inspect = await podman(['image', 'inspect', '--format', '{{.Digest}}', `${server.host}/locked/private/app:1.0`]);
    assert.equal(inspect.stdout.toString().trim(), fx.tiny.manifestDigest);
    // A rule with wrong credentials is reported invalid, and pulls through it fail clearly.
    const wrong = (await berth(['secret', 'put', 'dist-wrong', '--username', 'alice', '--password', 'nope']))[0] ?? '';
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'wrong', upstreamRegistryUrl: locked.url, credentialArn: wrong }));
    const invalid = await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'wrong' }));
    assert.equal(invalid.isValid, false);
    assert.match(invalid.failure ?? '', /401|unauthorized/i);
    const refused = await sk.run(['inspect', '--tls-verify=false', '--creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref('wrong/private/app:1.0')]);
    assert.notEqual(refused.code, 0);
  });

  test('a tag that changes upstream is seen after the revalidation period; with the upstream gone the cache still serves', async (c) => {
    if (skipped(c)) return;
    await sk.pullOci('dist/library/tiny:moving', join(work, 'moving-1'), 'm');
    assert.equal(await indexDigest(join(work, 'moving-1')), fx.tiny.manifestDigest);
    await seed(open, fx['tiny-docker'], 'library/tiny:moving');
    await new Promise((r) => setTimeout(r, 1200));
    await sk.pullDir('dist/library/tiny:moving', join(work, 'moving-2'));
    const manifest = await readFile(join(work, 'moving-2', 'manifest.json'));
    assert.equal(`sha256:${(await import('node:crypto')).createHash('sha256').update(manifest).digest('hex')}`, fx['tiny-docker'].manifestDigest, 'the moved tag');
    // Wait for the import, then take the upstream away.
    for (let i = 0; i < 100; i++) {
      const d = await awsJson<{ imageDetails: Array<{ imageDigest: string; imageTags?: string[] }> }>(['ecr', 'describe-images', '--repository-name', 'dist/library/tiny']);
      if (d.imageDetails.some((x) => x.imageDigest === fx['tiny-docker'].manifestDigest && x.imageTags?.includes('moving') === true)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await open.close();
    await new Promise((r) => setTimeout(r, 1200)); // past the revalidation period: the check fails, the cache serves
    await sk.pullDir('dist/library/tiny:moving', join(work, 'moving-3'));
    await sk.pullOci('dist/team/multi:latest', join(work, 'multi-again'), 'latest');
    assert.equal(await indexDigest(join(work, 'multi-again')), fx.multiarch.manifestDigest);
    const missing = await sk.run(['inspect', '--tls-verify=false', '--creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref('dist/never/pulled:latest')]);
    assert.notEqual(missing.code, 0, 'nothing cached and no upstream: a clear failure');
  });
});
