import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestOf } from '../core/digest.ts';
import { MAX_MANIFEST_BYTES } from '../core/manifest.ts';
import { MT } from '../core/media-types.ts';
import { RegistryClient, referrersTag } from './client.ts';
import { ociError, startFake, isUpstream } from './fake-registry.ts';

const IMAGE = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: digestOf('{}'), size: 2 }, layers: [] }));
const IMAGE_DIGEST = digestOf(IMAGE);


/** Reads a stream into a sink that only counts it as stored when the stream ended cleanly. */
async function store(stream: Readable): Promise<{ stored: Buffer | undefined; error: unknown }> {
  const chunks: Buffer[] = [];
  let stored: Buffer | undefined;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
    final(cb) {
      stored = Buffer.concat(chunks);
      cb();
    },
  });
  try {
    await pipeline(stream, sink);
    return { stored, error: undefined };
  } catch (error) {
    return { stored, error };
  }
}

// ---- manifests ----

test('getManifest asks for OCI and Docker manifests and indexes, and checks Docker-Content-Digest', async (t) => {
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': `${MT.ociManifest}; charset=utf-8`, 'docker-content-digest': IMAGE_DIGEST });
    res.end(IMAGE);
  });
  t.after(() => registry.close());
  const m = await new RegistryClient({ baseUrl: registry.url, userAgent: 'berth-test' }).getManifest('lib/app', 'v1.0');
  assert.deepEqual(m, { body: IMAGE, mediaType: MT.ociManifest, digest: IMAGE_DIGEST });
  const req = registry.requests[0];
  assert.equal(req?.url, '/v2/lib/app/manifests/v1.0');
  assert.equal(req.headers['user-agent'], 'berth-test');
  assert.deepEqual(req.headers.accept?.split(', ').sort(), [MT.dockerManifestList, MT.dockerManifest, MT.ociIndex, MT.ociManifest].sort());
});

test('getManifest by digest checks the bytes against it', async (t) => {
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': MT.ociManifest });
    res.end(IMAGE);
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  assert.equal((await client.getManifest('app', IMAGE_DIGEST)).digest, IMAGE_DIGEST);
  const other = digestOf('something else');
  await assert.rejects(client.getManifest('app', other), isUpstream('digest-mismatch', (e) => assert.equal(e.message, `manifest content is ${IMAGE_DIGEST}, expected ${other}`)));
});

test('getManifest by tag fails when Docker-Content-Digest does not match the bytes', async (t) => {
  const stated = digestOf('not the manifest');
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': MT.ociManifest, 'docker-content-digest': stated });
    res.end(IMAGE);
  });
  t.after(() => registry.close());
  await assert.rejects(new RegistryClient({ baseUrl: registry.url }).getManifest('app', 'latest'), isUpstream('digest-mismatch', (e) => assert.match(e.message, /the registry states sha256:/)));
});

