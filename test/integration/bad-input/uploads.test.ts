// Chunked uploads gone wrong: chunks out of order or retried (416 with the Range the server has),
// malformed or contradictory Content-Range, unknown and malformed upload ids, an upload of one
// repository used through another's URL. The session and its bytes stay exactly as they were.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import {
  assertBlobPullable,
  assertPullable,
  blobFileExists,
  call,
  expectOciError,
  expectRefused,
  pushImage,
  rawCall,
  sha256,
  startUpload,
  uploadSize,
  withQuery,
  type Image,
  type Reply,
} from './helpers.ts';

const A = 'bad-input/uploads-a';
const B = 'bad-input/uploads-b';
const OCTET = { 'content-type': 'application/octet-stream' };

let t: TestApp;
let imageA: Image;
let imageB: Image;

before(async () => {
  t = await startTestApp();
  imageA = await pushImage(t, A, 'v1');
  imageB = await pushImage(t, B, 'v1');
});
after(async () => {
  await t.close();
});

function patch(location: string, body: Buffer, contentRange?: string): Promise<Reply> {
  const headers: Record<string, string> = { ...OCTET };
  if (contentRange !== undefined) headers['content-range'] = contentRange;
  return call(t, 'PATCH', location, { body, headers });
}

async function patchOk(location: string, body: Buffer, start: number): Promise<void> {
  const r = await patch(location, body, `${start}-${start + body.length - 1}`);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.headers.get('range'), `0-${start + body.length - 1}`);
}

async function complete(repo: string, location: string, data: Buffer): Promise<void> {
  const r = await call(t, 'PUT', withQuery(location, `digest=${sha256(data)}`));
  assert.equal(r.status, 201, r.text);
  await assertBlobPullable(t, repo, { digest: sha256(data), data });
}

describe('chunks out of order', () => {
  test('a chunk that starts after the end of the upload: 416 BLOB_UPLOAD_INVALID with Range of what the server has', async () => {
    const c1 = randomBytes(1000);
    const c2 = randomBytes(1000);
    const { location } = await startUpload(t, A);
    await patchOk(location, c1, 0);
    let r: Reply | undefined;
    await expectRefused(t, {
      send: async () => (r = await patch(location, c2, '2000-2999')),
      error: { status: 416, code: 'BLOB_UPLOAD_INVALID', message: /chunk starts at byte 2000 but the upload has 1000 bytes/ },
      keep: [imageA],
    });
    assert.equal(r?.headers.get('range'), '0-999');
    assert.equal(await uploadSize(t, location), 1000);
    await patchOk(location, c2, 1000);
    await complete(A, location, Buffer.concat([c1, c2]));
  });

  test('a first chunk that does not start at 0: 416 with Range 0-0', async () => {
    const { location } = await startUpload(t, A);
    let r: Reply | undefined;
    await expectRefused(t, {
      send: async () => (r = await patch(location, randomBytes(100), '5-104')),
      error: { status: 416, code: 'BLOB_UPLOAD_INVALID', message: /chunk starts at byte 5 but the upload has 0 bytes/ },
    });
    assert.equal(r?.headers.get('range'), '0-0');
    assert.equal(await uploadSize(t, location), 0);
  });

  test('a retried chunk (same Content-Range again): 416 with Range 0-999, the bytes are not appended twice', async () => {
    const c1 = randomBytes(1000);
    const { location } = await startUpload(t, A);
    await patchOk(location, c1, 0);
    let r: Reply | undefined;
    await expectRefused(t, {
      send: async () => (r = await patch(location, c1, '0-999')),
      error: { status: 416, code: 'BLOB_UPLOAD_INVALID', message: /chunk starts at byte 0 but the upload has 1000 bytes; resume at 1000/ },
    });
    assert.equal(r?.headers.get('range'), '0-999');
    // An overlapping chunk is refused the same way.
    await expectRefused(t, {
      send: async () => (r = await patch(location, c1.subarray(500), '500-999')),
      error: { status: 416, code: 'BLOB_UPLOAD_INVALID', message: /chunk starts at byte 500 but the upload has 1000 bytes/ },
    });
    assert.equal(r?.headers.get('range'), '0-999');
    assert.equal(await uploadSize(t, location), 1000);
    await complete(A, location, c1);
  });

  test('a final chunk in the completing PUT that is out of order: 416, no blob, the session is kept', async () => {
    const c1 = randomBytes(800);
    const c2 = randomBytes(800);
    const { location } = await startUpload(t, A);
    await patchOk(location, c1, 0);
    const whole = Buffer.concat([c1, c2]);
    let r: Reply | undefined;
    await expectRefused(t, {
      send: async () => (r = await call(t, 'PUT', withQuery(location, `digest=${sha256(whole)}`), { body: c2, headers: { ...OCTET, 'content-range': '900-1699' } })),
      error: { status: 416, code: 'BLOB_UPLOAD_INVALID', message: /chunk starts at byte 900 but the upload has 800 bytes/ },
    });
    assert.equal(r?.headers.get('range'), '0-799');
    assert.equal(blobFileExists(t, sha256(whole)), false);
    assert.equal(await uploadSize(t, location), 800);
    const done = await call(t, 'PUT', withQuery(location, `digest=${sha256(whole)}`), { body: c2, headers: { ...OCTET, 'content-range': '800-1599' } });
    assert.equal(done.status, 201, done.text);
    await assertBlobPullable(t, A, { digest: sha256(whole), data: whole });
  });
});

