import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { digestOf } from '../core/digest.ts';
import { RegistryClient } from './client.ts';
import { ociError, startFake, isUpstream } from './fake-registry.ts';

const INDEX = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');


test('503 then 200: retried', async (t) => {
  let calls = 0;
  const registry = await startFake((_req, res) => {
    if (++calls === 1) return ociError(res, 503, 'UNAVAILABLE', 'try later');
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
    res.end(INDEX);
  });
  t.after(() => registry.close());
  const m = await new RegistryClient({ baseUrl: registry.url, retryDelayMs: 5 }).getManifest('app', 'latest');
  assert.deepEqual(m.body, INDEX);
  assert.equal(registry.requests.length, 2);
});

test('429 with Retry-After: 1 waits as asked, not as the (here very long) backoff would', { timeout: 20_000 }, async (t) => {
  let calls = 0;
  const registry = await startFake((_req, res) => {
    if (++calls === 1) return ociError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '1' });
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
    res.end(INDEX);
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url, retryDelayMs: 60_000, maxRetryDelayMs: 120_000 });
  assert.deepEqual((await client.getManifest('app', 'latest')).body, INDEX);
  assert.equal(registry.requests.length, 2);
});

test('a Retry-After longer than maxRetryDelayMs fails at once as rate-limited, saying how long to wait', async (t) => {
  const registry = await startFake((_req, res) => ociError(res, 429, 'TOOMANYREQUESTS', 'pull rate limit', { 'retry-after': '3600' }));
  t.after(() => registry.close());
  await assert.rejects(
    new RegistryClient({ baseUrl: registry.url }).getManifest('app', 'latest'),
    isUpstream('rate-limited', (e) => {
      assert.equal(e.status, 429);
      assert.equal(e.code, 'TOOMANYREQUESTS');
      assert.equal(e.retryable, true);
      assert.equal(e.retryAfterMs, 3_600_000);
    }),
  );
  assert.equal(registry.requests.length, 1);
});

test('a 404 is not retried', async (t) => {
  const registry = await startFake((_req, res) => ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'));
  t.after(() => registry.close());
  await assert.rejects(
    new RegistryClient({ baseUrl: registry.url, retryDelayMs: 1 }).getManifest('app', 'latest'),
    isUpstream('not-found', (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.code, 'MANIFEST_UNKNOWN');
      assert.equal(e.retryable, false);
      assert.equal(e.url, `${registry.url}/v2/app/manifests/latest`);
    }),
  );
  assert.equal(registry.requests.length, 1);
});

test('403 is denied, other 4xx are rejected; neither is retried', async (t) => {
  const registry = await startFake((req, res) => {
    if (req.method === 'GET') return ociError(res, 403, 'DENIED', 'requested access to the resource is denied');
    ociError(res, 400, 'MANIFEST_INVALID', 'manifest invalid');
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url, retryDelayMs: 1 });
  await assert.rejects(client.getManifest('app', 'latest'), isUpstream('denied', (e) => assert.equal(e.code, 'DENIED')));
  await assert.rejects(client.putManifest('app', 'latest', INDEX, 'application/vnd.oci.image.index.v1+json'), isUpstream('rejected', (e) => assert.equal(e.code, 'MANIFEST_INVALID')));
  assert.equal(registry.requests.length, 2);
});

test('retries are bounded: retries + 1 attempts, then the last error', async (t) => {
  const registry = await startFake((_req, res) => ociError(res, 503, 'UNAVAILABLE', 'down for maintenance'));
  t.after(() => registry.close());
  await assert.rejects(
    new RegistryClient({ baseUrl: registry.url, retries: 2, retryDelayMs: 1 }).statBlob('app', `sha256:${'0'.repeat(64)}`),
    isUpstream('unavailable', (e) => {
      assert.equal(e.status, 503);
      assert.equal(e.retryable, true);
      assert.match(e.message, /^HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/app\/blobs\/sha256:0+: 503$/);
    }),
  );
  assert.equal(registry.requests.length, 3);
});

