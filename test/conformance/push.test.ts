// OCI distribution-spec v1.1 conformance, workflow "Push": a port of
// opencontainers/distribution-spec v1.1.1 conformance/02_push_test.go, followed by berth's own
// checks: sha512 blobs, Docker schema 2 manifests and manifest lists, OCI indexes.
//
// Where the Go suite accepts several outcomes, the test asserts the one berth gives, which is the
// full-featured one: a single POST with ?digest= stores the blob (201), a mount with `from` mounts
// (201), a mount without `from` opens a plain upload session (202: berth does no automatic content
// discovery), deletes give 202. The Go Specify blocks that only run for the other outcome are
// ported to check the same behaviour where berth produces it ("Cross-mounting of nonexistent blob
// should yield session id" mounts a blob the source does not have), or not at all where berth never
// produces it ("Cross-mounting without from, and automatic content discovery enabled should return
// a 201"). The suite's default order is kept (manifests deleted before blobs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorsOf, expectStatus, relativeLocation, startRegistry, type Registry, type RegistryClient, type Response } from './client.ts';
import {
  MT,
  chunkedBlob,
  config,
  digestOf,
  dummyDigest,
  emptyLayerManifest,
  emptyLayerTestTag,
  indexJson,
  layerBlob,
  manifest,
  manifestDescriptor,
  marshalIndent,
  nonexistentManifest,
  randomBlob,
  testBlob,
  testBlobA,
  type ChunkedBlob,
  type TestBlob,
} from './setup.ts';

const NAME = 'conformance/push';
const CROSSMOUNT_NAME = 'conformance/push-crossmount';
const EXTRA_NAME = 'conformance/push-extra';

