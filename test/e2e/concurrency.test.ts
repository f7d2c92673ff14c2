// Concurrency against a real berth process: many clients pushing the same blob at once through
// independent upload sessions (same repository, different repositories) store it once and every pull
// is byte-identical; concurrent manifest pushes to one tag leave it on one of them, all pullable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import {
  Cleanup,
  MiB,
  assertBlobStoreConsistent,
  basicAuth,
  countStored,
  describeHttp,
  headerOf,
  http,
  listFiles,
  locationPath,
  patternDigest,
  patternStream,
  sha256Hex,
  storedBlobFiles,
  v2,
  withDigest,
  type HttpResult,
} from './support.ts';

const CLIENTS = 8;
const BLOB_SIZE = 20 * MiB;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('concurrency', () => {
  const cleanup = new Cleanup();
  let server: RunningServer;

  before(async () => {
    server = await startServer();
    cleanup.server(server);
  });

  after(async () => {
    await cleanup.run();
  });

  function ok(r: HttpResult, status: number, what: string): HttpResult {
    assert.equal(r.status, status, `${what}: ${describeHttp(r)}\nserver output:\n${server.output().slice(-8000)}`);
    return r;
  }

  /**
   * `repos.length` clients push the same blob at the same time, each through its own upload session:
   * all sessions start together, then every chunk is sent together, then every session completes
   * together. Even clients PATCH the body and complete with an empty PUT; odd clients send the whole
   * body with the completing PUT.
   */
  async function pushTogether(repos: string[], seed: number): Promise<string> {
    const digest = await patternDigest(BLOB_SIZE, seed);
    const api = v2(server);
    const started = await Promise.all(repos.map(async (r) => ok(await api.req('POST', `/v2/${r}/blobs/uploads/`), 202, `POST ${r}`)));
    const locations = started.map((s) => locationPath(s));
    assert.equal(new Set(locations).size, repos.length, 'every session has its own upload URL');

    const afterPatch = await Promise.all(
      locations.map(async (loc, i) => {
        if (i % 2 === 1) return loc;
        const r = ok(
          await api.req('PATCH', loc, { 'content-type': 'application/octet-stream', 'content-range': `0-${BLOB_SIZE - 1}`, 'content-length': String(BLOB_SIZE) }, patternStream(0, BLOB_SIZE, { seed })),
          202,
          `PATCH ${loc}`,
        );
        assert.equal(headerOf(r, 'range'), `0-${BLOB_SIZE - 1}`);
        return locationPath(r);
      }),
    );

    const done = await Promise.all(
      afterPatch.map(async (loc, i) =>
        i % 2 === 1
          ? await api.req('PUT', withDigest(loc, digest), { 'content-type': 'application/octet-stream', 'content-length': String(BLOB_SIZE) }, patternStream(0, BLOB_SIZE, { seed }))
          : await api.req('PUT', withDigest(loc, digest), { 'content-length': '0' }),
      ),
    );
    done.forEach((r, i) => {
      ok(r, 201, `PUT (client ${i}, ${repos[i] ?? ''})`);
      assert.equal(headerOf(r, 'docker-content-digest'), digest);
    });
    return digest;
  }

  async function assertPullsIdentical(repo: string, digest: string): Promise<void> {
    const head = ok(await v2(server).req('HEAD', `/v2/${repo}/blobs/${digest}`), 200, `HEAD in ${repo}`);
    assert.equal(headerOf(head, 'content-length'), String(BLOB_SIZE));
    const h = createHash('sha256');
    let size = 0;
    const res = await http(`${server.url}/v2/${repo}/blobs/${digest}`, {
      method: 'GET',
      headers: { authorization: basicAuth(server) },
      sink: (c) => {
        h.update(c);
        size += c.length;
      },
    });
    ok(res, 200, `GET in ${repo}`);
    assert.equal(size, BLOB_SIZE, `bytes pulled from ${repo}`);
    assert.equal(`sha256:${h.digest('hex')}`, digest, `digest of the bytes pulled from ${repo}`);
  }

  async function assertStoredOnceAndNoUploadsLeft(digest: string): Promise<void> {
    const files = await storedBlobFiles(server.dataDir);
    assert.equal(countStored(files, digest), 1, `${digest} in storage/blobs:\n${files.join('\n')}`);
    await assertBlobStoreConsistent(server.dataDir);
    const uploads = await listFiles(join(server.dataDir, 'storage', 'uploads'));
    assert.deepEqual(uploads, [], 'completed upload sessions leave no data behind');
  }

  test(`${CLIENTS} clients push the same 20 MiB blob to the same repository at once`, async () => {
    const repo = 'conc/same';
    const digest = await pushTogether(Array.from({ length: CLIENTS }, () => repo), 11);
    await assertStoredOnceAndNoUploadsLeft(digest);
    await Promise.all(Array.from({ length: 4 }, () => assertPullsIdentical(repo, digest)));
  });

  test(`${CLIENTS} clients push the same 20 MiB blob to ${CLIENTS} repositories at once`, async () => {
    const repos = Array.from({ length: CLIENTS }, (_, i) => `conc/repo-${i}`);
    const digest = await pushTogether(repos, 12);
    await assertStoredOnceAndNoUploadsLeft(digest);
    await Promise.all(repos.map((r) => assertPullsIdentical(r, digest)));
    // A repository that took no part does not hold it.
    const other = await v2(server).req('GET', `/v2/conc/same/blobs/${digest}`);
    assert.equal(other.status, 404, describeHttp(other));
  });

  test('concurrent pushes of different manifests to one tag: the tag names one of them, all pull by digest', async () => {
    const repo = 'conc/tags';
    const api = v2(server);
    const VARIANTS = 6;
    const ROUNDS = 5;

    const putBlob = async (body: Buffer): Promise<{ digest: string; size: number }> => {
      const digest = `sha256:${sha256Hex(body)}`;
      const r = await api.req('POST', `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, { 'content-type': 'application/octet-stream' }, body);
      ok(r, 201, `monolithic upload of ${digest}`);
      return { digest, size: body.length };
    };
    const layer = await putBlob(Buffer.from('a layer shared by every variant\n'.repeat(64)));
    const manifests: Array<{ digest: string; body: Buffer }> = [];
    for (let i = 0; i < VARIANTS; i++) {
      const config = await putBlob(
        Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { variant: String(i) } }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256Hex(`diff-${i}`)}`] } })),
      );
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        }),
      );
      manifests.push({ digest: `sha256:${sha256Hex(body)}`, body });
    }
    const byDigest = new Map(manifests.map((m) => [m.digest, m.body]));

    for (let round = 0; round < ROUNDS; round++) {
      // Every variant to the shared tag, and each to its own tag, all at once.
      const results = await Promise.all([
        ...manifests.map((m) => api.req('PUT', `/v2/${repo}/manifests/race`, { 'content-type': OCI_MANIFEST }, m.body)),
        ...manifests.map((m, i) => api.req('PUT', `/v2/${repo}/manifests/v${i}`, { 'content-type': OCI_MANIFEST }, m.body)),
      ]);
      results.forEach((r, i) => {
        ok(r, 201, `round ${round}: manifest PUT ${i}`);
        assert.equal(headerOf(r, 'docker-content-digest'), manifests[i % VARIANTS]?.digest);
      });

      const got = ok(await api.req('GET', `/v2/${repo}/manifests/race`, { accept: OCI_MANIFEST }), 200, 'GET race');
      const tagged = headerOf(got, 'docker-content-digest') ?? '';
      assert.ok(byDigest.has(tagged), `round ${round}: the tag names ${tagged}, which is none of the manifests pushed`);
      assert.deepEqual(got.body, byDigest.get(tagged), `round ${round}: the tag's content is the manifest it names`);
      assert.equal(`sha256:${sha256Hex(got.body)}`, tagged);
      const head = ok(await api.req('HEAD', `/v2/${repo}/manifests/race`, { accept: OCI_MANIFEST }), 200, 'HEAD race');
      assert.equal(headerOf(head, 'docker-content-digest'), tagged, 'HEAD and GET of the tag agree');
    }

    for (const [i, m] of manifests.entries()) {
      const r = ok(await api.req('GET', `/v2/${repo}/manifests/${m.digest}`, { accept: OCI_MANIFEST }), 200, `GET by digest ${m.digest}`);
      assert.deepEqual(r.body, m.body, `manifest ${m.digest} is byte-identical`);
      const t = ok(await api.req('GET', `/v2/${repo}/manifests/v${i}`, { accept: OCI_MANIFEST }), 200, `GET v${i}`);
      assert.equal(headerOf(t, 'docker-content-digest'), m.digest);
    }
    const tags = ok(await api.req('GET', `/v2/${repo}/tags/list`), 200, 'tags/list');
    const list = JSON.parse(tags.body.toString('utf8')) as { name: string; tags: string[] };
    assert.equal(list.name, repo);
    assert.deepEqual([...list.tags].sort(), ['race', ...manifests.map((_, i) => `v${i}`)].sort());
  });
});
