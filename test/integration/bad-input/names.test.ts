// Repository names and tags that break the rules: 400 NAME_INVALID / MANIFEST_INVALID naming the
// problem (or 404 where no endpoint can match), no repository row, no file anywhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import {
  MT,
  assertPullable,
  call,
  countRows,
  expectOciError,
  expectRefused,
  imageManifest,
  pushManifest,
  rawCall,
  sha256,
  snapshot,
  assertUnchanged,
  pushImage,
  type Image,
  type Reply,
} from './helpers.ts';

const REPO = 'bad-input/names';

let t: TestApp;
let image: Image;

before(async () => {
  t = await startTestApp();
  image = await pushImage(t, REPO, 'v1');
});
after(async () => {
  await t.close();
});

/** Every endpoint that takes a name, with the raw (already encoded) name in its path. */
function endpoints(rawName: string): Array<{ what: string; send: () => Promise<Reply>; head?: boolean }> {
  const manifest = Buffer.from(JSON.stringify(imageManifest(image.config, image.layers)));
  const blob = randomBytes(64);
  const base = `/v2/${rawName}`;
  return [
    { what: 'GET tags/list', send: () => rawCall(t, 'GET', `${base}/tags/list`) },
    { what: 'GET manifest', send: () => rawCall(t, 'GET', `${base}/manifests/latest`) },
    { what: 'HEAD manifest', send: () => rawCall(t, 'HEAD', `${base}/manifests/latest`), head: true },
    { what: 'PUT manifest', send: () => rawCall(t, 'PUT', `${base}/manifests/latest`, { body: manifest, headers: { 'content-type': MT.ociManifest, 'content-length': String(manifest.length) } }) },
    { what: 'DELETE manifest', send: () => rawCall(t, 'DELETE', `${base}/manifests/${image.digest}`) },
    { what: 'GET blob', send: () => rawCall(t, 'GET', `${base}/blobs/${image.layers[0]?.digest ?? ''}`) },
    { what: 'DELETE blob', send: () => rawCall(t, 'DELETE', `${base}/blobs/${image.layers[0]?.digest ?? ''}`) },
    { what: 'POST upload', send: () => rawCall(t, 'POST', `${base}/blobs/uploads/`) },
    { what: 'POST monolithic upload', send: () => rawCall(t, 'POST', `${base}/blobs/uploads/?digest=${sha256(blob)}`, { body: blob, headers: { 'content-length': String(blob.length) } }) },
    { what: 'POST mount', send: () => rawCall(t, 'POST', `${base}/blobs/uploads/?mount=${image.layers[0]?.digest ?? ''}&from=${REPO}`) },
    { what: 'PATCH upload', send: () => rawCall(t, 'PATCH', `${base}/blobs/uploads/${randomUUID()}`, { body: blob, headers: { 'content-length': String(blob.length) } }) },
    { what: 'GET referrers', send: () => rawCall(t, 'GET', `${base}/referrers/${image.digest}`) },
  ];
}

