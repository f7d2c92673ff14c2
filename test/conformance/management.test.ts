// OCI distribution-spec v1.1 conformance, workflow "Content Management": a port of
// opencontainers/distribution-spec v1.1.1 conformance/04_management_test.go, followed by berth's own
// checks of what tag, manifest and blob deletes leave behind.
//
// Where the Go suite accepts several outcomes, the test asserts the one berth gives, which is the
// full-featured one: tag deletion, manifest deletion and blob deletion are enabled (202), and
// deleted content is gone (404).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorsOf, expectStatus, postThenPut, relativeLocation, startRegistry, tagListOf, type Registry, type RegistryClient } from './client.ts';
import { MT, config, layerBlob, manifest, type TestBlob } from './setup.ts';

const NAME = 'conformance/management';
const EXTRA_NAME = 'conformance/management-extra';
const defaultTagName = 'tagtest0';

describe('Content Management', () => {
  let registry: Registry;
  let c: RegistryClient;
  let tagToDelete = '';
  let numTags = 0;

  before(async () => {
    registry = await startRegistry();
    c = registry.client;
  });
  after(async () => {
    await registry.close();
  });

  async function expectBlobPushed(name: string, blob: TestBlob): Promise<void> {
    const res = await postThenPut(c, name, blob);
    expectStatus(res, 201);
    assert.equal(relativeLocation(res), `/v2/${name}/blobs/${blob.digest}`);
  }

  describe('Setup', () => {
    test('Populate registry with test config blob', async () => {
      await expectBlobPushed(NAME, config(3));
    });

    test('Populate registry with test layer', async () => {
      await expectBlobPushed(NAME, layerBlob);
    });

    test('Populate registry with test tag', async () => {
      tagToDelete = defaultTagName;
      const res = await c.request('PUT', `/v2/${NAME}/manifests/${tagToDelete}`, { headers: { 'Content-Type': MT.ociManifest }, body: manifest(3).content });
      expectStatus(res, 201);
      assert.equal(res.header('docker-content-digest'), manifest(3).digest);
    });

    test('Check how many tags there are before anything gets deleted', async () => {
      const res = await c.request('GET', `/v2/${NAME}/tags/list`);
      expectStatus(res, 200);
      const list = tagListOf(res);
      numTags = list.tags.length;
      assert.deepEqual(list.tags, [defaultTagName]);
    });
  });

  describe('Manifest delete', () => {
    test('DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405) (berth: 202)', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/manifests/${tagToDelete}`);
      expectStatus(res, 202);
    });

    test('DELETE request to manifest (digest) should yield 202 response unless already deleted (berth: 202)', async () => {
      // berth's tag delete removes only the tag, so the manifest is still there to delete.
      const res = await c.request('DELETE', `/v2/${NAME}/manifests/${manifest(3).digest}`);
      expectStatus(res, 202);
    });

    test('GET request to deleted manifest URL should yield 404 response, unless delete is disallowed (berth: 404)', async () => {
      const res = await c.request('GET', `/v2/${NAME}/manifests/${manifest(3).digest}`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'MANIFEST_UNKNOWN');
    });

    test('GET request to tags list should reflect manifest deletion', async () => {
      const res = await c.request('GET', `/v2/${NAME}/tags/list`);
      // The repository still exists (it holds blobs): 200 with one tag fewer.
      expectStatus(res, 200);
      const expectTags = numTags - 1;
      const list = tagListOf(res);
      assert.equal(list.tags.length, expectTags);
      assert.equal(list.name, NAME);
      assert.deepEqual(list.tags, []);
    });
  });

  describe('Blob delete', () => {
    test('DELETE request to blob URL should yield 202 response', async () => {
      // config blob
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${config(3).digest}`);
      expectStatus(res, 202);
      // layer blob
      const res2 = await c.request('DELETE', `/v2/${NAME}/blobs/${layerBlob.digest}`);
      expectStatus(res2, 202);
    });

    test('GET request to deleted blob URL should yield 404 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/blobs/${config(3).digest}`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'BLOB_UNKNOWN');
      const res2 = await c.request('HEAD', `/v2/${NAME}/blobs/${layerBlob.digest}`);
      expectStatus(res2, 404);
    });
  });

  // berth's own checks (not in the Go suite), in a repository of their own.
  describe('What deletes leave behind (berth)', () => {
    const image = manifest(9);

    test('Push one manifest under two tags', async () => {
      await expectBlobPushed(EXTRA_NAME, config(9));
      await expectBlobPushed(EXTRA_NAME, layerBlob);
      for (const tag of ['keep', 'remove']) {
        const res = await c.request('PUT', `/v2/${EXTRA_NAME}/manifests/${tag}`, { headers: { 'Content-Type': MT.ociManifest }, body: image.content });
        expectStatus(res, 201);
      }
    });

    test('Deleting a tag removes only that tag: the manifest and its other tags stay', async () => {
      expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/remove`), 202);
      const gone = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/remove`);
      expectStatus(gone, 404);
      assert.equal(errorsOf(gone)[0]?.code, 'MANIFEST_UNKNOWN');
      const kept = await c.request('GET', `/v2/${EXTRA_NAME}/manifests/keep`);
      expectStatus(kept, 200);
      assert.deepEqual(kept.body, image.content);
      expectStatus(await c.request('HEAD', `/v2/${EXTRA_NAME}/manifests/${image.digest}`), 200);
      assert.deepEqual(tagListOf(await c.request('GET', `/v2/${EXTRA_NAME}/tags/list`)).tags, ['keep']);
    });

    test('Deleting a tag twice gives 404 MANIFEST_UNKNOWN', async () => {
      const res = await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/remove`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'MANIFEST_UNKNOWN');
    });

    test('Deleting the manifest by digest removes every tag pointing at it', async () => {
      expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${image.digest}`), 202);
      expectStatus(await c.request('HEAD', `/v2/${EXTRA_NAME}/manifests/${image.digest}`), 404);
      expectStatus(await c.request('GET', `/v2/${EXTRA_NAME}/manifests/keep`), 404);
      assert.deepEqual(tagListOf(await c.request('GET', `/v2/${EXTRA_NAME}/tags/list`)).tags, []);
    });

    test('Deleting a manifest digest the repository does not have gives 404 MANIFEST_UNKNOWN', async () => {
      const res = await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${image.digest}`);
      expectStatus(res, 404);
      assert.equal(errorsOf(res)[0]?.code, 'MANIFEST_UNKNOWN');
    });

    test('Deleting blobs gives 202, then 404 BLOB_UNKNOWN the second time', async () => {
      for (const blob of [config(9), layerBlob]) {
        expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/blobs/${blob.digest}`), 202);
        expectStatus(await c.request('HEAD', `/v2/${EXTRA_NAME}/blobs/${blob.digest}`), 404);
        const again = await c.request('DELETE', `/v2/${EXTRA_NAME}/blobs/${blob.digest}`);
        expectStatus(again, 404);
        assert.equal(errorsOf(again)[0]?.code, 'BLOB_UNKNOWN');
      }
    });

    test('Deletes in a repository that does not exist give 404 NAME_UNKNOWN', async () => {
      for (const path of [`manifests/${image.digest}`, 'manifests/latest', `blobs/${layerBlob.digest}`]) {
        const res = await c.request('DELETE', `/v2/conformance/no-such-repo/${path}`);
        expectStatus(res, 404);
        assert.equal(errorsOf(res)[0]?.code, 'NAME_UNKNOWN');
      }
    });
  });
});
