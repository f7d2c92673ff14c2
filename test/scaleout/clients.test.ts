// Real clients against scale-out mode: skopeo and podman push through a per-request round-robin
// balancer over three processes (PostgreSQL + S3) and pull back byte for byte, also with blob GETs
// redirected to presigned URLs of the store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_SKIP_REASON, clusterAvailable, startBalancer, startCluster, type Cluster } from '../helpers/cluster.ts';
import type { RunningServer } from '../helpers/server.ts';
import { childEnv } from '../helpers/server.ts';
import { Cleanup, assertOciLayoutMatches, loadFixtures, makeTempDir, missingTools, run, assertOk, skopeo } from '../e2e/support.ts';
import type { Fixture } from '../fixtures/build.ts';

const skip = !clusterAvailable() ? CLUSTER_SKIP_REASON : (missingTools([['skopeo', 'skopeo'], ['podman', 'podman']]) ?? false);

describe('skopeo and podman against three processes behind a round-robin balancer', { skip }, () => {
  const cleanup = new Cleanup();
  let cluster: Cluster;
  let lb: Awaited<ReturnType<typeof startBalancer>>;
  let front: RunningServer;
  let fx: Record<'tiny' | 'debian' | 'multiarch', Fixture>;
  let home: string;

  let fixturesMissing: string | undefined;

  before(async () => {
    const loaded = await loadFixtures(['tiny', 'debian', 'multiarch'] as const);
    if ('skip' in loaded) {
      fixturesMissing = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    cluster = await startCluster(3);
    cleanup.add(() => cluster.close());
    lb = await startBalancer(() => cluster.processes.map((p) => p.url));
    cleanup.add(() => lb.close());
    front = { ...(cluster.processes[0] as RunningServer), url: lb.url, host: lb.host };
    home = await makeTempDir('berth-scale-clients-');
  });
  after(async () => {
    await cleanup.run();
  });

  test('skopeo copy --all pushes the index, the Debian image and the tiny one; pulls come back identical from each process', async (t) => {
    if (fixturesMissing !== undefined) return t.skip(fixturesMissing);
    const sk = skopeo(front, home);
    await sk.push(fx.multiarch, 'scale/multiarch:latest');
    await sk.push(fx.debian, 'scale/debian:bookworm');
    await sk.push(fx.tiny, 'scale/tiny:latest');
    assert.ok(lb.counts.size === 3, `the pushes reached ${lb.counts.size} processes`);
    for (const [i, p] of cluster.processes.entries()) {
      const direct = skopeo(p, home);
      for (const [name, repo] of [['tiny', 'scale/tiny:latest'], ['debian', 'scale/debian:bookworm'], ['multiarch', 'scale/multiarch:latest']] as const) {
        const layout = join(home, `pull-${i}-${name}`);
        await direct.pullOci(repo, layout, 'x');
        await assertOciLayoutMatches(layout, 'x', fx[name]);
      }
    }
  });

  test('podman pushes through the balancer and pulls back the same image', async (t) => {
    if (fixturesMissing !== undefined) return t.skip(fixturesMissing);
    // A sandbox of its own, as in test/e2e/podman.test.ts (and a short path: podman limits runroot to 50 characters).
    const work = await makeTempDir('p');
    cleanup.dir(work);
    for (const d of ['home', 'runtime', 'config', 'data', 'root', 'runroot', 'tmp']) await mkdir(join(work, d), { mode: 0o700 });
    await writeFile(join(work, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${join(work, 'root')}"\nrunroot = "${join(work, 'runroot')}"\n`);
    await writeFile(join(work, 'containers.conf'), '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
    await writeFile(join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
    await writeFile(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const env = childEnv({
      HOME: join(work, 'home'),
      XDG_RUNTIME_DIR: join(work, 'runtime'),
      XDG_CONFIG_HOME: join(work, 'config'),
      XDG_DATA_HOME: join(work, 'data'),
      TMPDIR: join(work, 'tmp'),
      REGISTRY_AUTH_FILE: join(work, 'auth.json'),
      CONTAINERS_STORAGE_CONF: join(work, 'storage.conf'),
      CONTAINERS_CONF: join(work, 'containers.conf'),
      CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
    });
    const podman = async (args: string[]): Promise<string> =>
      assertOk(
        await run('podman', ['--storage-driver', 'vfs', '--root', join(work, 'root'), '--runroot', join(work, 'runroot'), '--tmpdir', join(work, 'tmp'), '--cgroup-manager=cgroupfs', '--events-backend=file', ...args], { env, timeoutMs: 180_000 }),
      ).stdout.toString();
    await podman(['login', '--tls-verify=false', '-u', front.accessKeyId, '-p', front.secretAccessKey, lb.host]);
    await podman(['pull', '--tls-verify=false', `${lb.host}/scale/tiny:latest`]);
    await podman(['tag', `${lb.host}/scale/tiny:latest`, `${lb.host}/scale/podman:v1`]);
    await podman(['push', '--tls-verify=false', '--format', 'oci', `${lb.host}/scale/podman:v1`]);
    await podman(['rmi', '--all', '--force']);
    await podman(['pull', '--tls-verify=false', `${lb.host}/scale/podman:v1`]);
    const digest = (await podman(['inspect', '--format', '{{.Digest}}', `${lb.host}/scale/podman:v1`])).trim();
    const head = await fetch(`${cluster.processes[2]?.url ?? ''}/v2/scale/podman/manifests/v1`, {
      method: 'HEAD',
      headers: { authorization: `Basic ${Buffer.from(`${front.accessKeyId}:${front.secretAccessKey}`).toString('base64')}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(head.headers.get('docker-content-digest'), digest);
  });
});

describe('blob pulls redirected to presigned URLs of the store', { skip }, () => {
  const cleanup = new Cleanup();
  let cluster: Cluster;
  let fx: Record<'debian', Fixture>;
  let home: string;

  let fixturesMissing: string | undefined;

  before(async () => {
    const loaded = await loadFixtures(['debian'] as const);
    if ('skip' in loaded) {
      fixturesMissing = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    cluster = await startCluster(1, { env: { BERTH_STORAGE_REDIRECT_ENABLED: 'true', BERTH_STORAGE_REDIRECT_EXPIRY: '5m' } });
    cleanup.add(() => cluster.close());
    home = await makeTempDir('berth-redirect-');
  });
  after(async () => {
    await cleanup.run();
  });

  test('GET of a blob answers 307 to the store; skopeo follows it and pulls the image byte for byte', async (t) => {
    if (fixturesMissing !== undefined) return t.skip(fixturesMissing);
    const s = cluster.processes[0] as RunningServer;
    const sk = skopeo(s, home);
    await sk.push(fx.debian, 'redirect/debian:bookworm');
    const layer = fx.debian.blobs[fx.debian.blobs.length - 1] ?? '';
    const auth = `Basic ${Buffer.from(`${s.accessKeyId}:${s.secretAccessKey}`).toString('base64')}`;
    const r = await fetch(`${s.url}/v2/redirect/debian/blobs/${layer}`, { headers: { authorization: auth }, redirect: 'manual' });
    assert.equal(r.status, 307);
    const location = r.headers.get('location') ?? '';
    assert.ok(location.startsWith(cluster.s3.endpoint), `redirected to the store: ${location.slice(0, 80)}`);
    assert.match(location, /X-Amz-Signature=/);
    // The presigned URL needs no registry credentials; a range works on it directly.
    const direct = await fetch(location, { headers: { range: 'bytes=0-9' } });
    assert.equal(direct.status, 206);
    assert.equal(Buffer.from(await direct.arrayBuffer()).length, 10);
    // An unknown blob is still a registry 404, not a redirect.
    const missing = await fetch(`${s.url}/v2/redirect/debian/blobs/sha256:${'0'.repeat(64)}`, { headers: { authorization: auth }, redirect: 'manual' });
    assert.equal(missing.status, 404);
    const layout = join(home, 'pulled');
    await sk.pullOci('redirect/debian:bookworm', layout, 'x');
    await assertOciLayoutMatches(layout, 'x', fx.debian);
  });
});
