// The upstream client against the real CNCF Distribution (Debian's docker-registry, 2.8): anonymous,
// htpasswd Basic and token authentication.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { digestOf } from '../core/digest.ts';
import { MT } from '../core/media-types.ts';
import { distributionMissing, startDistribution, tokenAuthMissing, type RunningDistribution } from '../../test/helpers/distribution.ts';
import { isUpstream } from './fake-registry.ts';
import { RegistryClient, type Credentials } from './index.ts';

interface Blob {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

function blob(bytes: Buffer, mediaType: string): Blob {
  return { bytes, digest: digestOf(bytes), mediaType };
}

function descriptor(b: Blob, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: b.mediaType, digest: b.digest, size: b.bytes.length, ...extra };
}

function json(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc, null, 2));
}

/** A two-platform image: a layer each (a few hundred KiB of gzip, so it streams in many chunks), a config each, a manifest each, an index. */
function makeImage() {
  const platforms = ['amd64', 'arm64'].map((architecture) => {
    const layer = blob(gzipSync(randomBytes(300 * 1024)), MT.ociLayerGzip);
    const config = blob(json({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(randomBytes(8))] } }), MT.ociConfig);
    const manifest = blob(json({ schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor(config), layers: [descriptor(layer)] }), MT.ociManifest);
    return { architecture, layer, config, manifest };
  });
  const index = blob(json({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: platforms.map((p) => descriptor(p.manifest, { platform: { architecture: p.architecture, os: 'linux' } })) }), MT.ociIndex);
  return { platforms, index };
}

/** Pushes the image's blobs (configs as bytes, layers as streams opened per attempt), manifests by digest, the index by tag. */
async function pushImage(client: RegistryClient, repo: string, image: ReturnType<typeof makeImage>, tag: string): Promise<void> {
  for (const p of image.platforms) {
    await client.pushBlob(repo, p.config.digest, p.config.bytes.length, p.config.bytes);
    const chunks = [p.layer.bytes.subarray(0, 100_000), p.layer.bytes.subarray(100_000)];
    await client.pushBlob(repo, p.layer.digest, p.layer.bytes.length, () => Readable.from(chunks));
    assert.equal(await client.putManifest(repo, p.manifest.digest, p.manifest.bytes, MT.ociManifest), p.manifest.digest);
  }
  assert.equal(await client.putManifest(repo, tag, image.index.bytes, MT.ociIndex), image.index.digest);
}

async function readAllOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}


