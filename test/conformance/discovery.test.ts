// OCI distribution-spec v1.1 conformance, workflow "Content Discovery": a port of
// opencontainers/distribution-spec v1.1.1 conformance/03_discovery_test.go, followed by berth's own
// checks: Link pagination of tags/list and _catalog, OCI-Subject on manifest PUT, referrers edge
// cases.
//
// Where the Go suite accepts several outcomes, the test asserts the one berth gives, which is the
// full-featured one: the referrers API applies artifactType filters (OCI-Filters-Applied), deletes
// give 202, and a second delete of the same manifest gives 404. Not ported, because it only runs
// when the suite is pointed at pre-populated tags (OCI_TAG_LIST): "Populate registry with test
// tags (no push)". The suite's default order is kept (manifests deleted before blobs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  describeResponse as show,
  expectStatus,
  indexOf,
  nextLink,
  postThenPut,
  relativeLocation,
  startRegistry,
  tagListOf,
  type ImageIndex,
  type Registry,
  type RegistryClient,
  type Response,
} from './client.ts';
import {
  EMPTY_JSON_DIGEST,
  MT,
  artifactTypeFilter,
  config,
  dummyDigest,
  emptyJSONBlob,
  emptyJSONDescriptor,
  expectedArtifactTypes,
  expectedMediaTypes,
  layerBlob,
  manifest,
  manifestDescriptor,
  manifestJson,
  marshalIndent,
  referrerBlobs,
  refsIndexArtifact,
  refsManifestAConfigArtifact,
  refsManifestALayerArtifact,
  refsManifestBConfigArtifact,
  refsManifestBLayerArtifact,
  refsManifestCLayerArtifact,
  testAnnotationKey,
  testAnnotationValues,
  testBlob,
  testRefArtifactTypeA,
  testRefBlobA,
  testRefBlobB,
  testTagName,
  type TestBlob,
} from './setup.ts';

const NAME = 'conformance/discovery';
const EXTRA_NAME = 'conformance/discovery-extra';