test('a refused connection is unavailable after the retries', async () => {
  const registry = await startFake(() => undefined);
  const url = registry.url;
  await registry.close();
  await assert.rejects(
    new RegistryClient({ baseUrl: url, retries: 1, retryDelayMs: 1 }).getManifest('app', 'latest'),
    isUpstream('unavailable', (e) => assert.match(e.message, /ECONNREFUSED/)),
  );
});

test('no response within timeoutMs is a timeout', async (t) => {
  const registry = await startFake(() => undefined); // never answers
  t.after(() => registry.close());
  await assert.rejects(
    new RegistryClient({ baseUrl: registry.url, timeoutMs: 200, retries: 1, retryDelayMs: 1 }).getManifest('app', 'latest'),
    isUpstream('timeout', (e) => assert.equal(e.retryable, true)),
  );
  assert.equal(registry.requests.length, 2, 'timeouts are retried');
});

test('uploads: a stream source is sent once; a failed attempt cancels its session', async (t) => {
  const blob = Buffer.from('layer bytes');
  const registry = await startFake((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(202, { location: `/v2/app/blobs/uploads/u${registry.requests.length}` });
      return res.end();
    }
    if (req.method === 'PATCH') return ociError(res, 500, 'UNKNOWN', 'disk full');
    res.writeHead(204);
    res.end();
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url, retries: 3, retryDelayMs: 1 });
  await assert.rejects(client.pushBlob('app', digestOf(blob), blob.length, Readable.from([blob])), isUpstream('unavailable', (e) => assert.equal(e.status, 500)));
  assert.deepEqual(
    registry.requests.map((r) => `${r.method} ${r.url}`),
    ['POST /v2/app/blobs/uploads/', 'PATCH /v2/app/blobs/uploads/u1', 'DELETE /v2/app/blobs/uploads/u1'],
  );
});

test('uploads: with a function as source, the whole upload starts over', async (t) => {
  const blob = Buffer.from('layer bytes');
  let patches = 0;
  const registry = await startFake((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(202, { location: `/v2/app/blobs/uploads/u${registry.requests.length}` });
      return res.end();
    }
    if (req.method === 'PATCH' && ++patches === 1) return ociError(res, 502, 'UNKNOWN', 'bad gateway');
    if (req.method === 'PATCH') {
      res.writeHead(202, { location: req.url });
      return res.end();
    }
    res.writeHead(req.method === 'PUT' ? 201 : 204);
    res.end();
  });
  t.after(() => registry.close());
  let opened = 0;
  const client = new RegistryClient({ baseUrl: registry.url, retryDelayMs: 1 });
  await client.pushBlob('app', digestOf(blob), blob.length, () => {
    opened++;
    return Readable.from([blob]);
  });
  assert.equal(opened, 2);
  assert.deepEqual(
    registry.requests.map((r) => `${r.method} ${r.url}`),
    [
      'POST /v2/app/blobs/uploads/',
      'PATCH /v2/app/blobs/uploads/u1',
      'DELETE /v2/app/blobs/uploads/u1',
      'POST /v2/app/blobs/uploads/',
      'PATCH /v2/app/blobs/uploads/u4',
      `PUT /v2/app/blobs/uploads/u4?digest=${encodeURIComponent(digestOf(blob))}`,
    ],
  );
});

test('uploads: requests retried inside an upload are not retried again by the upload', async (t) => {
  const registry = await startFake((_req, res) => ociError(res, 503, 'UNAVAILABLE', 'down'));
  t.after(() => registry.close());
  const blob = Buffer.from('x');
  await assert.rejects(new RegistryClient({ baseUrl: registry.url, retries: 1, retryDelayMs: 1 }).pushBlob('app', digestOf(blob), 1, blob), isUpstream('unavailable'));
  assert.equal(registry.requests.length, 2);
});