describe('malformed and contradictory Content-Range', () => {
  const malformed = ['abc', '5', '-5', '5-', '10-5', 'bytes 0-4/3x', '0-4-5', '1e3-2e3', '0x0-0x4', ' ', 'bytes=0-4,5-9'];
  for (const cr of malformed) {
    test(`PATCH with Content-Range "${cr}": 400 BLOB_UPLOAD_INVALID naming Content-Range`, async () => {
      const c1 = randomBytes(300);
      const { location } = await startUpload(t, A);
      await patchOk(location, c1, 0);
      await expectRefused(t, {
        send: () => patch(location, randomBytes(5), cr),
        error: { status: 400, code: 'BLOB_UPLOAD_INVALID', message: /Content-Range/ },
      });
      assert.equal(await uploadSize(t, location), 300);
      await complete(A, location, c1);
    });
  }

  test('PATCH whose Content-Range and Content-Length disagree: 400 BLOB_UPLOAD_INVALID with both numbers', async () => {
    const c1 = randomBytes(1000);
    const { location } = await startUpload(t, A);
    await expectRefused(t, {
      send: () => patch(location, c1, '0-1999'),
      error: { status: 400, code: 'BLOB_UPLOAD_INVALID', message: /Content-Range 0-1999 spans 2000 bytes but Content-Length is 1000/ },
    });
    await expectRefused(t, {
      send: () => patch(location, c1, '0-499'),
      error: { status: 400, code: 'BLOB_UPLOAD_INVALID', message: /Content-Range 0-499 spans 500 bytes but Content-Length is 1000/ },
    });
    assert.equal(await uploadSize(t, location), 0);
    await patchOk(location, c1, 0);
    await complete(A, location, c1);
  });

  test('a completing PUT whose Content-Range and Content-Length disagree: 400 BLOB_UPLOAD_INVALID, no blob', async () => {
    const c1 = randomBytes(1000);
    const { location } = await startUpload(t, A);
    await expectRefused(t, {
      send: () => call(t, 'PUT', withQuery(location, `digest=${sha256(c1)}`), { body: c1, headers: { ...OCTET, 'content-range': '0-1999' } }),
      error: { status: 400, code: 'BLOB_UPLOAD_INVALID', message: /Content-Range 0-1999 spans 2000 bytes but Content-Length is 1000/ },
    });
    assert.equal(blobFileExists(t, sha256(c1)), false);
  });

  test('a malformed Content-Length: 400 in the OCI format naming Content-Length, nothing appended', async () => {
    const c1 = randomBytes(200);
    const { location } = await startUpload(t, A);
    await patchOk(location, c1, 0);
    for (const cl of ['12abc', '-1', '1, 2', '0x10']) {
      // Node's HTTP parser refuses these before routing; the answer must still be an OCI error.
      await expectRefused(t, {
        send: () => rawCall(t, 'PATCH', location, { headers: { ...OCTET, 'content-length': cl }, body: Buffer.from('hello world!') }),
        error: { status: 400, code: 'UNSUPPORTED', message: /content-length/i },
        keep: [imageA],
        what: `PATCH with Content-Length: ${cl}`,
      });
    }
    assert.equal(await uploadSize(t, location), 200);
    await complete(A, location, c1);
  });
});

