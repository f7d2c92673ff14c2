// Wrong and unsupported digests on every endpoint that takes one, and digest mismatches: 400
// DIGEST_INVALID, nothing stored, nothing lost; a failed upload completion keeps its session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import {
  MT,
  assertBlobPullable,
  assertPullable,
  blobFileExists,
  call,
  countRows,
  expectOciError,
  expectRefused,
  imageManifest,
  pushImage,
  sha256,
  sha512,
  snapshot,
  assertUnchanged,
  startUpload,
  uploadSize,
  withQuery,
  type Image,
  type Reply,
} from './helpers.ts';

const REPO = 'bad-input/digests';

let t: TestApp;
let image: Image;

before(async () => {
  t = await startTestApp();
  image = await pushImage(t, REPO, 'v1');
});
after(async () => {
  await t.close();
});

const MD5 = `md5:${'0123456789abcdef'.repeat(2)}`;
const HEX64 = 'a'.repeat(64);
const MALFORMED: ReadonlyArray<[string, string]> = [
  ['sha256 with 63 hex characters', `sha256:${'a'.repeat(63)}`],
  ['sha256 with 65 hex characters', `sha256:${'a'.repeat(65)}`],
  ['sha256 with uppercase hex', `sha256:${'A'.repeat(64)}`],
  ['sha256 with mixed-case hex', `sha256:${'aB'.repeat(32)}`],
  ['sha256 with non-hex characters', `sha256:${'g'.repeat(64)}`],
  ['sha256 with an empty encoding', 'sha256:'],
  ['sha512 with 64 hex characters', `sha512:${'b'.repeat(64)}`],
  ['sha512 with 127 hex characters', `sha512:${'b'.repeat(127)}`],
  ['sha512 with 129 hex characters', `sha512:${'b'.repeat(129)}`],
  ['an uppercase algorithm', `SHA256:${HEX64}`],
  ['no algorithm', `:${HEX64}`],
];

const UNSUPPORTED = /unsupported digest algorithm "md5".*sha256 and sha512/;
const MALFORMED_MESSAGE = /invalid (digest|manifest reference) ".*": expected sha256:<64 hex> or sha512:<128 hex>/;

function digestError(message: RegExp, head = false): { status: number; code: string; message: RegExp; head: boolean } {
  return { status: 400, code: 'DIGEST_INVALID', message, head };
}

/** Every endpoint that takes a digest, with `d` in it. */
function endpoints(d: string): Array<{ what: string; send: () => Promise<Reply>; head?: boolean }> {
  const enc = encodeURIComponent(d);
  const manifestBody = (): Buffer => Buffer.from(JSON.stringify(imageManifest(image.config, image.layers)));
  return [
    { what: 'GET blob', send: () => call(t, 'GET', `/v2/${REPO}/blobs/${d}`) },
    { what: 'HEAD blob', send: () => call(t, 'HEAD', `/v2/${REPO}/blobs/${d}`), head: true },
    { what: 'DELETE blob', send: () => call(t, 'DELETE', `/v2/${REPO}/blobs/${d}`) },
    { what: 'GET manifest', send: () => call(t, 'GET', `/v2/${REPO}/manifests/${d}`) },
    { what: 'HEAD manifest', send: () => call(t, 'HEAD', `/v2/${REPO}/manifests/${d}`), head: true },
    { what: 'DELETE manifest', send: () => call(t, 'DELETE', `/v2/${REPO}/manifests/${d}`) },
    { what: 'PUT manifest', send: () => call(t, 'PUT', `/v2/${REPO}/manifests/${d}`, { body: manifestBody(), headers: { 'content-type': MT.ociManifest } }) },
    { what: 'GET referrers', send: () => call(t, 'GET', `/v2/${REPO}/referrers/${d}`) },
    { what: 'POST monolithic upload', send: () => call(t, 'POST', `/v2/${REPO}/blobs/uploads/?digest=${enc}`, { body: 'some content', headers: { 'content-type': 'application/octet-stream' } }) },
    { what: 'POST mount', send: () => call(t, 'POST', `/v2/${REPO}/blobs/uploads/?mount=${enc}&from=${encodeURIComponent(REPO)}`) },
  ];
}

