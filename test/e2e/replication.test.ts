// Replication end to end: two berth servers (the source in us-east-1; the destination serving
// us-west-2 with the same account, and a second account there whose registry policy lets the source
// replicate into it) and CNCF Distribution as an "any OCI registry" destination. The configuration is
// made and read with the AWS CLI (put-replication-configuration, describe-registry,
// describe-image-replication-status); images are pushed to the source with skopeo and pulled from
// every destination byte-identical; the destination berth is killed in the middle of replicating a
// large image and, once restarted on its data, receives every image completely.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { Fixture } from '../fixtures/build.ts';
import { distributionMissing, startDistribution, type RunningDistribution } from '../helpers/distribution.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { assertBlobStoreConsistent, assertDirMatches, assertOciLayoutMatches, assertOk, awsCliEnv, Cleanup, describeRun, loadFixtures, makeTempDir, missingTools, run, skopeo, withTimeout, type Skopeo } from './support.ts';

const AWS = '/usr/bin/aws';
const A = '111111111111'; // the source account, and the same account in us-west-2
const B = '222222222222'; // another account of the destination deployment

interface Status {
  region: string;
  registryId: string;
  status: string;
  failureCode?: string;
}

describe('replication between two berths and to Distribution, with the AWS CLI and skopeo', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let source: RunningServer;
  let dest: RunningServer;
  let dist: RunningDistribution;
  let fx: Record<'tiny' | 'multiarch' | 'debian' | 'tiny-docker', Fixture>;
  let work: string;
  let awsSource: Record<string, string>;
  let awsB: Record<string, string>;
  let b: { accessKeyId: string; secretAccessKey: string };
  let destEnv: Record<string, string>;

  const aws = async (env: Record<string, string>, server: RunningServer, args: string[]): Promise<unknown> => {
    const r = assertOk(await run(AWS, ['ecr', ...args, '--endpoint-url', server.url, '--output', 'json'], { env, timeoutMs: 60_000 }), server);
    const text = r.stdout.toString('utf8').trim();
    return text === '' ? {} : JSON.parse(text);
  };
  const statuses = async (repo: string, tag: string): Promise<Status[]> =>
    ((await aws(awsSource, source, ['describe-image-replication-status', '--repository-name', repo, '--image-id', `imageTag=${tag}`])) as { replicationStatuses: Status[] }).replicationStatuses;
  /** The statuses once none is IN_PROGRESS (the CLI asked every 250 ms, for at most two minutes). */
  const settled = async (repo: string, tag: string): Promise<Status[]> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await statuses(repo, tag);
      if (s.length > 0 && s.every((x) => x.status !== 'IN_PROGRESS')) return s;
      assert.ok(Date.now() < deadline, `replication of ${repo}:${tag} settled: ${JSON.stringify(s)}\nsource:\n${source.output().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  /** skopeo pulls of `repo:tag` from each destination match the fixture. */
  const pulledEverywhere = async (repo: string, tag: string, f: Fixture): Promise<void> => {
    const pulls: Array<[string, Skopeo, string[]]> = [
      ['us-west-2, account A', skopeo(dest, join(work, 'skopeo-dest')), []],
      ['us-west-2, account B', skopeo(dest, join(work, 'skopeo-b')), ['--src-creds', `${b.accessKeyId}:${b.secretAccessKey}`]],
    ];
    for (const [what, sk, creds] of pulls) {
      const dir = join(work, `${what.replace(/\W+/g, '-')}-${repo.replace(/\//g, '-')}-${tag}`);
      if (creds.length === 0) await sk.pullDir(`${repo}:${tag}`, dir);
      else await sk.ok(['copy', '--src-tls-verify=false', ...creds, sk.ref(`${repo}:${tag}`), `dir:${dir}`]);
      await assertDirMatches(dir, f);
    }
    const dir = join(work, `distribution-${repo.replace(/\//g, '-')}-${tag}`);
    const r = await run('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${dist.url.replace(/^https?:\/\//, '')}/${repo}:${tag}`, `dir:${dir}`], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TMPDIR: work },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, describeRun(r));
    await assertDirMatches(dir, f);
  };

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
    skip = missingTools([['skopeo', 'skopeo']]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<'tiny' | 'multiarch' | 'debian' | 'tiny-docker'>(['tiny', 'multiarch', 'debian', 'tiny-docker']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    work = await makeTempDir('replication');
    cleanup.dir(work);
    dist = await startDistribution();
    cleanup.add(async () => await dist.close());
    destEnv = { BERTH_REGION: 'us-west-2', BERTH_ACCOUNT_ID: A, BERTH_STRICT_ERRORS: '1' };
    dest = await startServer({ env: destEnv, logLevel: 'info' });
    // Whichever destination process runs at the end is stopped; its data directory goes with it.
    cleanup.add(async () => await rm(dest.dataDir, { recursive: true, force: true }));
    cleanup.add(async () => await withTimeout(dest.stop(), 15_000, 'destination stop').catch(async () => await dest.kill()));
    // Account B of the destination deployment lets the source account replicate into its registry.
    const out: string[] = [];
    const code = await main(['account', 'create', '--id', B, '--json', '--data-dir', dest.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, BERTH_LOG_LEVEL: 'silent' } });
    assert.equal(code, 0, out.join('\n'));
    b = JSON.parse(out.join('\n')) as { accessKeyId: string; secretAccessKey: string };
    awsB = await awsCliEnv(join(work, 'b'), b, { AWS_DEFAULT_REGION: 'us-west-2' });
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'Replication', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: ['ecr:ReplicateImage', 'ecr:CreateRepository'], Resource: `arn:aws:ecr:us-west-2:${B}:repository/*` }],
    };
    await aws(awsB, dest, ['put-registry-policy', '--policy-text', JSON.stringify(policy)]);

    const destinations = {
      'us-west-2': { endpoint: dest.url, accessKeyId: dest.accessKeyId, secretAccessKey: dest.secretAccessKey },
      'dist-local': { type: 'oci', endpoint: dist.url },
    };
    source = await startServer({ env: { BERTH_ACCOUNT_ID: A, BERTH_STRICT_ERRORS: '1', BERTH_REPLICATION_DESTINATIONS: JSON.stringify(destinations) } });
    cleanup.server(source);
    awsSource = await awsCliEnv(join(work, 'source'), source);
  });
  after(async () => {
    await cleanup.run();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }

  test('put-replication-configuration and describe-registry with the AWS CLI', async (c) => {
    if (skipped(c)) return;
    const config = {
      rules: [
        {
          destinations: [
            { region: 'us-west-2', registryId: A },
            { region: 'us-west-2', registryId: B },
            { region: 'dist-local', registryId: A },
          ],
          repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }],
        },
      ],
    };
    const put = (await aws(awsSource, source, ['put-replication-configuration', '--replication-configuration', JSON.stringify(config)])) as { replicationConfiguration: unknown };
    assert.deepEqual(put.replicationConfiguration, config);
    const registry = (await aws(awsSource, source, ['describe-registry'])) as { registryId: string; replicationConfiguration: unknown };
    assert.equal(registry.registryId, A);
    assert.deepEqual(registry.replicationConfiguration, config);
    // A destination in a region berth cannot reach is refused, and the configuration stays.
    const bad = await run(AWS, ['ecr', 'put-replication-configuration', '--replication-configuration', JSON.stringify({ rules: [{ destinations: [{ region: 'eu-west-3', registryId: A }] }] }), '--endpoint-url', source.url], { env: awsSource });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /InvalidParameterException.*eu-west-3/);
    assert.deepEqual(((await aws(awsSource, source, ['describe-registry'])) as { replicationConfiguration: unknown }).replicationConfiguration, config);
  });

  test('images pushed with skopeo arrive byte-identical in the other region, the other account and Distribution', async (c) => {
    if (skipped(c)) return;
    const sk = skopeo(source, join(work, 'skopeo-source'));
    await sk.push(fx.tiny, 'prod/tiny:1.0');
    await sk.push(fx.multiarch, 'prod/multi:latest');
    await sk.push(fx.tiny, 'dev/tiny:1.0');
    const expected = [
      { region: 'dist-local', registryId: A, status: 'COMPLETE' },
      { region: 'us-west-2', registryId: A, status: 'COMPLETE' },
      { region: 'us-west-2', registryId: B, status: 'COMPLETE' },
    ];
    assert.deepEqual(await settled('prod/tiny', '1.0'), expected);
    assert.deepEqual(await settled('prod/multi', 'latest'), expected);
    assert.deepEqual(await statuses('dev/tiny', '1.0'), [], 'not covered by the filter');
    await pulledEverywhere('prod/tiny', '1.0', fx.tiny);
    // The index with every platform: an oci layout pull from the destination keeps every digest.
    const layout = join(work, 'multi-from-dest');
    const sk2 = skopeo(dest, join(work, 'skopeo-dest-multi'));
    await sk2.pullOci('prod/multi:latest', layout, 'latest');
    await assertOciLayoutMatches(layout, 'latest', fx.multiarch);
    // The destination's describe-images sees the replicated repository as its own.
    const awsDest = await awsCliEnv(join(work, 'dest'), dest, { AWS_DEFAULT_REGION: 'us-west-2' });
    const images = (await aws(awsDest, dest, ['describe-images', '--repository-name', 'prod/tiny'])) as { imageDetails: Array<{ imageDigest: string; imageTags: string[] }> };
    assert.deepEqual(images.imageDetails.map((i) => [i.imageDigest, i.imageTags]), [[fx.tiny.manifestDigest, ['1.0']]]);
  });

  test('a destination killed in the middle of a replication receives every image completely once it restarts', async (c) => {
    if (skipped(c)) return;
    const sk = skopeo(source, join(work, 'skopeo-source'));
    await sk.push(fx['tiny-docker'], 'prod/docker:1.0');
    const uploads = (): number => dest.output().split('\n').filter((l) => l.includes('"op":"upload.start"') && l.includes('"repository":"prod/debian"')).length;
    const pushed = sk.push(fx.debian, 'prod/debian:bookworm');
    // The debian image has a config and a large layer: once the layer's upload session is open at
    // the destination, its bytes are on their way; that is when the destination dies.
    await withTimeout(
      (async () => {
        while (uploads() < 2) await new Promise((r) => setTimeout(r, 5));
      })(),
      120_000,
      'the destination starting the upload of the large layer',
    );
    await dest.kill();
    await pushed;
    const during = (await statuses('prod/debian', 'bookworm')).filter((s) => s.region === 'us-west-2');
    assert.deepEqual(during.map((s) => s.status), ['IN_PROGRESS', 'IN_PROGRESS'], 'killed while replicating to us-west-2');
    await new Promise((r) => setTimeout(r, 1000));
    dest = await startServer({ dataDir: dest.dataDir, port: dest.port, env: destEnv, logLevel: 'info' });
    const expected = [
      { region: 'dist-local', registryId: A, status: 'COMPLETE' },
      { region: 'us-west-2', registryId: A, status: 'COMPLETE' },
      { region: 'us-west-2', registryId: B, status: 'COMPLETE' },
    ];
    assert.deepEqual(await settled('prod/debian', 'bookworm'), expected);
    assert.match(source.output(), /replication failed; it is retried/, 'the jobs failed while the destination was down and were tried again');
    assert.deepEqual(await settled('prod/docker', '1.0'), expected);
    await pulledEverywhere('prod/debian', 'bookworm', fx.debian);
    await pulledEverywhere('prod/docker', '1.0', fx['tiny-docker']);
    // Nothing half-written is visible in the destination's blob store.
    await assertBlobStoreConsistent(dest.dataDir);
  });
});
