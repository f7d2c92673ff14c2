// OCI distribution-spec v1.1 conformance, workflow "Pull": a port of
// opencontainers/distribution-spec v1.1.1 conformance/01_pull_test.go, followed by berth's own
// checks of manifest response headers and blob Range requests.
//
// Where the Go suite accepts several outcomes, the test asserts the one of a registry with every
// feature on, which is what berth is: deletes give 202. Not ported, because they only run when the
// suite is pointed at pre-populated content (OCI_TAG_NAME, OCI_MANIFEST_DIGEST, OCI_BLOB_DIGEST):
// "Get tag name from environment". The suite's default order is kept (manifests deleted before
// blobs; OCI_DELETE_MANIFEST_BEFORE_BLOBS=false only moves the manifest deletes to the end).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { describeResponse as show, errorsOf, expectStatus, postThenPut, relativeLocation, startRegistry, type Registry, type RegistryClient } from './client.ts';
import { MT, config, dummyDigest, errorCodes, invalidManifestContent, layerBlob, manifest, nonexistentManifest, testTagName } from './setup.ts';

const NAME = 'conformance/pull';

describe('Pull', () => {
  let registry: Registry;
  let c: RegistryClient;
  let tag = '';

  before(async () => {
    registry = await startRegistry();
    c = registry.client;
  });
  after(async () => {
    await registry.close();
  });

  async function expectBlobPushed(blob: { content: Buffer; contentLength: string; digest: string }): Promise<void> {
    const res = await postThenPut(c, NAME, blob);
    expectStatus(res, 201);
    assert.equal(relativeLocation(res), `/v2/${NAME}/blobs/${blob.digest}`);
    assert.equal(res.header('docker-content-digest'), blob.digest);
  }

  describe('Setup', () => {
    test('Populate registry with test blob (config[0])', async () => {
      await expectBlobPushed(config(0));
    });

    test('Populate registry with test blob (config[1])', async () => {
      await expectBlobPushed(config(1));
    });

    test('Populate registry with test layer', async () => {
      await expectBlobPushed(layerBlob);
    });

    test('Populate registry with test manifest (manifest[0] by tag)', async () => {
      tag = testTagName;
      const res = await c.request('PUT', `/v2/${NAME}/manifests/${tag}`, { headers: { 'Content-Type': MT.ociManifest }, body: manifest(0).content });
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), manifest(0).digest);
      assert.ok((res.header('location') ?? '') !== '', 'Location header');
    });

    test('Populate registry with test manifest (manifest[1] by digest)', async () => {
      const res = await c.request('PUT', `/v2/${NAME}/manifests/${manifest(1).digest}`, { headers: { 'Content-Type': MT.ociManifest }, body: manifest(1).content });
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), manifest(1).digest);
      assert.equal(relativeLocation(res), `/v2/${NAME}/manifests/${manifest(1).digest}`);
    });
  });

  describe('Pull blobs', () => {
    test('HEAD request to nonexistent blob should result in 404 response', async () => {
      const res = await c.request('HEAD', `/v2/${NAME}/blobs/${dummyDigest}`);
      expectStatus(res, 404);
      assert.equal(res.body.length, 0, 'a HEAD response has no body');
    });

    test('HEAD request to existing blob should yield 200', async () => {
      const res = await c.request('HEAD', `/v2/${NAME}/blobs/${config(0).digest}`);
      expectStatus(res, 200);
      assert.equal(res.header('docker-content-digest'), config(0).digest);
      assert.equal(res.header('content-length'), config(0).contentLength);
      assert.equal(res.body.length, 0, 'a HEAD response has no body');
    });

    test('GET nonexistent blob should result in 404 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${dummyDigest}`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'BLOB_UNKNOWN');
    });

    test('GET request to existing blob URL should yield 200', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${config(0).digest}`);
      expectStatus(res, 200);
      assert.deepEqual(res.body, config(0).content);
      assert.equal(res.header('docker-content-digest'), config(0).digest);
    });
  });

  describe('Pull manifests', () => {
    const accept = { Accept: MT.ociManifest };

    test('HEAD request to nonexistent manifest should return 404', async () => {
      const res = await c.request('HEAD', `/v2/${NAME}/manifests/${nonexistentManifest}`);
      expectStatus(res, 404);
    });

    test('HEAD request to manifest[0] path (digest) should yield 200 response', async () => {
      const res = await c.request('HEAD', `/v2/${NAME}/manifests/${manifest(0).digest}`, { headers: accept });
      expectStatus(res, 200);
      assert.equal(res.header('docker-content-digest'), manifest(0).digest);
    });

    test('HEAD request to manifest[1] path (digest) should yield 200 response', async () => {
      const res = await c.request('HEAD', `/v2/${NAME}/manifests/${manifest(1).digest}`, { headers: accept });
      expectStatus(res, 200);
      assert.equal(res.header('docker-content-digest'), manifest(1).digest);
    });

    test('HEAD request to manifest path (tag) should yield 200 response', async () => {
      assert.notEqual(tag, '');
      const res = await c.request('HEAD', `/v2/${NAME}/manifests/${tag}`, { headers: accept });
      expectStatus(res, 200);
      assert.equal(res.header('docker-content-digest'), manifest(0).digest);
    });

    test('GET nonexistent manifest should return 404', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/${nonexistentManifest}`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'MANIFEST_UNKNOWN');
    });

    test('GET request to manifest[0] path (digest) should yield 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/${manifest(0).digest}`, { headers: accept });
      expectStatus(res, 200);
      assert.deepEqual(res.body, manifest(0).content, 'the manifest is served in the exact bytes pushed');
    });

    test('GET request to manifest[1] path (digest) should yield 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/${manifest(1).digest}`, { headers: accept });
      expectStatus(res, 200);
      assert.deepEqual(res.body, manifest(1).content, 'the manifest is served in the exact bytes pushed');
    });

    test('GET request to manifest path (tag) should yield 200 response', async () => {
      assert.notEqual(tag, '');
      const res = await c.request('GET', `/v2/${NAME}/manifests/${tag}`, { headers: accept });
      expectStatus(res, 200);
      assert.deepEqual(res.body, manifest(0).content, 'the manifest is served in the exact bytes pushed');
    });
  });

  describe('Error codes', () => {
    test('400 response body should contain OCI-conforming JSON message', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/sha256:totallywrong`, { headers: { 'Content-Type': MT.ociManifest }, body: invalidManifestContent });
      expectStatus(res, 400);
      const errors = errorsOf(res);
      assert.ok(errors.length > 0, show(res));
      const code = errors[0]?.code ?? '';
      assert.ok(errorCodes.includes(code), `error code ${code} is not one of the spec's`);
      assert.equal(code, 'DIGEST_INVALID');
    });
  });

  // berth's own checks (not in the Go suite), while the setup content is still there.
  describe('Manifest response headers (berth)', () => {
    for (const method of ['HEAD', 'GET'] as const) {
      for (const by of ['tag', 'digest'] as const) {
        test(`${method} manifest by ${by} gives Docker-Content-Digest, Content-Type and Content-Length`, async () => {
          const ref = by === 'tag' ? testTagName : manifest(0).digest;
          const res = await c.request(method, `/v2/${NAME}/manifests/${ref}`, { headers: { Accept: MT.ociManifest } });
          expectStatus(res, 200);
          assert.equal(res.header('docker-content-digest'), manifest(0).digest);
          assert.equal(res.header('content-type'), MT.ociManifest);
          assert.equal(res.header('content-length'), manifest(0).contentLength);
          if (method === 'HEAD') assert.equal(res.body.length, 0, 'a HEAD response has no body');
          else assert.deepEqual(res.body, manifest(0).content);
        });
      }
    }

    test('HEAD manifest by digest of the manifest pushed by digest', async () => {
      const res = await c.request('HEAD', `/v2/${NAME}/manifests/${manifest(1).digest}`);
      expectStatus(res, 200);
      assert.equal(res.header('docker-content-digest'), manifest(1).digest);
      assert.equal(res.header('content-type'), MT.ociManifest);
      assert.equal(res.header('content-length'), manifest(1).contentLength);
    });

    test('HEAD and GET of an unknown tag give 404 MANIFEST_UNKNOWN', async () => {
      const head = await c.request('HEAD', `/v2/${NAME}/manifests/no-such-tag`);
      expectStatus(head, 404);
      const get = await c.request('GET', `/v2/${NAME}/manifests/no-such-tag`);
      expectStatus(get, 404);
      assert.equal(errorsOf(get)[0]?.code, 'MANIFEST_UNKNOWN');
    });

    test('GET of a manifest in a repository that does not exist gives 404 NAME_UNKNOWN', async () => {
      const res = await c.request('GET', `/v2/conformance/no-such-repo/manifests/${testTagName}`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'NAME_UNKNOWN');
    });
  });

  describe('Blob Range requests (berth)', () => {
    const blob = layerBlob.content;
    const size = blob.length;
    const path = (): string => `/v2/${NAME}/blobs/${layerBlob.digest}`;

    test('HEAD blob advertises byte ranges', async () => {
      const res = await c.request('HEAD', path());
      expectStatus(res, 200);
      assert.equal(res.header('accept-ranges'), 'bytes');
      assert.equal(res.header('content-length'), String(size));
    });

    test('Range bytes=0-9 gives 206 with Content-Range and the first 10 bytes', async () => {
      const res = await c.request('GET', path(), { headers: { Range: 'bytes=0-9' } });
      expectStatus(res, 206);
      assert.equal(res.header('content-range'), `bytes 0-9/${size}`);
      assert.equal(res.header('content-length'), '10');
      assert.deepEqual(res.body, blob.subarray(0, 10));
    });

    test('Range with an open end gives the rest of the blob', async () => {
      const res = await c.request('GET', path(), { headers: { Range: 'bytes=10-' } });
      expectStatus(res, 206);
      assert.equal(res.header('content-range'), `bytes 10-${size - 1}/${size}`);
      assert.equal(res.header('content-length'), String(size - 10));
      assert.deepEqual(res.body, blob.subarray(10));
    });

    test('Suffix range bytes=-16 gives the last 16 bytes', async () => {
      const res = await c.request('GET', path(), { headers: { Range: 'bytes=-16' } });
      expectStatus(res, 206);
      assert.equal(res.header('content-range'), `bytes ${size - 16}-${size - 1}/${size}`);
      assert.equal(res.header('content-length'), '16');
      assert.deepEqual(res.body, blob.subarray(size - 16));
    });

    test('A suffix longer than the blob gives the whole blob as 206', async () => {
      const res = await c.request('GET', path(), { headers: { Range: `bytes=-${size + 100}` } });
      expectStatus(res, 206);
      assert.equal(res.header('content-range'), `bytes 0-${size - 1}/${size}`);
      assert.deepEqual(res.body, blob);
    });

    test('A range ending past the blob is clamped to its last byte', async () => {
      const res = await c.request('GET', path(), { headers: { Range: `bytes=5-${size * 10}` } });
      expectStatus(res, 206);
      assert.equal(res.header('content-range'), `bytes 5-${size - 1}/${size}`);
      assert.deepEqual(res.body, blob.subarray(5));
    });

    test('A range starting at the blob size gives 416 with Content-Range: bytes */size', async () => {
      const res = await c.request('GET', path(), { headers: { Range: `bytes=${size}-` } });
      expectStatus(res, 416);
      assert.equal(res.header('content-range'), `bytes */${size}`);
    });

    test('A range starting past the blob gives 416 with Content-Range: bytes */size', async () => {
      const res = await c.request('GET', path(), { headers: { Range: `bytes=${size + 10}-${size + 20}` } });
      expectStatus(res, 416);
      assert.equal(res.header('content-range'), `bytes */${size}`);
    });

    test('A GET without Range gives 200 and the whole blob', async () => {
      const res = await c.request('GET', path());
      expectStatus(res, 200);
      assert.equal(res.header('content-range'), undefined);
      assert.equal(res.header('content-length'), String(size));
      assert.deepEqual(res.body, blob);
    });
  });

  describe('Teardown', () => {
    test('Delete manifest[0] created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/manifests/${manifest(0).digest}`);
      expectStatus(res, 202);
    });

    test('Delete manifest[1] created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/manifests/${manifest(1).digest}`);
      expectStatus(res, 202);
    });

    test('Delete config[0] blob created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${config(0).digest}`);
      expectStatus(res, 202);
    });

    test('Delete config[1] blob created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${config(1).digest}`);
      expectStatus(res, 202);
    });

    test('Delete layer blob created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${layerBlob.digest}`);
      expectStatus(res, 202);
    });
  });
});
