// Unsupported methods (405 UNSUPPORTED with Allow), unknown endpoints under /v2/ (404), invalid
// page sizes, and deletes that would break what other content uses (blob used by a manifest: 405;
// manifest listed by an index: 409). Each leaves everything in place.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { MT, assertPullable, call, expectOciError, expectRefused, pushImage, pushManifest, rawCall, startUpload, type Image, type Reply } from './helpers.ts';

const REPO = 'bad-input/methods';

let t: TestApp;
let image: Image;

before(async () => {
  t = await startTestApp();
  image = await pushImage(t, REPO, 'v1');
});
after(async () => {
  await t.close();
});

describe('unsupported methods', () => {
  test('each endpoint answers other methods with 405 UNSUPPORTED and an Allow header; a body sent along is not stored', async () => {
    const { location } = await startUpload(t, REPO);
    const digest = image.layers[0]?.digest ?? '';
    const table: Array<{ path: string; allow: string; methods: string[] }> = [
      { path: '/v2/', allow: 'GET, HEAD', methods: ['POST', 'PUT', 'PATCH', 'DELETE'] },
      { path: '/v2/_catalog', allow: 'GET', methods: ['POST', 'PUT', 'PATCH', 'DELETE'] },
      { path: `/v2/${REPO}/manifests/v1`, allow: 'GET, HEAD, PUT, DELETE', methods: ['POST', 'PATCH'] },
      { path: `/v2/${REPO}/blobs/${digest}`, allow: 'GET, HEAD, DELETE', methods: ['POST', 'PUT', 'PATCH'] },
      { path: `/v2/${REPO}/blobs/uploads/`, allow: 'POST', methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'] },
      { path: location, allow: 'GET, PATCH, PUT, DELETE', methods: ['POST', 'HEAD'] },
      { path: `/v2/${REPO}/tags/list`, allow: 'GET', methods: ['POST', 'PUT', 'PATCH', 'DELETE'] },
      { path: `/v2/${REPO}/referrers/${image.digest}`, allow: 'GET', methods: ['POST', 'PUT', 'PATCH', 'DELETE'] },
    ];
    for (const row of table) {
      for (const method of row.methods) {
        let r: Reply | undefined;
        const body = method === 'HEAD' || method === 'GET' || method === 'DELETE' ? undefined : randomBytes(2048);
        await expectRefused(t, {
          send: async () => (r = await call(t, method, row.path, body === undefined ? {} : { body, headers: { 'content-type': 'application/octet-stream' } })),
          error: { status: 405, code: 'UNSUPPORTED', message: new RegExp(`^${method} is not supported on this endpoint`), head: method === 'HEAD' },
          keep: [image],
          what: `${method} ${row.path}`,
        });
        assert.equal(r?.headers.get('allow'), row.allow, `${method} ${row.path}`);
      }
    }
  });

  test('OPTIONS and other standard methods on an endpoint: 405 with Allow (RFC 9110 15.5.6), not 404', async () => {
    for (const method of ['OPTIONS', 'TRACE']) {
      let r: Reply | undefined;
      await expectRefused(t, {
        send: async () => (r = await rawCall(t, method, `/v2/${REPO}/manifests/v1`)),
        error: { status: 405, code: 'UNSUPPORTED', message: new RegExp(`${method} is not supported`) },
        keep: [image],
        what: `${method} manifest`,
      });
      assert.equal(r?.headers.get('allow'), 'GET, HEAD, PUT, DELETE');
    }
  });
});

describe('unknown endpoints under /v2/', () => {
  test('paths that match no endpoint: 404 UNSUPPORTED "no such endpoint" in the OCI format, nothing stored', async () => {
    const paths: Array<[string, string]> = [
      ['GET', `/v2/${REPO}/unknown/thing`],
      ['GET', `/v2/${REPO}/manifests`],
      ['GET', `/v2/${REPO}/manifests/`],
      ['PUT', `/v2/${REPO}/manifests/`],
      ['GET', `/v2/${REPO}/tags`],
      ['GET', `/v2/${REPO}/tags/list/`],
      ['GET', `/v2/${REPO}/referrers/`],
      ['POST', `/v2/${REPO}/blobs/uploads/a/b`],
      ['GET', '/v2/_catalog/'],
      ['GET', '/v2/_catalog/extra'],
      ['DELETE', `/v2/${REPO}`],
    ];
    for (const [method, path] of paths) {
      await expectRefused(t, {
        send: () => rawCall(t, method, path, method === 'PUT' || method === 'POST' ? { body: randomBytes(100), headers: { 'content-length': '100' } } : {}),
        error: { status: 404, code: 'UNSUPPORTED', message: /^no such endpoint: / },
        keep: [image],
        what: `${method} ${path}`,
      });
    }
  });
});

describe('invalid page sizes', () => {
  for (const [what, base] of [
    ['tags/list', `/v2/${REPO}/tags/list`],
    ['_catalog', '/v2/_catalog'],
  ] as const) {
    test(`${what}: an invalid n is 400 UNSUPPORTED "invalid n"; n=0 is an empty page without Link`, async () => {
      for (const n of ['-1', 'abc', '1.5', '1e3', '0x10', '%20', '+5', '10abc']) {
        await expectRefused(t, { send: () => call(t, 'GET', `${base}?n=${n}`), error: { status: 400, code: 'UNSUPPORTED', message: /^invalid n ".*": expected a non-negative integer/ }, keep: [image], what: `${what}?n=${n}` });
      }
      const zero = await call(t, 'GET', `${base}?n=0`);
      assert.equal(zero.status, 200, zero.text);
      assert.equal(zero.headers.get('link'), null);
      const doc = JSON.parse(zero.text) as { tags?: string[]; repositories?: string[] };
      assert.deepEqual(doc.tags ?? doc.repositories, []);
      const huge = await call(t, 'GET', `${base}?n=99999999999999999999999`);
      assert.equal(huge.status, 200, huge.text);
    });
  }
});

describe('deletes of content still in use', () => {
  test('deleting a blob a manifest uses: 405 UNSUPPORTED naming the manifest; everything stays', async () => {
    for (const b of image.blobs) {
      let r: Reply | undefined;
      const err = await expectRefused(t, {
        send: async () => (r = await call(t, 'DELETE', `/v2/${REPO}/blobs/${b.digest}`)),
        error: { status: 405, code: 'UNSUPPORTED', message: new RegExp(`^blob ${b.digest} is used by manifest ${image.digest} in repository bad-input/methods; delete the manifest first$`) },
        keep: [image],
      });
      assert.deepEqual(err.detail, { digest: b.digest, manifests: [image.digest] });
      assert.ok(r !== undefined);
    }
  });

  test('deleting a manifest an index lists: 409 UNSUPPORTED naming the index; index and manifest stay', async () => {
    const child = await pushImage(t, REPO, 'child');
    const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: child.digest, size: child.body.length, platform: { architecture: 'amd64', os: 'linux' } }] };
    const pushed = await pushManifest(t, REPO, 'multi', index, MT.ociIndex);
    const indexImage: Image = { repo: REPO, tag: 'multi', digest: pushed.digest, body: pushed.body, mediaType: MT.ociIndex, config: child.config, layers: [], blobs: [] };
    const err = await expectRefused(t, {
      send: () => call(t, 'DELETE', `/v2/${REPO}/manifests/${child.digest}`),
      error: { status: 409, code: 'UNSUPPORTED', message: new RegExp(`^manifest ${child.digest} is listed by index ${pushed.digest} in repository bad-input/methods; delete the index first$`) },
      keep: [image, child, indexImage],
    });
    assert.deepEqual(err.detail, { digest: child.digest, indexes: [pushed.digest] });
    // The blobs of the listed manifest cannot go either.
    await expectRefused(t, {
      send: () => call(t, 'DELETE', `/v2/${REPO}/blobs/${child.layers[0]?.digest ?? ''}`),
      error: { status: 405, code: 'UNSUPPORTED', message: /delete the manifest first/ },
      keep: [image, child, indexImage],
    });
    // In the right order everything can be deleted.
    assert.equal((await call(t, 'DELETE', `/v2/${REPO}/manifests/${pushed.digest}`)).status, 202);
    assert.equal((await call(t, 'DELETE', `/v2/${REPO}/manifests/${child.digest}`)).status, 202);
    for (const b of child.blobs) assert.equal((await call(t, 'DELETE', `/v2/${REPO}/blobs/${b.digest}`)).status, 202);
    expectOciError(await call(t, 'GET', `/v2/${REPO}/manifests/child`), { status: 404, code: 'MANIFEST_UNKNOWN', message: /manifest tagged "child"/ });
    await assertPullable(t, image);
  });
});