const INVALID_NAMES: ReadonlyArray<{ what: string; raw: string; decoded: string; why: RegExp }> = [
  { what: 'a ".." segment', raw: 'ab/../cd', decoded: 'ab/../cd', why: /has a "\." or "\.\." path segment/ },
  { what: 'a name that is ".."', raw: '..', decoded: '..', why: /has a "\." or "\.\." path segment/ },
  { what: 'a "." segment', raw: 'ab/./cd', decoded: 'ab/./cd', why: /has a "\." or "\.\." path segment/ },
  { what: 'uppercase letters', raw: 'Bad-Input/Names', decoded: 'Bad-Input/Names', why: /contains uppercase letters/ },
  { what: 'an empty segment (a//b)', raw: 'ab//cd', decoded: 'ab//cd', why: /has an empty path segment/ },
  { what: 'a leading slash', raw: '/ab', decoded: '/ab', why: /has an empty path segment/ },
  { what: 'a trailing slash', raw: 'ab/', decoded: 'ab/', why: /has an empty path segment/ },
  { what: 'a leading separator', raw: '-ab', decoded: '-ab', why: /does not match/ },
  { what: 'a trailing separator', raw: 'ab-', decoded: 'ab-', why: /does not match/ },
  { what: 'a leading underscore', raw: '_ab', decoded: '_ab', why: /does not match/ },
  { what: 'a leading dot', raw: '.ab', decoded: '.ab', why: /does not match/ },
  { what: 'a trailing dot', raw: 'ab.', decoded: 'ab.', why: /does not match/ },
  { what: 'a separator before a slash', raw: 'ab-/cd', decoded: 'ab-/cd', why: /does not match/ },
  { what: 'two dots in a row', raw: 'a..b', decoded: 'a..b', why: /does not match/ },
  { what: 'three underscores', raw: 'a___b', decoded: 'a___b', why: /does not match/ },
  { what: '257 characters', raw: 'a'.repeat(257), decoded: 'a'.repeat(257), why: /longer than 256 characters/ },
  { what: '1 character', raw: 'a', decoded: 'a', why: /shorter than 2 characters/ },
  { what: '%2e%2e (an encoded ".." segment)', raw: 'ab/%2e%2e/cd', decoded: 'ab/../cd', why: /has a "\." or "\.\." path segment/ },
  { what: '%2F..%2F (an encoded traversal)', raw: 'ab%2F..%2F..%2Fcd', decoded: 'ab/../../cd', why: /has a "\." or "\.\." path segment/ },
  { what: '%2F%2F (an encoded empty segment)', raw: 'ab%2F%2Fcd', decoded: 'ab//cd', why: /has an empty path segment/ },
  { what: 'an encoded NUL byte', raw: 'ab%00cd', decoded: 'ab\u0000cd', why: /does not match/ },
  { what: 'an encoded space', raw: 'ab%20cd', decoded: 'ab cd', why: /does not match/ },
  { what: 'a colon', raw: 'ab:cd', decoded: 'ab:cd', why: /does not match/ },
  { what: 'a non-ASCII letter', raw: 'caf%C3%A9', decoded: 'café', why: /does not match/ },
];

function markerPaths(marker: string): string[] {
  return [join(dirname(t.dataDir), marker), join(t.dataDir, marker), join(t.dataDir, 'storage', marker)];
}