describe('against CNCF Distribution, anonymous', { skip: distributionMissing() }, () => {
  let registry: RunningDistribution;
  let client: RegistryClient;
  const image = makeImage();
  before(async () => {
    registry = await startDistribution();
    client = new RegistryClient({ baseUrl: registry.url, retryDelayMs: 50 });
    await pushImage(client, 'lib/app', image, 'v1');
  });
  after(() => registry?.close());

  test('the pushed image comes back byte-identical', async () => {
    const index = await client.getManifest('lib/app', 'v1');
    assert.deepEqual(index, { body: image.index.bytes, mediaType: MT.ociIndex, digest: image.index.digest });
    for (const p of image.platforms) {
      const m = await client.getManifest('lib/app', p.manifest.digest);
      assert.deepEqual(m, { body: p.manifest.bytes, mediaType: MT.ociManifest, digest: p.manifest.digest });
      assert.deepEqual(await readAllOf(await client.openBlob('lib/app', p.layer.digest)), p.layer.bytes);
      assert.deepEqual(await readAllOf(await client.openBlob('lib/app', p.config.digest)), p.config.bytes);
    }
  });

  test('HEAD of manifests and blobs', async () => {
    assert.deepEqual(await client.headManifest('lib/app', 'v1'), { digest: image.index.digest, mediaType: MT.ociIndex, size: image.index.bytes.length });
    assert.equal(await client.headManifest('lib/app', 'v2'), undefined);
    const layer = image.platforms[0]?.layer;
    assert.ok(layer !== undefined);
    assert.deepEqual(await client.statBlob('lib/app', layer.digest), { digest: layer.digest, size: layer.bytes.length });
    assert.equal(await client.blobExists('lib/app', digestOf('never pushed')), false);
  });

  test('unknown manifests and blobs are not-found with the registry code', async () => {
    await assert.rejects(client.getManifest('lib/app', 'v2'), isUpstream('not-found', (e) => assert.equal(e.code, 'MANIFEST_UNKNOWN')));
    await assert.rejects(client.openBlob('lib/app', digestOf('never pushed')), isUpstream('not-found', (e) => assert.equal(e.code, 'BLOB_UNKNOWN')));
  });

  test('a Docker schema 2 manifest keeps its media type', async () => {
    const layer = blob(gzipSync(Buffer.from('docker layer')), MT.dockerLayer);
    const config = blob(json({ architecture: 'amd64', os: 'linux' }), MT.dockerConfig);
    const manifest = blob(json({ schemaVersion: 2, mediaType: MT.dockerManifest, config: descriptor(config), layers: [descriptor(layer)] }), MT.dockerManifest);
    await client.pushBlob('lib/docker', layer.digest, layer.bytes.length, layer.bytes);
    await client.pushBlob('lib/docker', config.digest, config.bytes.length, config.bytes);
    await client.putManifest('lib/docker', 'latest', manifest.bytes, MT.dockerManifest);
    assert.deepEqual(await client.getManifest('lib/docker', 'latest'), { body: manifest.bytes, mediaType: MT.dockerManifest, digest: manifest.digest });
  });

  test('cross-repository mount', async () => {
    const layer = image.platforms[0]?.layer;
    assert.ok(layer !== undefined);
    assert.equal(await client.blobExists('other/app', layer.digest), false);
    assert.equal(await client.mountBlob('other/app', layer.digest, 'lib/app'), true);
    assert.equal(await client.blobExists('other/app', layer.digest), true);
    assert.deepEqual(await readAllOf(await client.openBlob('other/app', layer.digest)), layer.bytes);
    assert.equal(await client.mountBlob('other/app', digestOf('not anywhere'), 'lib/app'), false);
  });

  test('tags are listed', async () => {
    await pushImage(client, 'lib/tags', image, 'a');
    for (const tag of ['c', 'b']) await client.putManifest('lib/tags', tag, image.index.bytes, MT.ociIndex);
    // Distribution 2.8 ignores `n` and answers every tag, unsorted; pagination is tested with the fake registry.
    assert.deepEqual((await client.listTags('lib/tags', 1)).sort(), ['a', 'b', 'c']);
    assert.deepEqual((await client.listTags('lib/tags')).sort(), ['a', 'b', 'c']);
  });

  test('referrers through the tag schema (Distribution 2.8 has no referrers API)', async () => {
    const subject = image.platforms[0]?.manifest;
    assert.ok(subject !== undefined);
    const empty = blob(Buffer.from('{}'), MT.ociEmpty);
    const sbom = blob(Buffer.from('{"spdxVersion":"SPDX-2.3"}'), 'application/spdx+json');
    await client.pushBlob('lib/app', empty.digest, empty.bytes.length, empty.bytes);
    await client.pushBlob('lib/app', sbom.digest, sbom.bytes.length, sbom.bytes);
    const artifact = blob(
      json({ schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/spdx+json', config: descriptor(empty), layers: [descriptor(sbom)], subject: descriptor(subject) }),
      MT.ociManifest,
    );
    await client.putManifest('lib/app', artifact.digest, artifact.bytes, MT.ociManifest);
    const entry = { ...descriptor(artifact), artifactType: 'application/spdx+json' };
    // What a pushing client does on a registry without the referrers API.
    const tagIndex = json({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [entry] });
    await client.putManifest('lib/app', `sha256-${subject.digest.slice('sha256:'.length)}`, tagIndex, MT.ociIndex);

    assert.deepEqual(await client.getReferrers('lib/app', subject.digest), [entry]);
    assert.deepEqual(await client.getReferrers('lib/app', subject.digest, 'application/spdx+json'), [entry]);
    assert.deepEqual(await client.getReferrers('lib/app', subject.digest, 'application/other'), []);
    assert.deepEqual(await client.getReferrers('lib/app', image.index.digest), []);
  });

  test('content that does not match its digest is never committed', async () => {
    const real = Buffer.from('the real layer');
    await assert.rejects(client.pushBlob('lib/app', digestOf(real), real.length, () => Readable.from([Buffer.from('a fake layer!!')])), isUpstream('digest-mismatch'));
    assert.equal(await client.blobExists('lib/app', digestOf(real)), false);
  });
});

describe('against CNCF Distribution with htpasswd Basic auth', { skip: distributionMissing() }, () => {
  let registry: RunningDistribution;
  const alice: Credentials = { username: 'alice', password: 'wonderland-pass' };
  before(async () => {
    registry = await startDistribution({ auth: 'htpasswd', users: { alice: alice.password } });
  });
  after(() => registry?.close());

  test('with credentials: push and pull', async () => {
    const client = new RegistryClient({ baseUrl: registry.url, credentials: alice });
    const image = makeImage();
    await pushImage(client, 'team/app', image, 'v1');
    assert.deepEqual((await client.getManifest('team/app', 'v1')).body, image.index.bytes);
    const layer = image.platforms[1]?.layer;
    assert.ok(layer !== undefined);
    assert.deepEqual(await readAllOf(await client.openBlob('team/app', layer.digest)), layer.bytes);
  });

  test('without or with wrong credentials: unauthorized', async () => {
    await assert.rejects(new RegistryClient({ baseUrl: registry.url }).listTags('team/app'), isUpstream('unauthorized', (e) => assert.match(e.message, /Basic credentials and none are configured/)));
    await assert.rejects(
      new RegistryClient({ baseUrl: registry.url, credentials: { username: 'alice', password: 'not-her-password' } }).listTags('team/app'),
      isUpstream('unauthorized', (e) => {
        assert.equal(e.status, 401);
        assert.ok(!e.message.includes('not-her-password'));
      }),
    );
  });
});

describe('against CNCF Distribution with token auth', { skip: tokenAuthMissing() }, () => {
  let registry: RunningDistribution;
  const bob: Credentials = { username: 'bob', password: 'builder-pass' };
  before(async () => {
    registry = await startDistribution({ auth: 'token', users: { bob: bob.password } });
  });
  after(() => registry?.close());

  test('with credentials: push, pull, mount across repositories, tokens reused', async () => {
    const client = new RegistryClient({ baseUrl: registry.url, credentials: bob });
    const image = makeImage();
    await pushImage(client, 'team/app', image, 'v1');
    assert.deepEqual((await client.getManifest('team/app', 'v1')).body, image.index.bytes);
    const before = registry.tokenRequests();
    assert.deepEqual((await client.getManifest('team/app', 'v1')).body, image.index.bytes);
    assert.equal(registry.tokenRequests(), before, 'the pull token is cached');

    const layer = image.platforms[0]?.layer;
    assert.ok(layer !== undefined);
    assert.equal(await client.mountBlob('team/copy', layer.digest, 'team/app'), true);
    assert.deepEqual(await readAllOf(await client.openBlob('team/copy', layer.digest)), layer.bytes);
    assert.deepEqual(await client.listTags('team/app'), ['v1']);
  });

  test('anonymous gets a token without access, then unauthorized; wrong passwords are refused at the token endpoint', async () => {
    await assert.rejects(new RegistryClient({ baseUrl: registry.url }).getManifest('team/app', 'v1'), isUpstream('unauthorized', (e) => assert.equal(e.code, 'UNAUTHORIZED')));
    await assert.rejects(
      new RegistryClient({ baseUrl: registry.url, credentials: { username: 'bob', password: 'guess' } }).getManifest('team/app', 'v1'),
      isUpstream('unauthorized', (e) => {
        assert.match(e.message, /token endpoint refused the configured credentials/);
        assert.ok(!e.message.includes('guess'));
      }),
    );
  });
});
