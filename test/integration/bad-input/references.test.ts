// Manifests that reference content the repository does not have: missing blobs (also ones held by
// another repository only), blobs of another size, indexes listing missing manifests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import {
  MT,
  assertPullable,
  call,
  expectOciError,
  expectRefused,
  imageManifest,
  pushImage,
  sha256,
  unknownDigest,
  type Descriptor,
  type Image,
  type Reply,
} from './helpers.ts';

const REPO = 'bad-input/refs';
const OTHER = 'bad-input/refs-other';

let t: TestApp;
let image: Image;
let other: Image;

before(async () => {
  t = await startTestApp();
  image = await pushImage(t, REPO, 'v1');
  other = await pushImage(t, OTHER, 'v1');
});
after(async () => {
  await t.close();
});

function put(repo: string, reference: string, doc: unknown, mediaType: string): Promise<Reply> {
  return call(t, 'PUT', `/v2/${repo}/manifests/${reference}`, { body: JSON.stringify(doc), headers: { 'content-type': mediaType } });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function descriptorOf(img: Image): Descriptor {
  return { mediaType: img.mediaType, digest: img.digest, size: img.body.length };
}

describe('an image manifest referencing blobs the repository does not have', () => {
  test('a missing layer: 400 MANIFEST_BLOB_UNKNOWN with the digest in message and detail', async () => {
    const missing = unknownDigest();
    const layers = [...image.layers, { mediaType: MT.ociLayerGzip, digest: missing, size: 10 }];
    const err = await expectRefused(t, {
      send: () => put(REPO, 'next', imageManifest(image.config, layers), MT.ociManifest),
      error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(`references blobs that are not in repository ${escape(REPO)}: ${missing}$`) },
      keep: [image, other],
    });
    assert.deepEqual(err.detail, { missing: [missing] });
  });

  test('a missing config: 400 MANIFEST_BLOB_UNKNOWN naming it', async () => {
    const missing = unknownDigest();
    const err = await expectRefused(t, {
      send: () => put(REPO, 'next', imageManifest({ mediaType: MT.ociConfig, digest: missing, size: 2 }, image.layers), MT.ociManifest),
      error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(missing) },
      keep: [image, other],
    });
    assert.deepEqual(err.detail, { missing: [missing] });
  });

  test('several missing blobs are all named', async () => {
    const a = unknownDigest();
    const b = unknownDigest();
    const err = await expectRefused(t, {
      send: () =>
        put(
          REPO,
          'next',
          imageManifest({ mediaType: MT.ociConfig, digest: a, size: 2 }, [
            { mediaType: MT.ociLayerGzip, digest: b, size: 3 },
            ...image.layers,
          ]),
          MT.ociManifest,
        ),
      error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(`${a}, ${b}$`) },
      keep: [image, other],
    });
    assert.deepEqual(err.detail, { missing: [a, b] });
  });

  test('a blob that only another repository holds: 400 MANIFEST_BLOB_UNKNOWN, and it stays invisible here', async () => {
    const foreign = other.layers[0] as Descriptor;
    const err = await expectRefused(t, {
      send: () => put(REPO, 'next', imageManifest(image.config, [foreign]), MT.ociManifest),
      error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(`not in repository ${escape(REPO)}: ${foreign.digest}$`) },
      keep: [image, other],
    });
    assert.deepEqual(err.detail, { missing: [foreign.digest] });
    expectOciError(await call(t, 'GET', `/v2/${REPO}/blobs/${foreign.digest}`), { status: 404, code: 'BLOB_UNKNOWN', message: /is not in repository bad-input\/refs$/ });
    expectOciError(await call(t, 'HEAD', `/v2/${REPO}/blobs/${foreign.digest}`), { status: 404, code: 'BLOB_UNKNOWN', message: /./, head: true });
  });

  test('a Docker schema 2 manifest with a missing layer: 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = unknownDigest();
    const doc = {
      schemaVersion: 2,
      mediaType: MT.dockerManifest,
      config: { ...image.config, mediaType: 'application/vnd.docker.container.image.v1+json' },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: missing, size: 5 }],
    };
    await expectRefused(t, { send: () => put(REPO, 'next', doc, MT.dockerManifest), error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(missing) }, keep: [image, other] });
  });

  test('a descriptor whose size differs from the stored blob: 400 MANIFEST_INVALID with both sizes', async () => {
    const layer = image.layers[0] as Descriptor;
    for (const size of [layer.size + 1, layer.size - 1, 0]) {
      const err = await expectRefused(t, {
        send: () => put(REPO, 'next', imageManifest(image.config, [{ ...layer, size }]), MT.ociManifest),
        error: { status: 400, code: 'MANIFEST_INVALID', message: new RegExp(`descriptor of ${layer.digest} declares size ${size} but the stored content has ${layer.size} bytes`) },
        keep: [image, other],
      });
      assert.deepEqual(err.detail, { sizes: [{ digest: layer.digest, declared: size, actual: layer.size }] });
    }
    const config = image.config;
    await expectRefused(t, {
      send: () => put(REPO, 'next', imageManifest({ ...config, size: config.size + 100 }, image.layers), MT.ociManifest),
      error: { status: 400, code: 'MANIFEST_INVALID', message: new RegExp(`descriptor of ${config.digest} declares size ${config.size + 100}`) },
      keep: [image, other],
    });
  });
});

