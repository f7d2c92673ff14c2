// Requests without valid credentials: 401 UNAUTHORIZED with a Basic challenge, whatever the
// endpoint, and a refused request's body (however large) stores nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { MT, call, countRows, expectOciError, expectRefused, pushImage, rawCall, sha256, startUpload, uploadSize, withQuery, type Image, type Reply } from './helpers.ts';

const REPO = 'bad-input/auth';

let t: TestApp;
let image: Image;

before(async () => {
  t = await startTestApp();
  image = await pushImage(t, REPO, 'v1');
});
after(async () => {
  await t.close();
});

function basic(user: string, secret: string): string {
  return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
}

const CHALLENGE = /^Basic realm="[^"]+"$/;

function credentials(): Array<{ what: string; auth: string | null; message: RegExp }> {
  return [
    { what: 'no Authorization header', auth: null, message: /authentication required/ },
    { what: 'an empty Authorization header', auth: '', message: /authentication required/ },
    { what: 'a wrong secret', auth: basic(t.accessKeyId, `${t.secretAccessKey}x`), message: /invalid access key id or secret access key/ },
    { what: 'an empty secret', auth: basic(t.accessKeyId, ''), message: /invalid access key id or secret access key/ },
    { what: 'an unknown access key', auth: basic('AKIAUNKNOWNKEY000000', t.secretAccessKey), message: /invalid access key id or secret access key/ },
    { what: 'a Bearer token', auth: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc', message: /unsupported authorization scheme "Bearer"/ },
    { what: 'a Digest header', auth: 'Digest username="x", realm="berth"', message: /unsupported authorization scheme "Digest"/ },
    { what: 'Basic without credentials', auth: 'Basic', message: /malformed Basic credentials/ },
    { what: 'garbage that is not base64', auth: 'Basic !!!not-base64!!!', message: /malformed Basic credentials/ },
    { what: 'base64 without a colon', auth: `Basic ${Buffer.from('justakey').toString('base64')}`, message: /malformed Basic credentials/ },
    { what: 'base64 with an empty user', auth: `Basic ${Buffer.from(':secret').toString('base64')}`, message: /malformed Basic credentials/ },
    // What containers/image sends with no credentials: anonymous, and nothing here is public.
    { what: 'an empty user and password', auth: basic('', ''), message: /authentication required/ },
  ];
}

describe('requests without valid credentials', () => {
  test('GET /v2/ answers 401 UNAUTHORIZED with WWW-Authenticate: Basic realm=... for every kind of bad credentials', async () => {
    for (const c of credentials()) {
      const r = await call(t, 'GET', '/v2/', { auth: c.auth });
      expectOciError(r, { status: 401, code: 'UNAUTHORIZED', message: c.message });
      assert.match(r.headers.get('www-authenticate') ?? '', CHALLENGE, c.what);
    }
  });

  test('every endpoint answers 401 before anything else (HEAD without a body), and nothing is stored', async () => {
    const digest = image.layers[0]?.digest ?? '';
    const { location } = await startUpload(t, REPO);
    const endpoints: Array<[string, string, string | undefined]> = [
      ['GET', '/v2/_catalog', undefined],
      ['GET', `/v2/${REPO}/tags/list`, undefined],
      ['GET', `/v2/${REPO}/manifests/v1`, undefined],
      ['HEAD', `/v2/${REPO}/manifests/v1`, undefined],
      ['PUT', `/v2/${REPO}/manifests/v2`, image.body.toString()],
      ['DELETE', `/v2/${REPO}/manifests/${image.digest}`, undefined],
      ['GET', `/v2/${REPO}/blobs/${digest}`, undefined],
      ['HEAD', `/v2/${REPO}/blobs/${digest}`, undefined],
      ['DELETE', `/v2/${REPO}/blobs/${digest}`, undefined],
      ['POST', `/v2/${REPO}/blobs/uploads/`, undefined],
      ['POST', `/v2/bad-input/auth-new/blobs/uploads/`, undefined],
      ['PATCH', location, 'chunk'],
      ['PUT', withQuery(location, `digest=${sha256('chunk')}`), 'chunk'],
      ['DELETE', location, undefined],
      ['GET', location, undefined],
      ['GET', `/v2/${REPO}/referrers/${image.digest}`, undefined],
      // Invalid names and digests are not even looked at without credentials.
      ['GET', '/v2/INVALID/tags/list', undefined],
      ['GET', `/v2/${REPO}/blobs/md5:abc`, undefined],
    ];
    for (const c of credentials()) {
      for (const [method, path, body] of endpoints) {
        const opts: { auth: string | null; body?: string; headers?: Record<string, string> } = { auth: c.auth };
        if (body !== undefined) {
          opts.body = body;
          opts.headers = { 'content-type': method === 'PUT' && path.includes('/manifests/') ? MT.ociManifest : 'application/octet-stream' };
        }
        const err = await expectRefused(t, {
          send: (): Promise<Reply> => call(t, method, path, opts),
          error: { status: 401, code: 'UNAUTHORIZED', message: c.message, head: method === 'HEAD' },
          what: `${method} ${path} with ${c.what}`,
        });
        assert.equal(err.code, 'UNAUTHORIZED');
      }
    }
    assert.equal(await uploadSize(t, location), 0);
    assert.equal(countRows(t, 'repositories', 'name = ?', 'bad-input/auth-new'), 0);
    // The challenge is on HEAD responses too.
    const head = await call(t, 'HEAD', `/v2/${REPO}/manifests/v1`, { auth: null });
    assert.match(head.headers.get('www-authenticate') ?? '', CHALLENGE);
  });

  test('a large unauthenticated monolithic upload is refused and stores nothing (no blob, no session, no repository)', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const repo = 'bad-input/auth-big';
    for (const auth of [null, basic(t.accessKeyId, 'wrong-secret-000000')]) {
      const r = await expectRefused(t, {
        send: () => rawCall(t, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(big)}`, { auth, body: big, headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) } }),
        error: { status: 401, code: 'UNAUTHORIZED', message: /authentication required|invalid access key/ },
        keep: [image],
      });
      assert.equal(r.code, 'UNAUTHORIZED');
    }
    assert.equal(countRows(t, 'repositories', 'name = ?', repo), 0);
  });

  test('a large unauthenticated chunk to an open session is refused; the session keeps its bytes', async () => {
    const first = randomBytes(1000);
    const { location } = await startUpload(t, REPO);
    assert.equal((await call(t, 'PATCH', location, { body: first })).status, 202);
    const big = randomBytes(6 * 1024 * 1024);
    await expectRefused(t, {
      send: () => rawCall(t, 'PATCH', location, { auth: null, body: big, headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length), 'content-range': `1000-${1000 + big.length - 1}` } }),
      error: { status: 401, code: 'UNAUTHORIZED', message: /authentication required/ },
      keep: [image],
    });
    await expectRefused(t, {
      send: () => rawCall(t, 'PUT', withQuery(location, `digest=${sha256(Buffer.concat([first, big]))}`), { auth: 'Bearer x', body: big, headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) } }),
      error: { status: 401, code: 'UNAUTHORIZED', message: /unsupported authorization scheme "Bearer"/ },
      keep: [image],
    });
    assert.equal(await uploadSize(t, location), 1000);
    const done = await call(t, 'PUT', withQuery(location, `digest=${sha256(first)}`));
    assert.equal(done.status, 201, done.text);
  });

  test('garbage after "Basic" is reported as malformed Basic credentials, not as an unsupported scheme', async () => {
    for (const auth of ['Basic !!!not-base64!!!', 'Basic dXNlcjpwYXNz!', 'Basic a b c']) {
      const r = await call(t, 'GET', '/v2/', { auth });
      expectOciError(r, { status: 401, code: 'UNAUTHORIZED', message: /malformed Basic credentials/ });
      assert.match(r.headers.get('www-authenticate') ?? '', CHALLENGE);
    }
  });

  test('a wrong secret for a key whose right secret was just accepted (cached) is still refused', async () => {
    assert.equal((await call(t, 'GET', '/v2/')).status, 200);
    const r = await call(t, 'GET', '/v2/', { auth: basic(t.accessKeyId, 'not-the-secret-0000000') });
    expectOciError(r, { status: 401, code: 'UNAUTHORIZED', message: /invalid access key id or secret access key/ });
    assert.equal((await call(t, 'GET', '/v2/')).status, 200);
  });

  test('the scheme name is case-insensitive (RFC 9110): "basic" with the right credentials is accepted', async () => {
    const r = await call(t, 'GET', `/v2/${REPO}/tags/list`, { auth: `basic ${Buffer.from(`${t.accessKeyId}:${t.secretAccessKey}`).toString('base64')}` });
    assert.equal(r.status, 200, r.text);
  });

  test('credentials never appear in error messages', async () => {
    const secret = `leak-${randomUUID()}`;
    const r = await call(t, 'GET', '/v2/', { auth: basic(t.accessKeyId, secret) });
    assert.equal(r.status, 401);
    assert.equal(r.text.includes(secret), false);
    const r2 = await call(t, 'GET', '/v2/', { auth: `Bearer ${secret}` });
    assert.equal(r2.text.includes(secret), false);
  });
});