describe('Content Discovery', () => {
  let registry: Registry;
  let c: RegistryClient;
  let numTags = 4;
  let tagList: string[] = [];

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

  async function putManifest(name: string, reference: string, blob: TestBlob, contentType: string): Promise<Response> {
    const res = await c.request('PUT', `/v2/${name}/manifests/${reference}`, { headers: { 'Content-Type': contentType }, body: blob.content });
    expectStatus(res, 201);
    assert.equal(res.header('docker-content-digest'), blob.digest);
    return res;
  }

  /** Checks every descriptor of a referrers response against what was pushed. */
  function checkReferrerDescriptors(index: ImageIndex): void {
    for (const d of index.manifests) {
      const pushed = referrerBlobs.get(d.digest);
      assert.ok(pushed !== undefined, `unexpected referrer ${d.digest}`);
      assert.equal(d.size, pushed.content.length, `size of ${d.digest}`);
      assert.equal(d.mediaType, expectedMediaTypes.get(d.digest), `mediaType of ${d.digest}`);
      assert.equal(d.artifactType, expectedArtifactTypes.get(d.digest), `artifactType of ${d.digest}`);
    }
  }

  describe('Setup', () => {
    test('Populate registry with test blob', async () => {
      await expectBlobPushed(NAME, config(2));
    });

    test('Populate registry with test layer', async () => {
      await expectBlobPushed(NAME, layerBlob);
    });

    test('Populate registry with test tags', async () => {
      tagList = [];
      for (let i = 0; i < numTags; i++) {
        const tag = `test${i}`;
        tagList.push(tag);
        await putManifest(NAME, tag, manifest(2), MT.ociManifest);
      }
      const res = await c.request('GET', `/v2/${NAME}/tags/list`);
      expectStatus(res, 200);
      tagList = tagListOf(res).tags;
      assert.deepEqual(tagList, ['test0', 'test1', 'test2', 'test3']);
    });

    test('References setup', async () => {
      // Populate registry with empty JSON blob; validate expected empty JSON blob digest
      assert.equal(emptyJSONDescriptor.digest, EMPTY_JSON_DIGEST);
      await expectBlobPushed(NAME, emptyJSONBlob);

      // Populate registry with reference blob before the image manifest is pushed
      await expectBlobPushed(NAME, testRefBlobA);

      // Populate registry with test references manifest (config.MediaType = artifactType)
      let res = await putManifest(NAME, refsManifestAConfigArtifact.digest, refsManifestAConfigArtifact, MT.ociManifest);
      assert.equal(res.header('oci-subject'), manifest(4).digest);

      // Populate registry with test references manifest (ArtifactType, config.MediaType = emptyJSON)
      res = await putManifest(NAME, refsManifestALayerArtifact.digest, refsManifestALayerArtifact, MT.ociManifest);
      assert.equal(res.header('oci-subject'), manifest(4).digest);

      // Populate registry with test index manifest
      res = await putManifest(NAME, refsIndexArtifact.digest, refsIndexArtifact, MT.ociIndex);
      assert.equal(res.header('oci-subject'), manifest(4).digest);

      // Populate registry with test blob and test layer
      await expectBlobPushed(NAME, config(4));
      await expectBlobPushed(NAME, layerBlob);

      // Populate registry with test manifest
      res = await putManifest(NAME, testTagName, manifest(4), MT.ociManifest);
      assert.equal(res.header('oci-subject'), undefined, 'no OCI-Subject for a manifest without subject');

      // Populate registry with reference blob after the image manifest is pushed
      await expectBlobPushed(NAME, testRefBlobB);

      // Populate registry with test references manifest (config.MediaType = artifactType)
      res = await putManifest(NAME, refsManifestBConfigArtifact.digest, refsManifestBConfigArtifact, MT.ociManifest);
      assert.equal(res.header('oci-subject'), manifest(4).digest);

      // Populate registry with test references manifest (ArtifactType, config.MediaType = emptyJSON)
      res = await putManifest(NAME, refsManifestBLayerArtifact.digest, refsManifestBLayerArtifact, MT.ociManifest);
      assert.equal(res.header('oci-subject'), manifest(4).digest);

      // Populate registry with test references manifest to a non-existent subject
      res = await putManifest(NAME, refsManifestCLayerArtifact.digest, refsManifestCLayerArtifact, MT.ociManifest);
      assert.equal(res.header('oci-subject'), manifest(3).digest);
    });
  });

  describe('Test content discovery endpoints (listing tags)', () => {
    test('GET request to list tags should yield 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/tags/list`);
      expectStatus(res, 200);
      const list = tagListOf(res);
      assert.equal(list.name, NAME);
      tagList = list.tags;
      numTags = tagList.length;
      assert.deepEqual(tagList, [testTagName, 'test0', 'test1', 'test2', 'test3']);
    });

    test('GET number of tags should be limitable by `n` query parameter', async () => {
      const numResults = Math.floor(numTags / 2);
      const res = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { n: String(numResults) } });
      expectStatus(res, 200);
      const page = tagListOf(res).tags;
      assert.equal(page.length, numResults);
      assert.deepEqual(page, tagList.slice(0, numResults), 'the first n tags in lexical order');
    });

    test('GET start of tag is set by `last` query parameter', async () => {
      const numResults = Math.floor(numTags / 2);
      const first = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { n: String(numResults) } });
      expectStatus(first, 200);
      const firstPage = tagListOf(first).tags;
      const lastTag = firstPage[numResults - 1];
      assert.ok(lastTag !== undefined);
      const res = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { n: String(numResults), last: lastTag } });
      expectStatus(res, 200);
      const page = tagListOf(res).tags;
      assert.ok(page.length <= numResults);
      assert.ok(!page.includes(lastTag), '`last` itself is not returned');
      assert.deepEqual(page, tagList.slice(numResults, 2 * numResults), 'up to n tags after `last`');
    });
  });

  describe('Test content discovery endpoints (listing references)', () => {
    test('GET request to nonexistent blob should result in empty 200 response', async () => {
      const res = await c.request('GET', `/v2/${NAME}/referrers/${dummyDigest}`);
      expectStatus(res, 200);
      assert.equal(res.header('content-type'), MT.ociIndex);
      const index = indexOf(res);
      assert.equal(index.mediaType, MT.ociIndex);
      assert.equal(index.manifests.length, 0);
    });

    test('GET request to existing blob should yield 200', async () => {
      const res = await c.request('GET', `/v2/${NAME}/referrers/${manifest(4).digest}`);
      expectStatus(res, 200);
      assert.equal(res.header('content-type'), MT.ociIndex);
      const index = indexOf(res);
      assert.equal(index.manifests.length, 5);
      assert.notEqual(index.manifests[0]?.digest, index.manifests[1]?.digest);
      for (const d of index.manifests) {
        assert.equal(Object.keys(d.annotations ?? {}).length, 1, `annotations of ${d.digest}`);
        assert.equal(d.annotations?.[testAnnotationKey], testAnnotationValues.get(d.digest));
      }
      assert.deepEqual(
        index.manifests.map((d) => d.digest).sort(),
        [refsManifestAConfigArtifact, refsManifestALayerArtifact, refsIndexArtifact, refsManifestBConfigArtifact, refsManifestBLayerArtifact].map((b) => b.digest).sort(),
      );
      checkReferrerDescriptors(index);
    });

    test('GET request to existing blob with filter should yield 200', async () => {
      const res = await c.request('GET', `/v2/${NAME}/referrers/${manifest(4).digest}`, { query: { artifactType: testRefArtifactTypeA } });
      expectStatus(res, 200);
      assert.equal(res.header('content-type'), MT.ociIndex);
      const index = indexOf(res);
      // berth filters: OCI-Filters-Applied must be present.
      assert.equal(res.header('oci-filters-applied'), artifactTypeFilter);
      assert.equal(index.manifests.length, 2);
      for (const d of index.manifests) {
        assert.equal(Object.keys(d.annotations ?? {}).length, 1, `annotations of ${d.digest}`);
        assert.equal(d.annotations?.[testAnnotationKey], testAnnotationValues.get(d.digest));
        assert.equal(d.artifactType, testRefArtifactTypeA);
      }
      assert.deepEqual(index.manifests.map((d) => d.digest).sort(), [refsManifestAConfigArtifact.digest, refsManifestALayerArtifact.digest].sort());
      checkReferrerDescriptors(index);
    });

    test('GET request to missing manifest should yield 200', async () => {
      const res = await c.request('GET', `/v2/${NAME}/referrers/${manifest(3).digest}`);
      expectStatus(res, 200);
      assert.equal(res.header('content-type'), MT.ociIndex);
      const index = indexOf(res);
      assert.equal(index.manifests.length, 1);
      assert.equal(index.manifests[0]?.digest, refsManifestCLayerArtifact.digest);
      checkReferrerDescriptors(index);
    });
  });

  // berth's own checks (not in the Go suite), while the setup content is still there.
  describe('Link pagination of tags/list (berth)', () => {
    test('n smaller than the number of tags gives a Link with rel="next" to the next page', async () => {
      const res = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { n: '2' } });
      expectStatus(res, 200);
      assert.deepEqual(tagListOf(res).tags, tagList.slice(0, 2));
      const next = nextLink(res);
      assert.ok(next !== undefined, `${show(res)}: no Link header`);
      const u = new URL(next, 'http://registry.invalid');
      assert.equal(u.pathname, `/v2/${NAME}/tags/list`);
      assert.equal(u.searchParams.get('n'), '2');
      assert.equal(u.searchParams.get('last'), tagList[1]);
    });

    test('Following Link headers visits every tag once, in order, and the last page has no Link', async () => {
      const seen: string[] = [];
      let path: string | undefined = `/v2/${NAME}/tags/list?n=2`;
      let pages = 0;
      while (path !== undefined) {
        const res = await c.request('GET', path);
        expectStatus(res, 200);
        const page = tagListOf(res).tags;
        assert.ok(page.length <= 2);
        seen.push(...page);
        path = nextLink(res);
        if (path !== undefined) assert.equal(page.length, 2, 'a page followed by a Link is full');
        pages++;
        assert.ok(pages <= tagList.length + 1, 'pagination does not end');
      }
      assert.deepEqual(seen, tagList);
      assert.equal(pages, Math.ceil(tagList.length / 2));
    });

    test('n=0 gives an empty list and no Link header', async () => {
      const res = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { n: '0' } });
      expectStatus(res, 200);
      const list = tagListOf(res);
      assert.equal(list.name, NAME);
      assert.deepEqual(list.tags, []);
      assert.equal(res.header('link'), undefined);
    });

    test('n at least the number of tags gives every tag and no Link header', async () => {
      for (const n of [tagList.length, tagList.length + 10]) {
        const res = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { n: String(n) } });
        expectStatus(res, 200);
        assert.deepEqual(tagListOf(res).tags, tagList);
        assert.equal(res.header('link'), undefined, `n=${n}`);
      }
    });

    test('last without n gives every tag after last', async () => {
      const res = await c.request('GET', `/v2/${NAME}/tags/list`, { query: { last: 'test1' } });
      expectStatus(res, 200);
      assert.deepEqual(tagListOf(res).tags, ['test2', 'test3']);
      assert.equal(res.header('link'), undefined);
    });

    test('tags/list of a repository that does not exist gives 404 NAME_UNKNOWN', async () => {
      const res = await c.request('GET', '/v2/conformance/no-such-repo/tags/list');
      expectStatus(res, 404);
      const doc = res.json() as { errors?: Array<{ code: string }> };
      assert.equal(doc.errors?.[0]?.code, 'NAME_UNKNOWN');
    });
  });

  describe('OCI-Subject and referrers edge cases (berth)', () => {
    const subject = manifest(8);
    const artifactType = 'application/vnd.berth.conformance.sbom';
    const payload = testBlob('berth conformance sbom');
    const artifact = testBlob(
      marshalIndent(
        manifestJson({
          mediaType: MT.ociManifest,
          artifactType,
          config: emptyJSONDescriptor,
          layers: [{ mediaType: 'application/spdx+json', size: payload.content.length, digest: payload.digest }],
          subject: manifestDescriptor(subject),
          annotations: { 'org.opencontainers.image.created': '2025-01-29T00:00:00Z' },
        }),
      ),
    );

    test('PUT of a manifest with a subject returns OCI-Subject with the subject digest', async () => {
      await expectBlobPushed(EXTRA_NAME, emptyJSONBlob);
      await expectBlobPushed(EXTRA_NAME, payload);
      const res = await putManifest(EXTRA_NAME, 'sbom', artifact, MT.ociManifest);
      assert.equal(res.header('oci-subject'), subject.digest);
    });

    test('PUT of a manifest without a subject returns no OCI-Subject', async () => {
      await expectBlobPushed(EXTRA_NAME, config(8));
      await expectBlobPushed(EXTRA_NAME, layerBlob);
      const res = await putManifest(EXTRA_NAME, 'image', subject, MT.ociManifest);
      assert.equal(res.header('oci-subject'), undefined);
    });

    test('The referrer is listed with its artifactType and annotations', async () => {
      const res = await c.request('GET', `/v2/${EXTRA_NAME}/referrers/${subject.digest}`);
      expectStatus(res, 200);
      assert.equal(res.header('oci-filters-applied'), undefined, 'no filter was requested');
      assert.deepEqual(indexOf(res).manifests, [
        { mediaType: MT.ociManifest, digest: artifact.digest, size: artifact.content.length, artifactType, annotations: { 'org.opencontainers.image.created': '2025-01-29T00:00:00Z' } },
      ]);
    });

    test('A filter that matches nothing gives an empty list with OCI-Filters-Applied', async () => {
      const res = await c.request('GET', `/v2/${EXTRA_NAME}/referrers/${subject.digest}`, { query: { artifactType: 'application/vnd.berth.nothing' } });
      expectStatus(res, 200);
      assert.equal(res.header('content-type'), MT.ociIndex);
      assert.equal(res.header('oci-filters-applied'), artifactTypeFilter);
      assert.deepEqual(indexOf(res).manifests, []);
    });

    test('A referrers request with an invalid digest gives 400', async () => {
      const res = await c.request('GET', `/v2/${EXTRA_NAME}/referrers/sha256:totallywrong`);
      expectStatus(res, 400);
      const doc = res.json() as { errors?: Array<{ code: string }> };
      assert.equal(doc.errors?.[0]?.code, 'DIGEST_INVALID');
    });

    test('Deleting the referrer removes it from the referrers list', async () => {
      expectStatus(await c.request('DELETE', `/v2/${EXTRA_NAME}/manifests/${artifact.digest}`), 202);
      const res = await c.request('GET', `/v2/${EXTRA_NAME}/referrers/${subject.digest}`);
      expectStatus(res, 200);
      assert.deepEqual(indexOf(res).manifests, []);
    });
  });

  describe('_catalog pagination (berth)', () => {
    const more = ['conformance/discovery-cat-a', 'conformance/discovery-cat-b', 'conformance/discovery-cat-c'];
    let all: string[] = [];

    test('Repositories created by a push are listed in lexical order', async () => {
      for (const name of more) await expectBlobPushed(name, testBlob(`catalog ${name}`));
      all = [NAME, EXTRA_NAME, ...more].sort();
      const res = await c.request('GET', '/v2/_catalog');
      expectStatus(res, 200);
      const doc = res.json() as { repositories?: string[] };
      assert.deepEqual(doc.repositories, all);
      assert.equal(res.header('link'), undefined);
    });

    test('n gives a Link to the next page, and following it visits every repository once', async () => {
      const seen: string[] = [];
      let path: string | undefined = '/v2/_catalog?n=2';
      let pages = 0;
      while (path !== undefined) {
        const res = await c.request('GET', path);
        expectStatus(res, 200);
        const page = (res.json() as { repositories: string[] }).repositories;
        assert.ok(page.length <= 2);
        seen.push(...page);
        path = nextLink(res);
        if (path !== undefined) {
          assert.equal(page.length, 2, 'a page followed by a Link is full');
          const u = new URL(path, 'http://registry.invalid');
          assert.equal(u.pathname, '/v2/_catalog');
          assert.equal(u.searchParams.get('n'), '2');
          assert.equal(u.searchParams.get('last'), page[1]);
        }
        pages++;
        assert.ok(pages <= all.length + 1, 'pagination does not end');
      }
      assert.deepEqual(seen, all);
      assert.equal(pages, Math.ceil(all.length / 2));
    });

    test('n=0 gives an empty list and no Link header', async () => {
      const res = await c.request('GET', '/v2/_catalog', { query: { n: '0' } });
      expectStatus(res, 200);
      assert.deepEqual((res.json() as { repositories: string[] }).repositories, []);
      assert.equal(res.header('link'), undefined);
    });

    test('last gives the repositories after it', async () => {
      const res = await c.request('GET', '/v2/_catalog', { query: { n: '100', last: all[1] ?? '' } });
      expectStatus(res, 200);
      assert.deepEqual((res.json() as { repositories: string[] }).repositories, all.slice(2));
      assert.equal(res.header('link'), undefined);
    });
  });

  describe('Teardown', () => {
    test('Delete created manifest & associated tags', async () => {
      const references = [
        refsIndexArtifact.digest,
        manifest(2).digest,
        manifest(4).digest,
        refsManifestAConfigArtifact.digest,
        refsManifestALayerArtifact.digest,
        refsManifestBConfigArtifact.digest,
        refsManifestBLayerArtifact.digest,
        refsManifestCLayerArtifact.digest,
      ];
      for (const ref of references) {
        const res = await c.request('DELETE', `/v2/${NAME}/manifests/${ref}`);
        expectStatus(res, 202);
      }
    });

    test('Delete config blob created in tests', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${config(2).digest}`);
      expectStatus(res, 202);
    });

    test('Delete layer blob created in setup', async () => {
      const res = await c.request('DELETE', `/v2/${NAME}/blobs/${layerBlob.digest}`);
      expectStatus(res, 202);
    });

    test('References teardown', async () => {
      // The manifests were deleted by the previous test: a second delete finds nothing (404).
      for (const ref of [refsIndexArtifact, refsManifestAConfigArtifact, refsManifestALayerArtifact, manifest(4), refsManifestBConfigArtifact, refsManifestBLayerArtifact]) {
        const res = await c.request('DELETE', `/v2/${NAME}/manifests/${ref.digest}`);
        expectStatus(res, 404);
      }
      // Delete config blob, reference blobs and the empty JSON blob created in setup
      for (const blob of [config(4), testRefBlobA, testRefBlobB, emptyJSONBlob]) {
        const res = await c.request('DELETE', `/v2/${NAME}/blobs/${blob.digest}`);
        expectStatus(res, 202);
      }
    });
  });
});