describe('an index referencing manifests the repository does not have', () => {
  test('a missing child manifest: 400 MANIFEST_BLOB_UNKNOWN naming it', async () => {
    const missing = unknownDigest();
    const index = {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [descriptorOf(image), { mediaType: MT.ociManifest, digest: missing, size: 500, platform: { architecture: 'arm64', os: 'linux' } }],
    };
    const err = await expectRefused(t, {
      send: () => put(REPO, 'multi', index, MT.ociIndex),
      error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(`the index references manifests that are not in repository ${escape(REPO)}: ${missing}$`) },
      keep: [image, other],
    });
    assert.deepEqual(err.detail, { missing: [missing] });
  });

  test('a child manifest that only another repository holds: 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [descriptorOf(other)] };
    const err = await expectRefused(t, {
      send: () => put(REPO, 'multi', index, MT.ociIndex),
      error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(other.digest) },
      keep: [image, other],
    });
    assert.deepEqual(err.detail, { missing: [other.digest] });
  });

  test('a Docker manifest list with a missing child: 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = unknownDigest();
    const list = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [{ mediaType: MT.dockerManifest, digest: missing, size: 7, platform: { architecture: 'amd64', os: 'linux' } }] };
    await expectRefused(t, { send: () => put(REPO, 'multi', list, list.mediaType), error: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: new RegExp(missing) }, keep: [image, other] });
  });

  test('a child descriptor whose size differs from the stored manifest: 400 MANIFEST_INVALID', async () => {
    const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ ...descriptorOf(image), size: image.body.length + 1 }] };
    await expectRefused(t, {
      send: () => put(REPO, 'multi', index, MT.ociIndex),
      error: { status: 400, code: 'MANIFEST_INVALID', message: new RegExp(`descriptor of ${image.digest} declares size ${image.body.length + 1} but the stored content has ${image.body.length} bytes`) },
      keep: [image, other],
    });
  });

  test('nothing of a refused index is visible: no tag, no manifest by digest', async () => {
    const missing = unknownDigest();
    const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: missing, size: 1 }] };
    const body = JSON.stringify(index);
    assert.equal((await put(REPO, 'multi', index, MT.ociIndex)).status, 400);
    expectOciError(await call(t, 'GET', `/v2/${REPO}/manifests/multi`), { status: 404, code: 'MANIFEST_UNKNOWN', message: /manifest tagged "multi" is not in repository/ });
    const digest = sha256(body);
    expectOciError(await call(t, 'GET', `/v2/${REPO}/manifests/${digest}`), { status: 404, code: 'MANIFEST_UNKNOWN', message: /is not in repository/ });
    const tags = await call(t, 'GET', `/v2/${REPO}/tags/list`);
    assert.deepEqual(JSON.parse(tags.text), { name: REPO, tags: ['v1'] });
    await assertPullable(t, image);
  });
});