describe('Push', () => {
  let registry: Registry;
  let c: RegistryClient;
  let lastResponse: Response | undefined;
  let prevResponse: Response | undefined;
  let emptyLayerManifestRef = '';
  let chunked: ChunkedBlob = chunkedBlob(42);

  before(async () => {
    registry = await startRegistry();
    c = registry.client;
  });
  after(async () => {
    await registry.close();
  });

  function last(): Response {
    assert.ok(lastResponse !== undefined, 'the previous test left no response');
    return lastResponse;
  }

  describe('Blob Upload Streamed', () => {
    test('PATCH request with blob in body should yield 202 response', async () => {
      const post = await c.request('POST', `/v2/${NAME}/blobs/uploads/`);
      expectStatus(post, 202);
      assert.ok((post.header('location') ?? '') !== '', 'Location header');

      const res = await c.request('PATCH', relativeLocation(post), { headers: { 'Content-Type': 'application/octet-stream' }, body: testBlobA.content });
      expectStatus(res, 202);
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      assert.equal(res.header('range'), `0-${testBlobA.content.length - 1}`);
      lastResponse = res;
    });

    test('PUT request to session URL with digest should yield 201 response', async () => {
      // Go sets a Content-Length header of the blob's size but sends no body; net/http then sends
      // Content-Length: 0, as this client does.
      const res = await c.request('PUT', relativeLocation(last()), { query: { digest: testBlobA.digest }, headers: { 'Content-Type': 'application/octet-stream' } });
      expectStatus(res, 201);
      assert.equal(relativeLocation(res), `/v2/${NAME}/blobs/${testBlobA.digest}`);
      assert.equal(res.header('docker-content-digest'), testBlobA.digest);
    });
  });

  describe('Blob Upload Monolithic', () => {
    test('GET nonexistent blob should result in 404 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${dummyDigest}`);
      expectStatus(res, 404);
    });

    test('POST request with digest and blob should yield a 201 or 202 (berth: 201)', async () => {
      const res = await c.request('POST', `/v2/${NAME}/blobs/uploads/`, {
        headers: { 'Content-Length': config(1).contentLength, 'Content-Type': 'application/octet-stream' },
        query: { digest: config(1).digest },
        body: config(1).content,
      });
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      expectStatus(res, 201);
      assert.equal(relativeLocation(res), `/v2/${NAME}/blobs/${config(1).digest}`);
      lastResponse = res;
    });

    test('GET request to blob URL from prior request should yield 200 or 404 based on response code', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${config(1).digest}`);
      if (last().status === 202) {
        expectStatus(res, 404);
      } else {
        expectStatus(res, 200);
        assert.deepEqual(res.body, config(1).content);
      }
    });

    test('POST request should yield a session ID', async () => {
      const res = await c.request('POST', `/v2/${NAME}/blobs/uploads/`);
      expectStatus(res, 202);
      assert.match(relativeLocation(res), new RegExp(`^/v2/${NAME}/blobs/uploads/[^/?]+`));
      lastResponse = res;
    });

    test('PUT upload of a blob should yield a 201 Response', async () => {
      const res = await c.request('PUT', relativeLocation(last()), {
        headers: { 'Content-Length': config(1).contentLength, 'Content-Type': 'application/octet-stream' },
        query: { digest: config(1).digest },
        body: config(1).content,
      });
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      expectStatus(res, 201);
    });

    test('GET request to existing blob should yield 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${config(1).digest}`);
      expectStatus(res, 200);
      assert.deepEqual(res.body, config(1).content);
    });

    test('PUT upload of a layer blob should yield a 201 Response', async () => {
      const post = await c.request('POST', `/v2/${NAME}/blobs/uploads/`);
      expectStatus(post, 202);
      const res = await c.request('PUT', relativeLocation(post), {
        headers: { 'Content-Length': layerBlob.contentLength, 'Content-Type': 'application/octet-stream' },
        query: { digest: layerBlob.digest },
        body: layerBlob.content,
      });
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      expectStatus(res, 201);
    });

    test('GET request to existing layer should yield 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${layerBlob.digest}`);
      expectStatus(res, 200);
      assert.deepEqual(res.body, layerBlob.content);
    });
  });

  describe('Blob Upload Chunked', () => {
    test('Out-of-order blob upload should return 416', async () => {
      const post = await c.request('POST', `/v2/${NAME}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
      expectStatus(post, 202);
      assert.ok((post.header('location') ?? '') !== '', 'Location header');

      // rebuild the chunked blob if the registry's minimum chunk size is above our chunk size
      const minSize = post.header('oci-chunk-min-length');
      if (minSize !== undefined && minSize !== '') {
        assert.match(minSize, /^\d+$/);
        if (Number(minSize) > chunked.chunk1.length) chunked = chunkedBlob(Number(minSize) * 2 - 2);
      }

      const res = await c.request('PATCH', relativeLocation(post), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': chunked.chunk2Length, 'Content-Range': chunked.chunk2Range },
        body: chunked.chunk2,
      });
      expectStatus(res, 416);
    });

    test('PATCH request with first chunk should return 202', async () => {
      const post = await c.request('POST', `/v2/${NAME}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
      expectStatus(post, 202);
      assert.ok((post.header('location') ?? '') !== '', 'Location header');
      prevResponse = post;
      const res = await c.request('PATCH', relativeLocation(post), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': chunked.chunk1Length, 'Content-Range': chunked.chunk1Range },
        body: chunked.chunk1,
      });
      expectStatus(res, 202);
      assert.equal(res.header('range'), chunked.chunk1Range);
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      lastResponse = res;
    });

    test('Retry previous blob chunk should return 416', async () => {
      assert.ok(prevResponse !== undefined);
      const res = await c.request('PATCH', relativeLocation(prevResponse), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': chunked.chunk1Length, 'Content-Range': chunked.chunk1Range },
        body: chunked.chunk1,
      });
      expectStatus(res, 416);
    });

    test('Get on stale blob upload should return 204 with a range and location', async () => {
      assert.ok(prevResponse !== undefined);
      const res = await c.request('GET', relativeLocation(prevResponse));
      expectStatus(res, 204);
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      assert.equal(res.header('range'), chunked.chunk1Range);
      lastResponse = res;
    });

    test('PATCH request with second chunk should return 202', async () => {
      const res = await c.request('PATCH', relativeLocation(last()), {
        headers: { 'Content-Length': chunked.chunk2Length, 'Content-Range': chunked.chunk2Range, 'Content-Type': 'application/octet-stream' },
        body: chunked.chunk2,
      });
      expectStatus(res, 202);
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      assert.equal(res.header('range'), `0-${chunked.blob.content.length - 1}`);
      lastResponse = res;
    });

    test('PUT request with digest should return 201', async () => {
      const res = await c.request('PUT', relativeLocation(last()), {
        headers: { 'Content-Length': '0', 'Content-Type': 'application/octet-stream' },
        query: { digest: chunked.blob.digest },
      });
      expectStatus(res, 201);
      assert.equal(relativeLocation(res), `/v2/${NAME}/blobs/${chunked.blob.digest}`);
      const get = await c.request('GET', relativeLocation(res));
      expectStatus(get, 200);
      assert.deepEqual(get.body, chunked.blob.content);
    });
  });

  describe('Cross-Repository Blob Mount', () => {
    test('Cross-mounting of a blob without the from argument should yield session id', async () => {
      const res = await c.request('POST', `/v2/${CROSSMOUNT_NAME}/blobs/uploads/`, { query: { mount: dummyDigest } });
      expectStatus(res, 202);
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
      assert.ok(relativeLocation(res).startsWith(`/v2/${CROSSMOUNT_NAME}/blobs/uploads/`), relativeLocation(res));
    });

    test("POST request to mount another repository's blob should return 201 or 202 (berth: 201)", async () => {
      const res = await c.request('POST', `/v2/${CROSSMOUNT_NAME}/blobs/uploads/`, { query: { mount: testBlobA.digest, from: NAME } });
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), testBlobA.digest);
      lastResponse = res;
    });

    test('GET request to test digest within cross-mount namespace should return 200', async () => {
      assert.equal(last().status, 201);
      assert.equal(relativeLocation(last()), `/v2/${CROSSMOUNT_NAME}/blobs/${testBlobA.digest}`);
      const res = await c.request('GET', relativeLocation(last()));
      expectStatus(res, 200);
      assert.deepEqual(res.body, testBlobA.content);
    });

    test('Cross-mounting of nonexistent blob should yield session id', async () => {
      // The Go test checks the 202 of the previous mount, which berth only gives when the source
      // does not hold the blob: mount such a blob.
      const res = await c.request('POST', `/v2/${CROSSMOUNT_NAME}/blobs/uploads/`, { query: { mount: dummyDigest, from: NAME } });
      expectStatus(res, 202);
      assert.ok(relativeLocation(res).startsWith(`/v2/${CROSSMOUNT_NAME}/blobs/uploads/`), relativeLocation(res));
    });

    test('Cross-mounting without from, and automatic content discovery disabled should return a 202', async () => {
      const res = await c.request('POST', `/v2/${CROSSMOUNT_NAME}/blobs/uploads/`, { query: { mount: testBlobA.digest } });
      expectStatus(res, 202);
      assert.ok(relativeLocation(res).startsWith(`/v2/${CROSSMOUNT_NAME}/blobs/uploads/`), relativeLocation(res));
    });
  });

  describe('Manifest Upload', () => {
    test('GET nonexistent manifest should return 404', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/${nonexistentManifest}`);
      expectStatus(res, 404);
    });

    test('PUT should accept a manifest upload', async () => {
      for (let i = 0; i < 4; i++) {
        const tag = `test${i}`;
        const res = await c.request('PUT', `/v2/${NAME}/manifests/${tag}`, { headers: { 'Content-Type': MT.ociManifest }, body: manifest(1).content });
        assert.ok((res.header('location') ?? '') !== '', 'Location header');
        expectStatus(res, 201);
        assert.equal(res.header('docker-content-digest'), manifest(1).digest);
      }
    });

    test('Registry should accept a manifest upload with no layers', async () => {
      const res = await c.request('PUT', `/v2/${NAME}/manifests/${emptyLayerTestTag}`, { headers: { 'Content-Type': MT.ociManifest }, body: emptyLayerManifest.content });
      expectStatus(res, 201);
      emptyLayerManifestRef = res.header('location') ?? '';
      assert.notEqual(emptyLayerManifestRef, '');
      assert.equal(res.header('docker-content-digest'), emptyLayerManifest.digest);
    });

    test('GET request to manifest URL (digest) should yield 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/${manifest(1).digest}`, { headers: { Accept: MT.ociManifest } });
      expectStatus(res, 200);
      assert.deepEqual(res.body, manifest(1).content);
    });
  });

  describe('Teardown', () => {
    test('Delete manifest created in tests', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/manifests/${manifest(1).digest}`);
      expectStatus(res, 202);
      assert.notEqual(emptyLayerManifestRef, '', 'the manifest without layers was pushed');
      const res2 = await c.request('DELETE', `/v2/${NAME}/manifests/${emptyLayerManifest.digest}`);
      expectStatus(res2, 202);
    });

    test('Delete config blob created in tests', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${config(1).digest}`);
      expectStatus(res, 202);
    });

    test('Delete layer blob created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${layerBlob.digest}`);
      expectStatus(res, 202);
    });
  });

  // berth's own checks (not in the Go suite), in a repository of their own.
  async function pushBlob(blob: TestBlob): Promise<Response> {
    const post = await c.request('POST', `/v2/${EXTRA_NAME}/blobs/uploads/`);
    expectStatus(post, 202);
    return await c.request('PUT', relativeLocation(post), {
      query: { digest: blob.digest },
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob.content,
    });
  }

  async function pushManifest(reference: string, body: Buffer, contentType: string): Promise<Response> {
    return await c.request('PUT', `/v2/${EXTRA_NAME}/manifests/${reference}`, { headers: { 'Content-Type': contentType }, body });
  }

  describe('sha512 blobs (berth)', () => {
    const mono = randomBlob(1000, 512_001, 'sha512');
    const single = randomBlob(777, 512_002, 'sha512');
    const streamed = randomBlob(3000, 512_003, 'sha512');

    test('POST then PUT with a sha512 digest stores the blob under that digest', async () => {
      assert.match(mono.digest, /^sha512:[0-9a-f]{128}$/);
      const res = await pushBlob(mono);
      expectStatus(res, 201);
      assert.equal(relativeLocation(res), `/v2/${EXTRA_NAME}/blobs/${mono.digest}`);
      assert.equal(res.header('docker-content-digest'), mono.digest);
    });

    test('HEAD and GET of the sha512 blob give it back', async () => {
      const head = await c.request('HEAD', `/v2/${EXTRA_NAME}/blobs/${mono.digest}`);
      expectStatus(head, 200);
      assert.equal(head.header('docker-content-digest'), mono.digest);
      assert.equal(head.header('content-length'), mono.contentLength);
      const get = await c.request('GET', `/v2/${EXTRA_NAME}/blobs/${mono.digest}`);
      expectStatus(get, 200);
      assert.equal(get.header('docker-content-digest'), mono.digest);
      assert.deepEqual(get.body, mono.content);
      assert.equal(digestOf(get.body, 'sha512'), mono.digest);
    });

    test('A Range GET of the sha512 blob gives 206', async () => {
      const res = await c.request('GET', `/v2/${EXTRA_NAME}/blobs/${mono.digest}`, { headers: { Range: 'bytes=100-199' } });
      expectStatus(res, 206);
      assert.equal(res.header('content-range'), `bytes 100-199/${mono.content.length}`);
      assert.deepEqual(res.body, mono.content.subarray(100, 200));
    });

    test('A single POST with a sha512 digest stores the blob (201)', async () => {
      const res = await c.request('POST', `/v2/${EXTRA_NAME}/blobs/uploads/`, { query: { digest: single.digest }, headers: { 'Content-Type': 'application/octet-stream' }, body: single.content });
      expectStatus(res, 201);
      assert.equal(relativeLocation(res), `/v2/${EXTRA_NAME}/blobs/${single.digest}`);
      const get = await c.request('GET', relativeLocation(res));
      expectStatus(get, 200);
      assert.deepEqual(get.body, single.content);
    });

    test('Chunks sent by PATCH and closed by PUT with a sha512 digest', async () => {
      const post = await c.request('POST', `/v2/${EXTRA_NAME}/blobs/uploads/`);
      expectStatus(post, 202);
      const p1 = await c.request('PATCH', relativeLocation(post), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-1499' },
        body: streamed.content.subarray(0, 1500),
      });
      expectStatus(p1, 202);
      assert.equal(p1.header('range'), '0-1499');
      const p2 = await c.request('PATCH', relativeLocation(p1), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '1500-2999' },
        body: streamed.content.subarray(1500),
      });
      expectStatus(p2, 202);
      assert.equal(p2.header('range'), '0-2999');
      const put = await c.request('PUT', relativeLocation(p2), { query: { digest: streamed.digest } });
      expectStatus(put, 201);
      assert.equal(put.header('docker-content-digest'), streamed.digest);
      const get = await c.request('GET', `/v2/${EXTRA_NAME}/blobs/${streamed.digest}`);
      expectStatus(get, 200);
      assert.deepEqual(get.body, streamed.content);
    });

    test('Content that does not match its sha512 digest is refused with DIGEST_INVALID and not stored', async () => {
      const wrong = randomBlob(64, 512_004, 'sha512');
      const content = randomBlob(64, 512_005).content;
      const res = await pushBlob({ ...wrong, content });
      expectStatus(res, 400);
      assert.equal(errorsOf(res)[0]?.code, 'DIGEST_INVALID');
      const head = await c.request('HEAD', `/v2/${EXTRA_NAME}/blobs/${wrong.digest}`);
      expectStatus(head, 404);
    });

    test('An OCI manifest referencing sha512 blobs is accepted and can be pulled by a sha512 digest', async () => {
      const cfg = testBlob(marshalIndent({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), 'sha512');
      expectStatus(await pushBlob(cfg), 201);
      const body = marshalIndent({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.content.length },
        layers: [{ mediaType: MT.ociLayerGzip, digest: mono.digest, size: mono.content.length }],
      });
      const sha512 = digestOf(body, 'sha512');
      const put = await pushManifest(sha512, body, MT.ociManifest);
      expectStatus(put, 201);
      assert.equal(put.header('docker-content-digest'), sha512);
      assert.equal(relativeLocation(put), `/v2/${EXTRA_NAME}/manifests/${sha512}`);
      const get = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/${sha512}`, { headers: { Accept: MT.ociManifest } });
      expectStatus(get, 200);
      assert.equal(get.header('docker-content-digest'), sha512);
      assert.deepEqual(get.body, body);
    });
  });

  describe('Docker schema 2 manifests and manifest lists (berth)', () => {
    const dockerConfig = testBlob(
      marshalIndent({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [digestOf('uncompressed layer')] }, history: [{ created_by: 'berth conformance' }] }),
    );
    const dockerManifest = testBlob(
      marshalIndent({
        schemaVersion: 2,
        mediaType: MT.dockerManifest,
        config: { mediaType: MT.dockerConfig, size: dockerConfig.content.length, digest: dockerConfig.digest },
        layers: [{ mediaType: MT.dockerLayerGzip, size: layerBlob.content.length, digest: layerBlob.digest }],
      }),
    );
    const dockerList = testBlob(
      marshalIndent({
        schemaVersion: 2,
        mediaType: MT.dockerManifestList,
        manifests: [{ mediaType: MT.dockerManifest, size: dockerManifest.content.length, digest: dockerManifest.digest, platform: { architecture: 'amd64', os: 'linux' } }],
      }),
    );

    test('Push the blobs of a Docker image', async () => {
      expectStatus(await pushBlob(dockerConfig), 201);
      expectStatus(await pushBlob(layerBlob), 201);
    });

    test('PUT of an application/vnd.docker.distribution.manifest.v2+json manifest gives 201', async () => {
      const res = await pushManifest('docker-v2', dockerManifest.content, MT.dockerManifest);
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), dockerManifest.digest);
      assert.equal(relativeLocation(res), `/v2/${EXTRA_NAME}/manifests/${dockerManifest.digest}`);
    });

    test('GET and HEAD of the Docker manifest give it back with its media type', async () => {
      for (const ref of ['docker-v2', dockerManifest.digest]) {
        const get = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/${ref}`, { headers: { Accept: `${MT.dockerManifest}, ${MT.dockerManifestList}` } });
        expectStatus(get, 200);
        assert.equal(get.header('content-type'), MT.dockerManifest);
        assert.equal(get.header('docker-content-digest'), dockerManifest.digest);
        assert.deepEqual(get.body, dockerManifest.content);
        const head = await c.request('HEAD', `/v2/${EXTRA_NAME}/manifests/${ref}`, { headers: { Accept: MT.dockerManifest } });
        expectStatus(head, 200);
        assert.equal(head.header('content-type'), MT.dockerManifest);
        assert.equal(head.header('content-length'), dockerManifest.contentLength);
        assert.equal(head.header('docker-content-digest'), dockerManifest.digest);
      }
    });

    test('PUT of an application/vnd.docker.distribution.manifest.list.v2+json manifest list gives 201', async () => {
      const res = await pushManifest('docker-list', dockerList.content, MT.dockerManifestList);
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), dockerList.digest);
    });

    test('GET of the Docker manifest list gives it back with its media type', async () => {
      const res = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/docker-list`, { headers: { Accept: MT.dockerManifestList } });
      expectStatus(res, 200);
      assert.equal(res.header('content-type'), MT.dockerManifestList);
      assert.equal(res.header('docker-content-digest'), dockerList.digest);
      assert.deepEqual(res.body, dockerList.content);
    });

    test('Delete the manifest list, then the Docker manifest', async () => {
      expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${dockerList.digest}`), 202);
      expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${dockerManifest.digest}`), 202);
      expectStatus(await c.request('GET', `/v2/${EXTRA_NAME}/manifests/docker-v2`), 404);
    });
  });

  describe('OCI index whose children are in the repository (berth)', () => {
    const children = [5, 6].map((i) => ({ config: config(i), manifest: manifest(i) }));
    const platforms = [
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
    ];
    const index = testBlob(
      marshalIndent(
        indexJson({
          mediaType: MT.ociIndex,
          manifests: children.map((ch, i) => ({ ...manifestDescriptor(ch.manifest), platform: platforms[i] ?? { architecture: 'amd64', os: 'linux' } })),
          annotations: { 'org.opencontainers.image.ref.name': 'multi' },
        }),
      ),
    );

    test('Push the child manifests and their blobs', async () => {
      expectStatus(await pushBlob(layerBlob), 201);
      for (const ch of children) {
        expectStatus(await pushBlob(ch.config), 201);
        const res = await pushManifest(ch.manifest.digest, ch.manifest.content, MT.ociManifest);
        expectStatus(res, 201);
      }
    });

    test('PUT of the index gives 201', async () => {
      const res = await pushManifest('multi', index.content, MT.ociIndex);
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), index.digest);
      assert.equal(res.header('oci-subject'), undefined, 'no OCI-Subject for a manifest without subject');
    });

    test('GET and HEAD of the index give it back with its media type', async () => {
      const get = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/multi`, { headers: { Accept: MT.ociIndex } });
      expectStatus(get, 200);
      assert.equal(get.header('content-type'), MT.ociIndex);
      assert.equal(get.header('docker-content-digest'), index.digest);
      assert.deepEqual(get.body, index.content);
      const head = await c.request('HEAD', `/v2/${EXTRA_NAME}/manifests/${index.digest}`, { headers: { Accept: MT.ociIndex } });
      expectStatus(head, 200);
      assert.equal(head.header('content-type'), MT.ociIndex);
      assert.equal(head.header('content-length'), index.contentLength);
    });

    test('Each child can be pulled by the digest the index lists', async () => {
      const doc = JSON.parse(index.content.toString()) as { manifests: Array<{ digest: string }> };
      for (const [i, d] of doc.manifests.entries()) {
        const res = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/${d.digest}`, { headers: { Accept: MT.ociManifest } });
        expectStatus(res, 200);
        assert.deepEqual(res.body, children[i]?.manifest.content);
      }
    });

    test('An index listing a manifest the repository does not have is refused with MANIFEST_BLOB_UNKNOWN', async () => {
      const body = marshalIndent(indexJson({ mediaType: MT.ociIndex, manifests: [manifestDescriptor(manifest(7))] }));
      const res = await pushManifest('broken-index', body, MT.ociIndex);
      expectStatus(res, 400);
      assert.equal(errorsOf(res)[0]?.code, 'MANIFEST_BLOB_UNKNOWN');
      expectStatus(await c.request('HEAD', `/v2/${EXTRA_NAME}/manifests/broken-index`), 404);
    });

    test('Delete the index, then its children', async () => {
      expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${index.digest}`), 202);
      for (const ch of children) expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${ch.manifest.digest}`), 202);
    });
  });
});
