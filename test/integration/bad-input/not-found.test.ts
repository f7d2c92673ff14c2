// HEAD/GET/DELETE of manifests, tags, blobs, uploads, tag lists and referrers that do not exist, in
// an existing and in a missing repository: 404 with the right code; HEAD responses have no body.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { MT, call, countRows, expectOciError, expectRefused, pushImage, sha256, startUpload, unknownDigest, withQuery, type Image, type Reply } from './helpers.ts';

const REPO = 'bad-input/found';
const OTHER = 'bad-input/found-other';
const MISSING = 'bad-input/nothing-here';

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

interface Case {
  what: string;
  method: string;
  path: string;
  body?: Buffer;
  code: string;
  message: RegExp;
}

async function run404(c: Case): Promise<void> {
  const opts: { body?: Buffer } = {};
  if (c.body !== undefined) opts.body = c.body;
  await expectRefused(t, {
    send: (): Promise<Reply> => call(t, c.method, c.path, opts),
    error: { status: 404, code: c.code, message: c.message, head: c.method === 'HEAD' },
    keep: [image, other],
    what: `${c.method} ${c.path}`,
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('in an existing repository', () => {
  const digest = unknownDigest();
  const cases = (): Case[] => {
    const inRepo = new RegExp(`is not in repository ${escape(REPO)}$`);
    return [
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: 'manifest by tag', method, path: `/v2/${REPO}/manifests/nope`, code: 'MANIFEST_UNKNOWN', message: new RegExp(`^manifest tagged "nope" ${inRepo.source}`) })),
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: 'manifest by digest', method, path: `/v2/${REPO}/manifests/${digest}`, code: 'MANIFEST_UNKNOWN', message: new RegExp(`^manifest ${digest} ${inRepo.source}`) })),
      // A manifest of another repository is not visible here, by digest or by its tag.
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: "another repository's manifest", method, path: `/v2/${REPO}/manifests/${other.digest}`, code: 'MANIFEST_UNKNOWN', message: new RegExp(`^manifest ${other.digest} ${inRepo.source}`) })),
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: 'blob', method, path: `/v2/${REPO}/blobs/${digest}`, code: 'BLOB_UNKNOWN', message: new RegExp(`^blob ${digest} ${inRepo.source}`) })),
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: "another repository's blob", method, path: `/v2/${REPO}/blobs/${other.layers[0]?.digest ?? ''}`, code: 'BLOB_UNKNOWN', message: new RegExp(`^blob ${other.layers[0]?.digest ?? ''} ${inRepo.source}`) })),
      // A manifest is not a blob.
      { what: 'a manifest digest as a blob', method: 'GET', path: `/v2/${REPO}/blobs/${image.digest}`, code: 'BLOB_UNKNOWN', message: inRepo },
      ...['GET', 'DELETE'].map((method) => ({ what: 'upload', method, path: `/v2/${REPO}/blobs/uploads/${randomUUID()}`, code: 'BLOB_UPLOAD_UNKNOWN', message: /is not in progress in repository bad-input\/found$/ })),
      { what: 'upload', method: 'PATCH', path: `/v2/${REPO}/blobs/uploads/${randomUUID()}`, body: randomBytes(100), code: 'BLOB_UPLOAD_UNKNOWN', message: /is not in progress/ },
      { what: 'upload', method: 'PUT', path: `/v2/${REPO}/blobs/uploads/${randomUUID()}?digest=${sha256('x')}`, body: Buffer.from('x'), code: 'BLOB_UPLOAD_UNKNOWN', message: /is not in progress/ },
    ];
  };

  test('manifests, tags, blobs and uploads that do not exist: 404 with the right code; HEAD has no body', async () => {
    for (const c of cases()) await run404(c);
  });

  test('a tag list of a repository without tags is empty, not 404', async () => {
    const empty = 'bad-input/found-empty';
    await startUpload(t, empty);
    const r = await call(t, 'GET', `/v2/${empty}/tags/list`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { name: empty, tags: [] });
  });

  test('referrers of a digest nothing refers to: 200 with an empty index (the spec forbids 404)', async () => {
    for (const d of [digest, image.digest]) {
      const r = await call(t, 'GET', `/v2/${REPO}/referrers/${d}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('content-type'), MT.ociIndex);
      assert.deepEqual(JSON.parse(r.text), { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
    }
  });

  test('a tag deleted twice: the second DELETE is 404 MANIFEST_UNKNOWN and the manifest stays by digest', async () => {
    const r = await call(t, 'PUT', `/v2/${REPO}/manifests/extra`, { body: image.body, headers: { 'content-type': MT.ociManifest } });
    assert.equal(r.status, 201, r.text);
    assert.equal((await call(t, 'DELETE', `/v2/${REPO}/manifests/extra`)).status, 202);
    await run404({ what: 'deleted tag', method: 'DELETE', path: `/v2/${REPO}/manifests/extra`, code: 'MANIFEST_UNKNOWN', message: /manifest tagged "extra" is not in repository/ });
    await run404({ what: 'deleted tag', method: 'GET', path: `/v2/${REPO}/manifests/extra`, code: 'MANIFEST_UNKNOWN', message: /manifest tagged "extra" is not in repository/ });
  });
});

describe('in a repository that does not exist', () => {
  test('every endpoint that reads or deletes: 404 NAME_UNKNOWN naming the repository; nothing is created', async () => {
    const digest = unknownDigest();
    const message = new RegExp(`^repository ${escape(MISSING)} does not exist in registry \\d{12}$`);
    const cases: Case[] = [
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: 'manifest by tag', method, path: `/v2/${MISSING}/manifests/v1`, code: 'NAME_UNKNOWN', message })),
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: 'manifest by digest', method, path: `/v2/${MISSING}/manifests/${image.digest}`, code: 'NAME_UNKNOWN', message })),
      ...['HEAD', 'GET', 'DELETE'].map((method) => ({ what: 'blob', method, path: `/v2/${MISSING}/blobs/${digest}`, code: 'NAME_UNKNOWN', message })),
      ...['GET', 'DELETE'].map((method) => ({ what: 'upload', method, path: `/v2/${MISSING}/blobs/uploads/${randomUUID()}`, code: 'NAME_UNKNOWN', message })),
      { what: 'upload', method: 'PATCH', path: `/v2/${MISSING}/blobs/uploads/${randomUUID()}`, body: randomBytes(100), code: 'NAME_UNKNOWN', message },
      { what: 'upload', method: 'PUT', path: withQuery(`/v2/${MISSING}/blobs/uploads/${randomUUID()}`, `digest=${sha256('y')}`), body: Buffer.from('y'), code: 'NAME_UNKNOWN', message },
      { what: 'tag list', method: 'GET', path: `/v2/${MISSING}/tags/list`, code: 'NAME_UNKNOWN', message },
      { what: 'tag list page', method: 'GET', path: `/v2/${MISSING}/tags/list?n=10&last=a`, code: 'NAME_UNKNOWN', message },
      { what: 'referrers', method: 'GET', path: `/v2/${MISSING}/referrers/${image.digest}`, code: 'NAME_UNKNOWN', message },
    ];
    for (const c of cases) await run404(c);
    assert.equal(countRows(t, 'repositories', 'name = ?', MISSING), 0);
  });

  test('a repository whose name is a prefix of an existing one does not exist', async () => {
    await run404({ what: 'prefix', method: 'GET', path: '/v2/bad-input/tags/list', code: 'NAME_UNKNOWN', message: /repository bad-input does not exist/ });
    await run404({ what: 'longer', method: 'GET', path: `/v2/${REPO}/deeper/tags/list`, code: 'NAME_UNKNOWN', message: /repository bad-input\/found\/deeper does not exist/ });
  });
});

describe('byte ranges outside a blob', () => {
  test('a Range that starts at or beyond the end: 416 SIZE_INVALID with Content-Range: bytes */size; nothing changes', async () => {
    const layer = image.blobs[1];
    assert.ok(layer !== undefined);
    const size = layer.data.length;
    for (const range of [`bytes=${size}-`, `bytes=${size + 100}-${size + 200}`, 'bytes=-0']) {
      let r: Reply | undefined;
      await expectRefused(t, {
        send: async () => (r = await call(t, 'GET', `/v2/${REPO}/blobs/${layer.digest}`, { headers: { range } })),
        error: { status: 416, code: 'SIZE_INVALID', message: new RegExp(`requested range not satisfiable: the blob has ${size} bytes`) },
        keep: [image, other],
        what: `GET blob with Range: ${range}`,
      });
      assert.equal(r?.headers.get('content-range'), `bytes */${size}`);
    }
  });

  test('malformed and multi-range headers are ignored: 200 with the whole blob', async () => {
    const layer = image.blobs[1];
    assert.ok(layer !== undefined);
    for (const range of ['bytes=abc', 'items=0-1', 'bytes=0-1,5-9', 'bytes=9-2']) {
      const r = await call(t, 'GET', `/v2/${REPO}/blobs/${layer.digest}`, { headers: { range } });
      assert.equal(r.status, 200, `${range}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(r.body.equals(layer.data));
    }
  });

  test('an empty blob with a suffix range (bytes=-5) is served whole, not 416 (RFC 9110 14.1.1)', async () => {
    const empty = Buffer.alloc(0);
    const { location } = await startUpload(t, REPO);
    assert.equal((await call(t, 'PUT', withQuery(location, `digest=${sha256(empty)}`))).status, 201);
    const r = await call(t, 'GET', `/v2/${REPO}/blobs/${sha256(empty)}`, { headers: { range: 'bytes=-5' } });
    assert.equal(r.status, 200, `${r.status} ${r.text}`);
    assert.equal(r.body.length, 0);
    const first = await call(t, 'GET', `/v2/${REPO}/blobs/${sha256(empty)}`, { headers: { range: 'bytes=0-' } });
    expectOciError(first, { status: 416, code: 'SIZE_INVALID', message: /the blob has 0 bytes/ });
  });
});