describe('unknown and malformed upload ids', () => {
  const ops = (location: string): Array<{ what: string; send: () => Promise<Reply>; raw?: boolean }> => {
    const data = randomBytes(200);
    return [
      { what: 'PATCH', send: () => rawCall(t, 'PATCH', location, { body: data, headers: { ...OCTET, 'content-length': String(data.length) } }) },
      { what: 'PUT', send: () => rawCall(t, 'PUT', withQuery(location, `digest=${sha256(data)}`), { body: data, headers: { ...OCTET, 'content-length': String(data.length) } }) },
      { what: 'GET', send: () => rawCall(t, 'GET', location) },
      { what: 'DELETE', send: () => rawCall(t, 'DELETE', location) },
    ];
  };
  const ids: ReadonlyArray<[string, string]> = [
    ['an unknown id', randomUUID()],
    ['an id that is not a UUID', 'not-an-upload-id'],
    ['an uppercase UUID', randomUUID().toUpperCase()],
    ['a UUID with a suffix', `${randomUUID()}.tmp`],
    ['".."', '..'],
    ['"%2e%2e"', '%2e%2e'],
    ['"."', '.'],
    ['an id of 300 characters', 'a'.repeat(300)],
    ['an id with a NUL byte', `${randomUUID()}%00`],
  ];
  for (const [name, id] of ids) {
    test(`${name}: PATCH, PUT, GET and DELETE answer 404 BLOB_UPLOAD_UNKNOWN`, async () => {
      for (const op of ops(`/v2/${A}/blobs/uploads/${id}`)) {
        await expectRefused(t, {
          send: op.send,
          error: { status: 404, code: 'BLOB_UPLOAD_UNKNOWN', message: /^upload .* is not in progress in repository bad-input\/uploads-a$/ },
          what: `${op.what} /v2/${A}/blobs/uploads/${id}`,
        });
      }
      // No directory for the id was created either (the snapshot only lists files).
      if (/^[\w-]+$/.test(id)) assert.equal(existsSync(join(t.dataDir, 'storage', 'uploads', id)), false);
      await assertPullable(t, imageA);
    });
  }

  test('an upload id that smuggles a path (..%2F..%2Fblobs) matches no endpoint: 404, nothing stored', async () => {
    await expectRefused(t, {
      send: () => rawCall(t, 'PATCH', `/v2/${A}/blobs/uploads/..%2F..%2Fblobs%2Fsha256%2Fx`, { body: randomBytes(10), headers: OCTET }),
      error: { status: 404, code: 'UNSUPPORTED', message: /no such endpoint/ },
      keep: [imageA],
    });
  });

  test('a finished or cancelled upload is unknown afterwards: 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const data = randomBytes(100);
    const done = await startUpload(t, A);
    await patchOk(done.location, data, 0);
    await complete(A, done.location, data);
    const cancelled = await startUpload(t, A);
    await patchOk(cancelled.location, data, 0);
    assert.equal((await call(t, 'DELETE', cancelled.location)).status, 204);
    for (const { location } of [done, cancelled]) {
      for (const op of ops(location)) {
        await expectRefused(t, { send: op.send, error: { status: 404, code: 'BLOB_UPLOAD_UNKNOWN', message: /is not in progress/ }, what: `${op.what} ${location}` });
      }
    }
  });
});

describe("an upload of repository A used through repository B's URL", () => {
  test('PATCH, PUT, GET and DELETE answer 404 BLOB_UPLOAD_UNKNOWN; the session in A is untouched and completes', async () => {
    const c1 = randomBytes(1200);
    const { location, id } = await startUpload(t, A);
    await patchOk(location, c1, 0);
    const viaB = `/v2/${B}/blobs/uploads/${id}`;
    const more = randomBytes(300);
    const cases: Array<[string, () => Promise<Reply>]> = [
      ['PATCH', () => patch(viaB, more, '1200-1499')],
      ['PATCH without Content-Range', () => patch(viaB, more)],
      ['PUT', () => call(t, 'PUT', withQuery(viaB, `digest=${sha256(c1)}`))],
      ['PUT with a final chunk', () => call(t, 'PUT', withQuery(viaB, `digest=${sha256(Buffer.concat([c1, more]))}`), { body: more, headers: OCTET })],
      ['GET', () => call(t, 'GET', viaB)],
      ['DELETE', () => call(t, 'DELETE', viaB)],
    ];
    for (const [what, send] of cases) {
      await expectRefused(t, {
        send,
        error: { status: 404, code: 'BLOB_UPLOAD_UNKNOWN', message: new RegExp(`^upload ${id} is not in progress in repository bad-input/uploads-b$`) },
        keep: [imageA, imageB],
        what: `${what} ${viaB}`,
      });
    }
    assert.equal(await uploadSize(t, location), 1200);
    expectOciError(await call(t, 'GET', `/v2/${B}/blobs/${sha256(c1)}`), { status: 404, code: 'BLOB_UNKNOWN', message: /not in repository bad-input\/uploads-b/ });
    await complete(A, location, c1);
    expectOciError(await call(t, 'GET', `/v2/${B}/blobs/${sha256(c1)}`), { status: 404, code: 'BLOB_UNKNOWN', message: /not in repository bad-input\/uploads-b/ });
  });
});