describe('unsupported and malformed digests', () => {
  for (const e of endpoints(MD5)) {
    test(`${e.what} with md5: 400 DIGEST_INVALID "unsupported digest algorithm"`, async () => {
      await expectRefused(t, { send: e.send, error: digestError(UNSUPPORTED, e.head), keep: [image], what: `${e.what} ${MD5}` });
    });
  }

  for (const [name, d] of MALFORMED) {
    test(`${name}: 400 DIGEST_INVALID on every endpoint`, async () => {
      for (const e of endpoints(d)) {
        // `:hex` and `SHA256:hex` are not in the digest grammar at all; as a manifest reference
        // they are also not tags (tags have no ':'), so they are still digest errors.
        await expectRefused(t, { send: e.send, error: digestError(MALFORMED_MESSAGE, e.head), what: `${e.what} ${d}` });
      }
      await assertPullable(t, image);
    });
  }

  test('a completing PUT with a malformed or unsupported digest: 400 DIGEST_INVALID, the session is kept', async () => {
    const data = randomBytes(300);
    const { location } = await startUpload(t, REPO);
    assert.equal((await call(t, 'PATCH', location, { body: data, headers: { 'content-type': 'application/octet-stream' } })).status, 202);
    for (const d of [MD5, `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'b'.repeat(64)}`]) {
      await expectRefused(t, {
        send: () => call(t, 'PUT', withQuery(location, `digest=${encodeURIComponent(d)}`)),
        error: digestError(d === MD5 ? UNSUPPORTED : MALFORMED_MESSAGE),
        keep: [image],
        what: `PUT ?digest=${d}`,
      });
    }
    assert.equal(await uploadSize(t, location), data.length);
    const r = await call(t, 'PUT', withQuery(location, `digest=${sha256(data)}`));
    assert.equal(r.status, 201, r.text);
    await assertBlobPullable(t, REPO, { digest: sha256(data), data });
  });
});

