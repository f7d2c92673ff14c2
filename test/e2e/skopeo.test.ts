// skopeo against a real berth server: push the fixture images (OCI, Docker schema 2, an OCI index
// with --all), pull them back byte for byte, inspect, list tags, delete, and check that a blob pushed
// to several repositories is stored once.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fixture } from '../fixtures/build.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import {
  Cleanup,
  assertBlobStoreConsistent,
  assertDirMatches,
  assertOciLayoutMatches,
  countStored,
  describeHttp,
  describeRun,
  fixtureBlobPath,
  fixtureConfig,
  fixtureManifest,
  loadFixtures,
  makeTempDir,
  missingTools,
  ociErrorCode,
  skopeo,
  v2,
  type Skopeo,
} from './support.ts';

type Name = 'tiny' | 'tiny-docker' | 'debian' | 'multiarch';

interface Descriptor {
  digest: string;
  platform?: { architecture: string; os: string; variant?: string };
}

/** Where each fixture is pushed. */
const REPO: Record<Name, string> = {
  tiny: 'e2e/tiny:latest',
  'tiny-docker': 'e2e/tiny-docker:latest',
  debian: 'e2e/debian:bookworm',
  multiarch: 'e2e/multiarch:latest',
};

describe('skopeo', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let sk: Skopeo;
  let fx: Record<Name, Fixture>;
  let work: string;
  let creds: string;

  before(async () => {
    skip = missingTools([['skopeo', 'skopeo']]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<Name>(['tiny', 'tiny-docker', 'debian', 'multiarch']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    work = await makeTempDir('skopeo');
    cleanup.dir(work);
    await mkdir(join(work, 'home'));
    server = await startServer();
    cleanup.server(server);
    sk = skopeo(server, join(work, 'home'));
    creds = `${server.accessKeyId}:${server.secretAccessKey}`;
  });

  after(async () => {
    await cleanup.run();
  });

  function skipped(t: TestContext): boolean {
    if (skip === undefined) return false;
    t.skip(skip);
    return true;
  }

  async function pushWithDigest(f: Fixture, repoAndTag: string): Promise<string> {
    const file = join(work, `digest-${Math.random().toString(36).slice(2)}`);
    await sk.ok(['copy', '--all', '--preserve-digests', '--digestfile', file, '--dest-tls-verify=false', '--dest-creds', creds, f.source, sk.ref(repoAndTag)]);
    return (await readFile(file, 'utf8')).trim();
  }

  async function inspect(ref: string, extra: string[] = []): Promise<Record<string, unknown>> {
    const r = await sk.ok(['inspect', '--tls-verify=false', '--creds', creds, ...extra, sk.ref(ref)]);
    return JSON.parse(r.stdout.toString('utf8')) as Record<string, unknown>;
  }

  async function inspectRaw(ref: string, extra: string[] = []): Promise<Buffer> {
    return (await sk.ok(['inspect', '--raw', '--tls-verify=false', '--creds', creds, ...extra, sk.ref(ref)])).stdout;
  }

  test('pushes tiny (OCI), debian (OCI) and tiny-docker (Docker schema 2) keeping their digests', async (t) => {
    if (skipped(t)) return;
    for (const name of ['tiny', 'debian', 'tiny-docker'] as const) {
      const digest = await pushWithDigest(fx[name], REPO[name]);
      assert.equal(digest, fx[name].manifestDigest, `digest of pushed ${name}`);
    }
  });

  test('copies the multiarch index with --all', async (t) => {
    if (skipped(t)) return;
    const digest = await pushWithDigest(fx.multiarch, REPO.multiarch);
    assert.equal(digest, fx.multiarch.manifestDigest);
    // Every child manifest is pullable by digest.
    const index = JSON.parse((await fixtureManifest(fx.multiarch)).toString('utf8')) as { manifests: Descriptor[] };
    assert.equal(index.manifests.length, 2);
    for (const m of index.manifests) {
      const raw = await inspectRaw(`e2e/multiarch@${m.digest}`);
      assert.deepEqual(raw, await readFile(fixtureBlobPath(fx.multiarch, m.digest)), `child manifest ${m.digest}`);
    }
  });

  test('pulls every image back byte for byte', async (t) => {
    if (skipped(t)) return;
    for (const name of ['tiny', 'debian', 'multiarch'] as const) {
      const layout = join(work, `pull-${name}`);
      await sk.pullOci(REPO[name], layout, 'pulled');
      await assertOciLayoutMatches(layout, 'pulled', fx[name]);
    }
    // The oci: transport cannot hold a Docker schema 2 manifest unconverted: pull into dir:.
    const dir = join(work, 'pull-tiny-docker');
    await sk.pullDir(REPO['tiny-docker'], dir);
    await assertDirMatches(dir, fx['tiny-docker']);
  });

  test('inspect shows the image config and --raw returns the pushed manifest bytes', async (t) => {
    if (skipped(t)) return;
    for (const name of ['tiny', 'debian', 'tiny-docker'] as const) {
      const f = fx[name];
      const config = JSON.parse((await fixtureConfig(f)).toString('utf8')) as { architecture: string; os: string };
      const manifest = JSON.parse((await fixtureManifest(f)).toString('utf8')) as { layers: Array<{ digest: string }> };
      const info = await inspect(REPO[name]);
      assert.equal(info.Digest, f.manifestDigest, `${name}: Digest`);
      assert.equal(info.Architecture, config.architecture, `${name}: Architecture`);
      assert.equal(info.Os, config.os, `${name}: Os`);
      assert.deepEqual(info.Layers, manifest.layers.map((l) => l.digest), `${name}: Layers`);
      assert.deepEqual(await inspectRaw(REPO[name]), await fixtureManifest(f), `${name}: inspect --raw`);
      assert.deepEqual(await inspectRaw(REPO[name], ['--config']), await fixtureConfig(f), `${name}: inspect --config --raw`);
      // By digest as well as by tag.
      const byDigest = `${REPO[name].split(':')[0] ?? ''}@${f.manifestDigest}`;
      assert.deepEqual(await inspectRaw(byDigest), await fixtureManifest(f), `${name}: inspect --raw by digest`);
    }

    // The index: raw bytes, and each platform's image through --override-arch.
    assert.deepEqual(await inspectRaw(REPO.multiarch), await fixtureManifest(fx.multiarch), 'multiarch: inspect --raw');
    const index = JSON.parse((await fixtureManifest(fx.multiarch)).toString('utf8')) as { manifests: Descriptor[] };
    for (const m of index.manifests) {
      assert.ok(m.platform !== undefined);
      const child = JSON.parse(await readFile(fixtureBlobPath(fx.multiarch, m.digest), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      const config = JSON.parse(await readFile(fixtureBlobPath(fx.multiarch, child.config.digest), 'utf8')) as { architecture: string; os: string };
      const extra = ['--override-os', m.platform.os, '--override-arch', m.platform.architecture];
      if (m.platform.variant !== undefined) extra.push('--override-variant', m.platform.variant);
      const info = await inspect(REPO.multiarch, extra);
      assert.equal(info.Architecture, config.architecture, `multiarch ${m.platform.architecture}: Architecture`);
      assert.equal(info.Os, config.os);
      assert.deepEqual(info.Layers, child.layers.map((l) => l.digest));
    }
  });

  test('list-tags lists every tag of a repository', async (t) => {
    if (skipped(t)) return;
    for (const tag of ['v1', 'v2', 'a-tag']) await sk.push(fx.tiny, `e2e/tiny:${tag}`);
    const r = await sk.ok(['list-tags', '--tls-verify=false', '--creds', creds, sk.ref('e2e/tiny')]);
    const out = JSON.parse(r.stdout.toString('utf8')) as { Repository: string; Tags: string[] };
    assert.equal(out.Repository, `${server.host}/e2e/tiny`);
    assert.deepEqual([...out.Tags].sort(), ['a-tag', 'latest', 'v1', 'v2']);

    const missing = await sk.run(['list-tags', '--tls-verify=false', '--creds', creds, sk.ref('e2e/does-not-exist')]);
    assert.notEqual(missing.code, 0, describeRun(missing));
    assert.match(missing.stderr, /404|name unknown/i, describeRun(missing));
  });

  test('a wrong secret is refused', async (t) => {
    if (skipped(t)) return;
    const r = await sk.run(['inspect', '--tls-verify=false', '--creds', `${server.accessKeyId}:wrong-secret`, sk.ref(REPO.tiny)]);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /unauthorized/i, describeRun(r));
  });

  test('the same image pushed to other repositories is stored once', async (t) => {
    if (skipped(t)) return;
    for (const name of ['tiny', 'debian', 'tiny-docker'] as const) {
      const digest = await pushWithDigest(fx[name], `e2e/copy-of-${name}:latest`);
      assert.equal(digest, fx[name].manifestDigest);
    }
    // And a registry-to-registry copy (the source is berth itself).
    await sk.ok(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds, '--dest-creds', creds, sk.ref(REPO.debian), sk.ref('e2e/debian-again:bookworm')]);

    const files = await assertBlobStoreConsistent(server.dataDir);
    for (const name of ['tiny', 'debian', 'tiny-docker', 'multiarch'] as const) {
      const f = fx[name];
      const manifests = new Set<string>([f.manifestDigest]);
      if (name === 'multiarch') {
        const index = JSON.parse((await fixtureManifest(f)).toString('utf8')) as { manifests: Descriptor[] };
        for (const m of index.manifests) manifests.add(m.digest);
      }
      for (const d of f.blobs) {
        if (manifests.has(d)) continue;
        assert.equal(countStored(files, d), 1, `${name}: blob ${d} stored ${countStored(files, d)} times in storage/blobs:\n${files.join('\n')}`);
      }
    }

    // The copies pull byte-identical too.
    const layout = join(work, 'pull-debian-again');
    await sk.pullOci('e2e/debian-again:bookworm', layout, 'again');
    await assertOciLayoutMatches(layout, 'again', fx.debian);
    const dir = join(work, 'pull-copy-of-tiny-docker');
    await sk.pullDir('e2e/copy-of-tiny-docker:latest', dir);
    await assertDirMatches(dir, fx['tiny-docker']);
  });

  test('delete by tag and by digest; inspect then fails with manifest unknown', async (t) => {
    if (skipped(t)) return;
    const f = fx.tiny;
    await sk.push(f, 'e2e/del-by-tag:latest');
    await sk.push(f, 'e2e/del-by-digest:latest');
    await sk.push(f, 'e2e/del-by-digest:other');

    await sk.ok(['delete', '--tls-verify=false', '--creds', creds, sk.ref('e2e/del-by-tag:latest')]);
    const gone = await sk.run(['inspect', '--raw', '--tls-verify=false', '--creds', creds, sk.ref('e2e/del-by-tag:latest')]);
    assert.notEqual(gone.code, 0, describeRun(gone));
    assert.match(gone.stderr, /manifest unknown/i, describeRun(gone));

    await sk.ok(['delete', '--tls-verify=false', '--creds', creds, sk.ref(`e2e/del-by-digest@${f.manifestDigest}`)]);
    for (const ref of [`e2e/del-by-digest@${f.manifestDigest}`, 'e2e/del-by-digest:latest', 'e2e/del-by-digest:other']) {
      const r = await sk.run(['inspect', '--raw', '--tls-verify=false', '--creds', creds, sk.ref(ref)]);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /manifest unknown/i, describeRun(r));
    }
    const tags = await sk.ok(['list-tags', '--tls-verify=false', '--creds', creds, sk.ref('e2e/del-by-digest')]);
    assert.deepEqual((JSON.parse(tags.stdout.toString('utf8')) as { Tags: string[] }).Tags, []);

    // Deleting again fails: skopeo looks the manifest up with HEAD (a 404 without a body, hence its
    // vaguer message); the registry's own answer to DELETE is MANIFEST_UNKNOWN.
    const again = await sk.run(['delete', '--tls-verify=false', '--creds', creds, sk.ref(`e2e/del-by-digest@${f.manifestDigest}`)]);
    assert.notEqual(again.code, 0, describeRun(again));
    assert.match(again.stderr, /manifest unknown|may not exist/i, describeRun(again));
    const raw = await v2(server).req('DELETE', `/v2/e2e/del-by-digest/manifests/${f.manifestDigest}`);
    assert.equal(raw.status, 404, describeHttp(raw));
    assert.equal(ociErrorCode(raw), 'MANIFEST_UNKNOWN', describeHttp(raw));

    // The same image in other repositories is untouched.
    const layout = join(work, 'pull-tiny-after-delete');
    await sk.pullOci(REPO.tiny, layout, 'after');
    await assertOciLayoutMatches(layout, 'after', f);
  });
});