test('without a useful Content-Type the media type comes from the manifest', async (t) => {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
  const registry = await startFake((req, res) => {
    res.writeHead(200, req.url.endsWith('/json') ? { 'content-type': 'application/json' } : {});
    res.end(req.url.endsWith('/bad') ? '{"schemaVersion": 1}' : index);
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  assert.equal((await client.getManifest('app', 'json')).mediaType, MT.ociIndex);
  assert.equal((await client.getManifest('app', 'none')).mediaType, MT.ociIndex);
  assert.equal((await client.getManifest('app', 'none')).digest, digestOf(index));
  await assert.rejects(client.getManifest('app', 'bad'), isUpstream('invalid-response', (e) => assert.match(e.message, /schema 1/)));
});

test('a manifest over 4 MiB is refused, whether or not its length is announced', async (t) => {
  const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
  const registry = await startFake((req, res) => {
    if (req.url.endsWith('/announced')) {
      res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': String(big.length) });
      return res.end(big);
    }
    res.writeHead(200, { 'content-type': MT.ociManifest }); // chunked
    res.write(big.subarray(0, 1024 * 1024));
    res.end(big.subarray(1024 * 1024));
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  await assert.rejects(client.getManifest('app', 'announced'), isUpstream('invalid-response', (e) => assert.match(e.message, /manifest is 4194305 bytes; the limit is 4194304 bytes/)));
  await assert.rejects(client.getManifest('app', 'chunked'), isUpstream('invalid-response', (e) => assert.match(e.message, /larger than 4194304 bytes/)));
});

test('headManifest: digest, type and size; undefined for 404; the body is fetched when no digest is stated', async (t) => {
  const registry = await startFake((req, res) => {
    if (req.url.endsWith('/missing')) return ociError(res, 404, 'MANIFEST_UNKNOWN');
    const headers: Record<string, string> = { 'content-type': MT.ociManifest, 'content-length': String(IMAGE.length) };
    if (!req.url.endsWith('/quiet')) headers['docker-content-digest'] = IMAGE_DIGEST;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : IMAGE);
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  const expected = { digest: IMAGE_DIGEST, mediaType: MT.ociManifest, size: IMAGE.length };
  assert.deepEqual(await client.headManifest('app', 'latest'), expected);
  assert.equal(await client.headManifest('app', 'missing'), undefined);
  assert.deepEqual(await client.headManifest('app', 'quiet'), expected);
  assert.deepEqual(registry.requests.map((r) => r.method), ['HEAD', 'HEAD', 'HEAD', 'GET']);
});

test('putManifest sends the body with its type and returns the digest; a body not matching its digest reference is not sent', async (t) => {
  const registry = await startFake((_req, res) => {
    res.writeHead(201, { location: '/v2/app/manifests/x', 'docker-content-digest': IMAGE_DIGEST });
    res.end();
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  assert.equal(await client.putManifest('app', 'v1', IMAGE, MT.ociManifest), IMAGE_DIGEST);
  assert.equal(registry.requests[0]?.headers['content-type'], MT.ociManifest);
  assert.deepEqual(registry.requests[0]?.body, IMAGE);
  await assert.rejects(client.putManifest('app', digestOf('other'), IMAGE, MT.ociManifest), isUpstream('digest-mismatch'));
  assert.equal(registry.requests.length, 1);
});

test('bad names and references are refused before any request', async (t) => {
  const registry = await startFake((_req, res) => res.end());
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  await assert.rejects(client.getManifest('../etc', 'latest'), /invalid repository name/);
  await assert.rejects(client.getManifest('app', 'bad tag'), /invalid tag/);
  await assert.rejects(client.openBlob('app', 'md5:abc'), /invalid digest|unsupported digest/);
  assert.equal(registry.requests.length, 0);
  assert.throws(() => new RegistryClient({ baseUrl: 'http://u:p@127.0.0.1:1' }), /must not carry credentials/);
  assert.throws(() => new RegistryClient({ baseUrl: 'http://127.0.0.1:1/v2/' }), /no path/);
});

// ---- blobs ----

test('openBlob streams a blob whose bytes match its digest', async (t) => {
  const blob = Buffer.from('a'.repeat(100_000));
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
    res.end(blob);
  });
  t.after(() => registry.close());
  const stream = await new RegistryClient({ baseUrl: registry.url }).openBlob('app', digestOf(blob));
  assert.equal(stream.size, blob.length);
  assert.equal(stream.digest, digestOf(blob));
  const { stored, error } = await store(stream);
  assert.equal(error, undefined);
  assert.deepEqual(stored, blob);
});

test('a blob whose bytes do not match its digest fails at the end and is never stored', async (t) => {
  const served = Buffer.from('tampered content');
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-length': String(served.length) });
    res.end(served);
  });
  t.after(() => registry.close());
  for (const algorithm of ['sha256', 'sha512'] as const) {
    const wanted = digestOf('original content', algorithm);
    const { stored, error } = await store(await new RegistryClient({ baseUrl: registry.url }).openBlob('app', wanted));
    assert.equal(stored, undefined, 'the sink was never finished');
    assert.ok(isUpstream('digest-mismatch', (e) => assert.equal(e.message, `blob content is ${digestOf(served, algorithm)}, expected ${wanted}`))(error));
  }
});

test('a blob that stalls mid-stream fails with a timeout', async (t) => {
  const blob = Buffer.alloc(64 * 1024, 1);
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 1000)); // and nothing more
  });
  t.after(() => registry.close());
  const stream = await new RegistryClient({ baseUrl: registry.url, timeoutMs: 300 }).openBlob('app', digestOf(blob));
  const { stored, error } = await store(stream);
  assert.equal(stored, undefined);
  assert.ok(isUpstream('timeout', (e) => assert.match(e.message, /no data for 300 ms/))(error));
});