describe('digest mismatches', () => {
  test('a manifest whose digest is not the one in the URL: 400 DIGEST_INVALID with both digests', async () => {
    const body = Buffer.from(JSON.stringify(imageManifest(image.config, image.layers, { annotations: { n: '1' } })));
    const wrong = sha256(Buffer.concat([body, Buffer.from(' ')]));
    const err = await expectRefused(t, {
      send: () => call(t, 'PUT', `/v2/${REPO}/manifests/${wrong}`, { body, headers: { 'content-type': MT.ociManifest } }),
      error: { status: 400, code: 'DIGEST_INVALID', message: new RegExp(`the manifest's digest is ${sha256(body)}, not ${wrong} as in the URL`) },
      keep: [image],
    });
    assert.deepEqual(err.detail, { expected: wrong, actual: sha256(body) });
    // A sha512 URL digest is compared with the sha512 of the body.
    const wrong512 = sha512(Buffer.from('another body'));
    await expectRefused(t, {
      send: () => call(t, 'PUT', `/v2/${REPO}/manifests/${wrong512}`, { body, headers: { 'content-type': MT.ociManifest } }),
      error: { status: 400, code: 'DIGEST_INVALID', message: new RegExp(`the manifest's digest is ${sha512(body)}, not ${wrong512} as in the URL`) },
      keep: [image],
    });
    // The existing manifest's digest with a different body is also a mismatch (no overwrite).
    await expectRefused(t, {
      send: () => call(t, 'PUT', `/v2/${REPO}/manifests/${image.digest}`, { body, headers: { 'content-type': MT.ociManifest } }),
      error: { status: 400, code: 'DIGEST_INVALID', message: /as in the URL/ },
      keep: [image],
    });
  });

  test('upload completion with the digest of other content: 400 DIGEST_INVALID, no blob, session kept and completable', async () => {
    const data = randomBytes(4096);
    const other = sha256(randomBytes(4096));
    const { location } = await startUpload(t, REPO);
    const p = await call(t, 'PATCH', location, { body: data, headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${data.length - 1}` } });
    assert.equal(p.status, 202, p.text);
    const err = await expectRefused(t, {
      send: () => call(t, 'PUT', withQuery(location, `digest=${other}`)),
      error: { status: 400, code: 'DIGEST_INVALID', message: new RegExp(`the uploaded content has digest ${sha256(data)}, not ${other}`) },
      keep: [image],
    });
    assert.deepEqual(err.detail, { expected: other, actual: sha256(data) });
    assert.equal(blobFileExists(t, other), false, 'no blob file under the claimed digest');
    assert.equal(blobFileExists(t, sha256(data)), false, 'no blob file under the real digest');
    assert.equal(countRows(t, 'blobs', 'digest IN (?, ?)', other, sha256(data)), 0);
    expectOciError(await call(t, 'GET', `/v2/${REPO}/blobs/${sha256(data)}`), { status: 404, code: 'BLOB_UNKNOWN', message: /not in repository/ });
    // The session is still there with all its bytes; completing with the right digest works.
    assert.equal(await uploadSize(t, location), data.length);
    const done = await call(t, 'PUT', withQuery(location, `digest=${sha256(data)}`));
    assert.equal(done.status, 201, done.text);
    assert.equal(done.headers.get('docker-content-digest'), sha256(data));
    await assertBlobPullable(t, REPO, { digest: sha256(data), data });
  });

  test('a sha512 upload completion with a wrong sha512 digest: 400 DIGEST_INVALID; the right sha512 completes it', async () => {
    const data = randomBytes(2000);
    const { location } = await startUpload(t, REPO);
    assert.equal((await call(t, 'PATCH', location, { body: data })).status, 202);
    const wrong = sha512(randomBytes(10));
    await expectRefused(t, {
      send: () => call(t, 'PUT', withQuery(location, `digest=${wrong}`)),
      error: { status: 400, code: 'DIGEST_INVALID', message: new RegExp(`the uploaded content has digest ${sha512(data)}, not ${wrong}`) },
      keep: [image],
    });
    const done = await call(t, 'PUT', withQuery(location, `digest=${sha512(data)}`));
    assert.equal(done.status, 201, done.text);
    await assertBlobPullable(t, REPO, { digest: sha512(data), data });
  });

  test('a final chunk in the completing PUT with a wrong digest: 400 DIGEST_INVALID, no blob, session kept', async () => {
    const data = randomBytes(3000);
    const wrong = sha256(randomBytes(8));
    const { location } = await startUpload(t, REPO);
    await expectRefused(t, {
      send: () => call(t, 'PUT', withQuery(location, `digest=${wrong}`), { body: data, headers: { 'content-type': 'application/octet-stream' } }),
      error: { status: 400, code: 'DIGEST_INVALID', message: /the uploaded content has digest/ },
      keep: [image],
      // The session's bytes and last-use time may reflect the final chunk: the client can still complete it.
      allow: ['uploads', 'uploadFiles'],
    });
    assert.equal(blobFileExists(t, wrong), false);
    assert.equal(blobFileExists(t, sha256(data)), false);
    const size = await uploadSize(t, location);
    assert.ok(size === 0 || size === data.length, `the session holds all or none of the final chunk, not ${size} bytes`);
  });

  test('a monolithic POST ?digest= whose body does not match: 400 DIGEST_INVALID, no blob, no upload session left behind', async () => {
    const data = randomBytes(5000);
    const wrong = sha256(randomBytes(8));
    await expectRefused(t, {
      send: () => call(t, 'POST', `/v2/${REPO}/blobs/uploads/?digest=${wrong}`, { body: data, headers: { 'content-type': 'application/octet-stream' } }),
      error: { status: 400, code: 'DIGEST_INVALID', message: new RegExp(`the uploaded content has digest ${sha256(data)}, not ${wrong}`) },
      keep: [image],
      what: 'a monolithic upload with the wrong digest (the client never learns an upload id, so none may remain)',
    });
  });
});

describe('missing digest on upload completion', () => {
  for (const query of ['', 'digest=', 'digest']) {
    test(`PUT ${query === '' ? 'without ?digest' : `?${query}`}: 400 DIGEST_INVALID "digest query parameter is required", nothing appended`, async () => {
      const data = randomBytes(1000);
      const { location } = await startUpload(t, REPO);
      assert.equal((await call(t, 'PATCH', location, { body: data })).status, 202);
      const url = query === '' ? location : withQuery(location, query);
      await expectRefused(t, {
        send: () => call(t, 'PUT', url),
        error: { status: 400, code: 'DIGEST_INVALID', message: /digest query parameter is required/ },
        keep: [image],
      });
      // With a final chunk: refused before the chunk is read, so nothing is appended.
      await expectRefused(t, {
        send: () => call(t, 'PUT', url, { body: randomBytes(700), headers: { 'content-type': 'application/octet-stream' } }),
        error: { status: 400, code: 'DIGEST_INVALID', message: /digest query parameter is required/ },
        keep: [image],
      });
      assert.equal(await uploadSize(t, location), data.length);
      const before = snapshot(t);
      assert.equal((await call(t, 'PUT', withQuery(location, `digest=${sha256(data)}`))).status, 201);
      assertUnchanged(t, before, { allow: ['blobs', 'repository_blobs', 'uploads', 'blobFiles', 'uploadFiles'] });
      await assertBlobPullable(t, REPO, { digest: sha256(data), data });
    });
  }
});