describe('invalid repository names', () => {
  for (const n of INVALID_NAMES) {
    test(`${n.what}: 400 NAME_INVALID on every endpoint, no repository, no file`, async () => {
      const reposBefore = countRows(t, 'repositories');
      for (const e of endpoints(n.raw)) {
        const err = await expectRefused(t, {
          send: e.send,
          error: { status: 400, code: 'NAME_INVALID', message: n.why, head: e.head ?? false },
          what: `${e.what} /v2/${n.raw}`,
        });
        if (e.head !== true) {
          assert.match(err.message, /^invalid repository name "/);
          assert.deepEqual(err.detail, { name: n.decoded });
        }
      }
      assert.equal(countRows(t, 'repositories'), reposBefore);
      await assertPullable(t, image);
    });
  }

  test('a traversal toward a marker outside the data directory creates nothing there', async () => {
    const marker = `berth-escape-${randomUUID()}`;
    const before = snapshot(t);
    for (const raw of [`../../${marker}`, `..%2F..%2F${marker}`, `%2e%2e/%2e%2e/${marker}`, `ab/../../../${marker}`]) {
      for (const e of endpoints(raw)) {
        const r = await e.send();
        // Either no endpoint matches (404) or the name is refused (400): never a success.
        assert.ok(r.status === 400 || r.status === 404, `${e.what} /v2/${raw}: ${r.status} ${r.text}`);
        if (e.head !== true) {
          const code = r.status === 400 ? 'NAME_INVALID' : 'UNSUPPORTED';
          expectOciError(r, { status: r.status, code, message: r.status === 400 ? /path segment/ : /no such endpoint/ });
        }
      }
    }
    assertUnchanged(t, before);
    for (const p of markerPaths(marker)) assert.equal(existsSync(p), false, `${p} must not exist`);
    const siblings = readdirSync(dirname(t.dataDir)).filter((f) => f.includes(marker));
    assert.deepEqual(siblings, []);
  });

  test('paths where no endpoint can match a name answer 404 (no route), in the OCI format', async () => {
    const paths = ['/v2//manifests/latest', '/v2/manifests/latest', '/v2/../etc/passwd', `/v2/${REPO}/manifests/`, `/v2/${REPO}`, `/v2/${REPO}/`, `/v2/${REPO}/blobs/`, `/v2/${REPO}/tags/list/extra`];
    for (const p of paths) {
      await expectRefused(t, { send: () => rawCall(t, 'GET', p), error: { status: 404, code: 'UNSUPPORTED', message: /^no such endpoint: GET / }, keep: [image], what: `GET ${p}` });
    }
  });

  test('invalid percent-encoding in the path: 400 in the OCI format, nothing stored', async () => {
    for (const p of [`/v2/ab%zz/tags/list`, `/v2/${REPO}/manifests/v%1`, `/v2/ab%/blobs/uploads/`]) {
      await expectRefused(t, {
        send: () => rawCall(t, p.endsWith('uploads/') ? 'POST' : 'GET', p),
        error: { status: 400, code: 'UNSUPPORTED', message: /percent-encoding|not a valid url/i },
        keep: [image],
        what: `GET ${p}`,
      });
    }
  });

  test('%2F in a name is a slash: the same repository as the unencoded name', async () => {
    const r = await rawCall(t, 'GET', `/v2/${REPO.replace('/', '%2F')}/tags/list`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { name: REPO, tags: ['v1'] });
    expectOciError(await rawCall(t, 'GET', '/v2/no%2Fsuch/tags/list'), { status: 404, code: 'NAME_UNKNOWN', message: /repository no\/such does not exist/ });
  });

  test('names at the limits (2 and 256 characters) are valid: NAME_UNKNOWN, not NAME_INVALID', async () => {
    for (const name of ['ab', 'a'.repeat(256), `${'a'.repeat(127)}/${'b'.repeat(128)}`, 'a-b', 'a--b', 'a__b', 'a.b', 'a_b/c-d/e.f', '0/1']) {
      const err = await expectRefused(t, { send: () => call(t, 'GET', `/v2/${name}/tags/list`), error: { status: 404, code: 'NAME_UNKNOWN', message: /does not exist/ } });
      assert.deepEqual(err.detail, { name });
    }
    // And a 256-character name can be pushed to.
    const long = 'z'.repeat(256);
    const r = await call(t, 'POST', `/v2/${long}/blobs/uploads/`);
    assert.equal(r.status, 202, r.text);
    assert.equal(countRows(t, 'repositories', 'name = ?', long), 1);
  });
});

describe('invalid tags', () => {
  const INVALID_TAGS: ReadonlyArray<{ what: string; raw: string; tag: string }> = [
    { what: 'a leading dash', raw: '-lead', tag: '-lead' },
    { what: 'a leading dot', raw: '.hidden', tag: '.hidden' },
    { what: 'spaces (encoded)', raw: 'tag%20with%20space', tag: 'tag with space' },
    { what: '129 characters', raw: 'a'.repeat(129), tag: 'a'.repeat(129) },
    { what: 'an exclamation mark', raw: 'tag!', tag: 'tag!' },
    { what: 'a non-ASCII letter', raw: 't%C3%A1g', tag: 'tág' },
    { what: 'a tab (encoded)', raw: 'tag%09x', tag: 'tag\tx' },
    { what: 'a plus sign', raw: 'v1+build', tag: 'v1+build' },
  ];
  for (const x of INVALID_TAGS) {
    test(`a tag with ${x.what}: 400 MANIFEST_INVALID naming the tag on PUT; 404 MANIFEST_UNKNOWN "not a valid tag" on GET, HEAD, DELETE`, async () => {
      const body = Buffer.from(JSON.stringify(imageManifest(image.config, image.layers)));
      const quoted = x.tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const put = await expectRefused(t, {
        send: () => rawCall(t, 'PUT', `/v2/${REPO}/manifests/${x.raw}`, { body, headers: { 'content-type': MT.ociManifest, 'content-length': String(body.length) } }),
        error: { status: 400, code: 'MANIFEST_INVALID', message: new RegExp(`^invalid tag "${quoted}": a tag matches`) },
        keep: [image],
        what: `PUT tag ${x.raw}`,
      });
      assert.deepEqual(put.detail, { tag: x.tag });
      // Reads and deletes: a string that cannot be a tag names no manifest (berth's choice, see
      // readReference in src/registry/manifests.ts); the message still says why.
      const message = new RegExp(`^no manifest is tagged "${quoted}" in repository ${REPO}: it is not a valid tag$`);
      const cases: Array<[string, () => Promise<Reply>, boolean]> = [
        ['GET', () => rawCall(t, 'GET', `/v2/${REPO}/manifests/${x.raw}`), false],
        ['HEAD', () => rawCall(t, 'HEAD', `/v2/${REPO}/manifests/${x.raw}`), true],
        ['DELETE', () => rawCall(t, 'DELETE', `/v2/${REPO}/manifests/${x.raw}`), false],
      ];
      for (const [what, send, head] of cases) {
        const err = await expectRefused(t, { send, error: { status: 404, code: 'MANIFEST_UNKNOWN', message, head }, keep: [image], what: `${what} tag ${x.raw}` });
        if (!head) assert.deepEqual(err.detail, { tag: x.tag });
      }
    });
  }

  test('a tag with a colon is read as a digest: 400 DIGEST_INVALID naming the algorithm', async () => {
    const body = Buffer.from(JSON.stringify(imageManifest(image.config, image.layers)));
    await expectRefused(t, {
      send: () => call(t, 'PUT', `/v2/${REPO}/manifests/a:b`, { body, headers: { 'content-type': MT.ociManifest } }),
      error: { status: 400, code: 'DIGEST_INVALID', message: /unsupported digest algorithm "a"/ },
      keep: [image],
    });
    await expectRefused(t, { send: () => call(t, 'GET', `/v2/${REPO}/manifests/v1:latest`), error: { status: 400, code: 'DIGEST_INVALID', message: /unsupported digest algorithm "v1"/ }, keep: [image] });
  });

  test('tags at the limits are valid: 128 characters, a leading underscore, dots and dashes inside', async () => {
    for (const tag of ['b'.repeat(128), '_under', 'v1.2.3-rc_1', 'A', '0']) {
      const err = await expectRefused(t, { send: () => call(t, 'GET', `/v2/${REPO}/manifests/${tag}`), error: { status: 404, code: 'MANIFEST_UNKNOWN', message: new RegExp(`manifest tagged "${tag}" is not in repository`) } });
      assert.deepEqual(err.detail, { tag });
    }
    const tag = 'c'.repeat(128);
    await pushManifest(t, REPO, tag, image.body, MT.ociManifest);
    const r = await call(t, 'GET', `/v2/${REPO}/manifests/${tag}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(image.body));
    assert.equal((await call(t, 'DELETE', `/v2/${REPO}/manifests/${tag}`)).status, 202);
    await assertPullable(t, image);
  });

  test('a referrers request for a tag instead of a digest: 400 DIGEST_INVALID', async () => {
    await expectRefused(t, { send: () => call(t, 'GET', `/v2/${REPO}/referrers/v1`), error: { status: 400, code: 'DIGEST_INVALID', message: /invalid digest "v1"/ }, keep: [image] });
    await expectRefused(t, { send: () => call(t, 'GET', `/v2/${REPO}/blobs/v1`), error: { status: 400, code: 'DIGEST_INVALID', message: /invalid digest "v1"/ }, keep: [image] });
  });
});