test('a blob cut short by the server fails as unavailable', async (t) => {
  const blob = Buffer.alloc(10_000, 2);
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 5000), () => res.destroy());
  });
  t.after(() => registry.close());
  const { stored, error } = await store(await new RegistryClient({ baseUrl: registry.url }).openBlob('app', digestOf(blob)));
  assert.equal(stored, undefined);
  assert.ok(isUpstream('unavailable')(error));
});

test('redirects: the Authorization header goes to the same origin, never to another host', async (t) => {
  const blob = Buffer.from('blob in object storage');
  const storage = await startFake((_req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.end(blob);
  });
  const registry = await startFake((req, res) => {
    if (req.headers.authorization !== basic()) return ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': 'Basic realm="r"' });
    if (req.url.startsWith('/v2/app/blobs/')) {
      res.writeHead(307, { location: `/internal/${req.url.slice('/v2/app/blobs/'.length)}` });
      return res.end();
    }
    res.writeHead(302, { location: `${storage.url}/bucket/blob?X-Amz-Signature=abc` });
    res.end();
  });
  t.after(() => Promise.all([storage.close(), registry.close()]));
  const client = new RegistryClient({ baseUrl: registry.url, credentials: { username: 'u', password: 'p' } });
  const { stored } = await store(await client.openBlob('app', digestOf(blob)));
  assert.deepEqual(stored, blob);
  assert.deepEqual(registry.requests.map((r) => [r.url.split('/')[1], r.headers.authorization]), [
    ['v2', undefined],
    ['v2', basic()],
    ['internal', basic()],
  ]);
  assert.equal(storage.requests.length, 1);
  assert.equal(storage.requests[0]?.headers.authorization, undefined);
  assert.equal(storage.requests[0]?.url, '/bucket/blob?X-Amz-Signature=abc');

  function basic(): string {
    return `Basic ${Buffer.from('u:p').toString('base64')}`;
  }
});

test('errors name the URL without query string or credentials', async (t) => {
  const storage = await startFake((_req, res) => ociError(res, 403, 'AccessDenied', 'expired'));
  const registry = await startFake((_req, res) => {
    res.writeHead(307, { location: `${storage.url}/bucket/blob?X-Amz-Credential=AKIA&X-Amz-Signature=secret` });
    res.end();
  });
  t.after(() => Promise.all([storage.close(), registry.close()]));
  await assert.rejects(
    new RegistryClient({ baseUrl: registry.url }).openBlob('app', digestOf('x')),
    isUpstream('denied', (e) => {
      assert.equal(e.url, `${storage.url}/bucket/blob`);
      assert.ok(!e.message.includes('secret') && !e.message.includes('AKIA'), e.message);
    }),
  );
});

test('at most maxConcurrent blob transfers run at once', async (t) => {
  const blob = Buffer.from('shared layer');
  let arrived = 0;
  let active = 0;
  let peak = 0;
  const held: (() => void)[] = [];
  const flush = (): void => {
    for (const finish of held.splice(0)) finish();
  };
  const registry = await startFake((_req, res) => {
    arrived++;
    peak = Math.max(peak, ++active);
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 4));
    held.push(() => {
      active--;
      res.end(blob.subarray(4));
    });
    // Hold two transfers a while (a client without a limit would start the others meanwhile).
    if (arrived === 5) flush();
    else if (held.length === 2) setTimeout(flush, 100);
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url, maxConcurrent: 2 });
  const results = await Promise.all([1, 2, 3, 4, 5].map(async () => store(await client.openBlob('app', digestOf(blob)))));
  assert.deepEqual(results.map((r) => r.stored), [blob, blob, blob, blob, blob]);
  assert.equal(arrived, 5);
  assert.equal(peak, 2);
});

test('statBlob and blobExists', async (t) => {
  const registry = await startFake((req, res) => {
    if (req.url.endsWith('0'.repeat(64))) return ociError(res, 404, 'BLOB_UNKNOWN');
    res.writeHead(200, { 'content-length': '1234', 'docker-content-digest': req.url.split('/').pop() ?? '' });
    res.end();
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  const d = digestOf('x');
  assert.deepEqual(await client.statBlob('app', d), { digest: d, size: 1234 });
  assert.equal(await client.blobExists('app', d), true);
  assert.equal(await client.blobExists('app', `sha256:${'0'.repeat(64)}`), false);
  assert.ok(registry.requests.every((r) => r.method === 'HEAD'));
});

// ---- uploads ----

test('pushBlob: POST, one PATCH with all the bytes, PUT with the digest (keeping the session query)', async (t) => {
  const blob = Buffer.from('some layer content');
  const registry = await startFake((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(202, { location: '/v2/app/blobs/uploads/abc?_state=s1' });
      return res.end();
    }
    if (req.method === 'PATCH') {
      res.writeHead(202, { location: `${registry.url}/v2/app/blobs/uploads/abc?_state=s2`, range: `0-${req.body.length - 1}` });
      return res.end();
    }
    res.writeHead(201, { location: `/v2/app/blobs/${digestOf(blob)}` });
    res.end();
  });
  t.after(() => registry.close());
  await new RegistryClient({ baseUrl: registry.url }).pushBlob('app', digestOf(blob), blob.length, Readable.from([blob.subarray(0, 5), blob.subarray(5)]));
  const [post, patch, put] = registry.requests;
  assert.equal(post?.url, '/v2/app/blobs/uploads/');
  assert.equal(patch?.url, '/v2/app/blobs/uploads/abc?_state=s1');
  assert.deepEqual(patch.body, blob);
  assert.equal(patch.headers['content-length'], String(blob.length));
  assert.equal(patch.headers['content-range'], `0-${blob.length - 1}`);
  assert.equal(patch.headers['content-type'], 'application/octet-stream');
  assert.equal(put?.url, `/v2/app/blobs/uploads/abc?_state=s2&digest=${encodeURIComponent(digestOf(blob))}`);
  assert.equal(put.body.length, 0);
  assert.equal(registry.requests.length, 3);
});

test('pushBlob: a source that does not match the digest or size is never committed, and its session is cancelled', async (t) => {
  const registry = await startFake((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(202, { location: '/v2/app/blobs/uploads/s' });
      return res.end();
    }
    res.writeHead(req.method === 'PATCH' ? 202 : 204, { location: '/v2/app/blobs/uploads/s' });
    res.end();
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  const wanted = Buffer.from('the real content');
  await assert.rejects(client.pushBlob('app', digestOf(wanted), wanted.length, Buffer.from('something else!!')), isUpstream('digest-mismatch'));
  await assert.rejects(client.pushBlob('app', digestOf(wanted), wanted.length + 1, wanted), isUpstream('digest-mismatch', (e) => assert.match(e.message, /ended after 16 bytes; its size is 17/)));
  assert.ok(!registry.requests.some((r) => r.method === 'PUT'), 'nothing committed');
  assert.equal(registry.requests.filter((r) => r.method === 'DELETE').length, 2);
});

test('mountBlob: true when mounted, false (and the session cancelled) when the registry opened an upload instead', async (t) => {
  const registry = await startFake((req, res) => {
    if (req.method === 'DELETE') {
      res.writeHead(204);
      return res.end();
    }
    if (new URL(req.url, 'http://x').searchParams.get('from') === 'lib/base') {
      res.writeHead(201, { location: '/v2/lib/app/blobs/d' });
      return res.end();
    }
    res.writeHead(202, { location: '/v2/lib/app/blobs/uploads/u9' });
    res.end();
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  const d = digestOf('layer');
  assert.equal(await client.mountBlob('lib/app', d, 'lib/base'), true);
  assert.equal(await client.mountBlob('lib/app', d, 'elsewhere'), false);
  assert.deepEqual(registry.requests.map((r) => `${r.method} ${r.url}`), [
    `POST /v2/lib/app/blobs/uploads/?mount=${encodeURIComponent(d)}&from=lib%2Fbase`,
    `POST /v2/lib/app/blobs/uploads/?mount=${encodeURIComponent(d)}&from=elsewhere`,
    'DELETE /v2/lib/app/blobs/uploads/u9',
  ]);
});

// ---- discovery ----

test('listTags follows Link pages', async (t) => {
  const pages: Record<string, [string[] | null, string | undefined]> = {
    '/v2/app/tags/list?n=2': [['a', 'b'], '</v2/app/tags/list?n=2&last=b>; rel="next"'],
    '/v2/app/tags/list?n=2&last=b': [['c', 'd'], '</v2/app/tags/list?n=2&last=d>; rel="next"'],
    '/v2/app/tags/list?n=2&last=d': [['e'], undefined],
    '/v2/empty/tags/list': [null, undefined],
    '/v2/loop/tags/list': [['x'], '</v2/loop/tags/list>; rel="next"'],
  };
  const registry = await startFake((req, res) => {
    const page = pages[req.url];
    if (page === undefined) return ociError(res, 404, 'NAME_UNKNOWN');
    res.writeHead(200, { 'content-type': 'application/json', ...(page[1] === undefined ? {} : { link: page[1] }) });
    res.end(JSON.stringify({ name: 'app', tags: page[0] }));
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  assert.deepEqual(await client.listTags('app', 2), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(await client.listTags('empty'), []);
  await assert.rejects(client.listTags('loop'), isUpstream('invalid-response', (e) => assert.match(e.message, /circle/)));
  await assert.rejects(client.listTags('unknown'), isUpstream('not-found', (e) => assert.equal(e.code, 'NAME_UNKNOWN')));
});

test('getReferrers: the referrers API, filtered by artifact type', async (t) => {
  const subject = digestOf('subject manifest');
  const sbom = { mediaType: MT.ociManifest, digest: digestOf('sbom'), size: 10, artifactType: 'application/spdx+json' };
  const sig = { mediaType: MT.ociManifest, digest: digestOf('sig'), size: 11, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' };
  const registry = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': MT.ociIndex });
    res.end(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [sbom, sig] }));
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  assert.deepEqual(await client.getReferrers('app', subject), [sbom, sig]);
  assert.deepEqual(await client.getReferrers('app', subject, 'application/spdx+json'), [sbom], 'filtered here when the registry did not');
  assert.equal(registry.requests[1]?.url, `/v2/app/referrers/${subject}?artifactType=application%2Fspdx%2Bjson`);
});

test('getReferrers: without the API (404), the referrers tag schema; no tag means no referrers', async (t) => {
  const subject = digestOf('subject manifest');
  const other = digestOf('another subject');
  const sbom = { mediaType: MT.ociManifest, digest: digestOf('sbom'), size: 10, artifactType: 'application/spdx+json' };
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [sbom] }));
  const registry = await startFake((req, res) => {
    if (req.url === `/v2/app/manifests/${referrersTag({ algorithm: 'sha256', hex: subject.slice(7), digest: subject })}`) {
      res.writeHead(200, { 'content-type': MT.ociIndex });
      return res.end(index);
    }
    if (req.url.includes('/manifests/')) return ociError(res, 404, 'MANIFEST_UNKNOWN');
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url });
  assert.deepEqual(await client.getReferrers('app', subject), [sbom]);
  assert.deepEqual(await client.getReferrers('app', subject, 'application/other'), []);
  assert.deepEqual(await client.getReferrers('app', other), []);
  assert.deepEqual(registry.requests.slice(0, 2).map((r) => r.url), [`/v2/app/referrers/${subject}`, `/v2/app/manifests/sha256-${subject.slice(7)}`]);
  assert.equal(registry.requests[1]?.headers.accept, MT.ociIndex);
});

test('referrersTag truncates as the tag schema says', () => {
  const hex = 'ab'.repeat(64);
  assert.equal(referrersTag({ algorithm: 'sha512', hex, digest: `sha512:${hex}` }), `sha512-${hex.slice(0, 64)}`);
});
