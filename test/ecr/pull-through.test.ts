// Pulls through a cache rule against an upstream registry of the test's own (in-process, so faults
// can be injected and requests counted): the first pull streams from upstream and is cached, later
// pulls are local, a moved tag is seen after the revalidation period, a failing or rate-limiting
// upstream leaves the cached copy served, concurrent pulls make one upstream request, a blob whose
// content lies about its digest is never cached, ECR's authorization, nothing created for an image
// the upstream lacks.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { BatchGetImageCommand, CreatePullThroughCacheRuleCommand, DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { ociError, startFake, type FakeRequest, type FakeServer } from '../../src/upstream/fake-registry.ts';
import { testImage, type TestImage } from '../helpers/images.ts';
import { addUser, startEcrApp, type EcrTestApp } from './helpers.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

type Image = TestImage;

const image = (label: string): Image => testImage(label, { layerSize: 64 * 1024 });

/** An upstream registry serving `images` by `repo:tag` and digest, with faults on demand. */
class Upstream {
  server!: FakeServer;
  tags = new Map<string, Image>(); // "repo:tag"
  mode: 'ok' | 'down' | 'rate-limited' = 'ok';
  corrupt = new Set<string>(); // blob digests served with other content
  gate: Promise<void> | undefined; // manifest GETs wait for it (single-flight tests)
  stall = new Set<string>(); // blob digests of which only half is sent, then nothing

  async start(): Promise<void> {
    this.server = await startFake(async (req, res) => await this.handle(req, res));
  }

  count(what: RegExp, method = 'GET'): number {
    return this.server.requests.filter((r) => r.method === method && what.test(r.url)).length;
  }

  private async handle(req: FakeRequest, res: ServerResponse): Promise<void> {
    if (this.mode === 'down') return ociError(res, 503, 'UNAVAILABLE', 'down for maintenance');
    if (this.mode === 'rate-limited') return ociError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '0' });
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url);
    if (m === null) return ociError(res, 404, 'NOT_FOUND');
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    const images = [...this.tags.entries()].filter(([k]) => k.startsWith(`${repo}:`)).map(([, v]) => v);
    if (kind === 'manifests') {
      if (this.gate !== undefined) await this.gate;
      const img = ref.startsWith('sha256:') ? images.find((i) => i.digest === ref) : this.tags.get(`${repo}:${ref}`);
      if (img === undefined) return ociError(res, 404, 'MANIFEST_UNKNOWN');
      res.writeHead(200, { 'content-type': MANIFEST, 'docker-content-digest': img.digest, 'content-length': String(img.manifest.length) });
      res.end(req.method === 'HEAD' ? undefined : img.manifest);
      return;
    }
    const blob = images.map((i) => i.blobs.get(ref)).find((b) => b !== undefined);
    if (blob === undefined) return ociError(res, 404, 'BLOB_UNKNOWN');
    if (this.stall.has(ref)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
      res.write(blob.subarray(0, blob.length / 2));
      return; // and never more
    }
    const body = this.corrupt.has(ref) ? Buffer.alloc(blob.length, 'x') : blob;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

describe('pulls through a cache rule', () => {
  let t: EcrTestApp;
  const up = new Upstream();
  const v1 = image('v1');
  const v2 = image('v2');

  before(async () => {
    await up.start();
    up.tags.set('team/app:latest', v1);
    t = await startEcrApp({ env: { BERTH_PULL_THROUGH_CACHE_REVALIDATE_AFTER: '1s', BERTH_PULL_THROUGH_CACHE_UPSTREAM_TIMEOUT: '1s' } });
    await t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'up', upstreamRegistryUrl: up.server.url }));
  });
  after(async () => {
    await t.close();
    await up.server.close();
  });
  beforeEach(() => {
    up.mode = 'ok';
  });

  const pull = async (ref: string, auth?: string) => await t.fetch(`/v2/up/team/app/manifests/${ref}`, { headers: { accept: MANIFEST, ...(auth !== undefined ? { authorization: auth } : {}) } });
  const blob = async (digest: string, auth?: string) => await t.fetch(`/v2/up/team/app/blobs/${digest}`, auth !== undefined ? { headers: { authorization: auth } } : {});
  /** Waits for the import jobs (the app's worker runs them) to be done, succeeded or given up. */
  const imported = async (): Promise<void> => {
    for (let i = 0; ; i++) {
      const open = await t.app.meta.db
        .selectFrom('jobs')
        .select('id')
        .where('kind', '=', 'proxy.import')
        .where((eb) => eb.or([eb('status', '=', 'running'), eb.and([eb('status', '=', 'pending'), eb('attempts', '=', 0)])]))
        .execute();
      if (open.length === 0) return;
      assert.ok(i < 400, 'the import jobs ran');
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const cachedDigest = async (tag: string): Promise<string | undefined> => {
    const repo = await t.app.meta.repositories.get(t.app.boot.accountId, 'up/team/app');
    return repo === undefined ? undefined : await t.app.meta.tags.get(repo.id, tag);
  };

  test('the first pull is answered from upstream, blobs stream through, and the image is cached with an event', async () => {
    const r = await pull('latest');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-content-digest'), v1.digest);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), v1.manifest);
    for (const [digest, bytes] of v1.blobs) {
      const b = await blob(digest);
      assert.equal(b.status, 200);
      assert.deepEqual(Buffer.from(await b.arrayBuffer()), bytes);
    }
    await imported();
    assert.equal(await cachedDigest('latest'), v1.digest);
    const d = await t.ecr.send(new DescribeImagesCommand({ repositoryName: 'up/team/app' }));
    assert.deepEqual(d.imageDetails?.map((i) => [i.imageDigest, i.imageTags]), [[v1.digest, ['latest']]]);
    const events = await t.app.meta.db.selectFrom('events').select('detail').where('type', '=', 'ECR Pull Through Cache Action').execute();
    const detail = JSON.parse(events[0]?.detail ?? '{}') as Record<string, string>;
    assert.equal(detail['sync-status'], 'SUCCESS');
    assert.equal(detail['ecr-repository-prefix'], 'up');
    assert.equal(detail['image-digest'], v1.digest);
  });

  test('cached: pulls by digest and (within the revalidation period) by tag are local, also with the upstream down', async () => {
    up.mode = 'down';
    const before = up.server.requests.length;
    assert.equal((await pull(v1.digest)).status, 200);
    for (const digest of v1.blobs.keys()) assert.equal((await blob(digest)).status, 200);
    assert.equal(up.server.requests.length, before, 'no upstream request');
  });

  test('after the revalidation period a moved tag is fetched again; a failing or rate-limiting upstream leaves the cached copy served', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    up.mode = 'down';
    const stale = await pull('latest');
    assert.equal(stale.status, 200, 'the cached copy when the upstream is down');
    assert.equal(stale.headers.get('docker-content-digest'), v1.digest);
    // After a failed check the cached copy is served without asking upstream again for a while.
    const asked = up.server.requests.length;
    assert.equal((await pull('latest')).headers.get('docker-content-digest'), v1.digest);
    assert.equal(up.server.requests.length, asked, 'no upstream request right after a failed check');
    await new Promise((r) => setTimeout(r, 1100));
    up.mode = 'rate-limited';
    assert.equal((await pull('latest')).headers.get('docker-content-digest'), v1.digest, 'and when it rate-limits');
    await new Promise((r) => setTimeout(r, 1100));
    up.mode = 'ok';
    up.tags.set('team/app:latest', v2);
    const moved = await pull('latest');
    assert.equal(moved.headers.get('docker-content-digest'), v2.digest);
    for (const digest of v2.blobs.keys()) assert.equal((await blob(digest)).status, 200);
    await imported();
    assert.equal(await cachedDigest('latest'), v2.digest);
    // Fresh again: no upstream request for a while.
    const before = up.count(/manifests/, 'HEAD') + up.count(/manifests/);
    assert.equal((await pull('latest')).headers.get('docker-content-digest'), v2.digest);
    assert.equal(up.count(/manifests/, 'HEAD') + up.count(/manifests/), before);
  });

  test('concurrent pulls of an uncached manifest make one upstream request', async () => {
    const v3 = image('v3');
    up.tags.set('team/app:v3', v3);
    let open!: () => void;
    up.gate = new Promise((r) => (open = r));
    const before = up.count(/manifests\/v3$/);
    const pulls = Array.from({ length: 5 }, async () => await pull('v3'));
    await new Promise((r) => setTimeout(r, 100));
    open();
    up.gate = undefined;
    for (const r of await Promise.all(pulls)) assert.equal(r.headers.get('docker-content-digest'), v3.digest);
    assert.equal(up.count(/manifests\/v3$/) - before, 1);
    await imported();
  });

  test('a blob whose content does not match its digest is never cached; the client gets an error', async () => {
    const bad = image('corrupt');
    up.tags.set('team/app:bad', bad);
    const layer = [...bad.blobs.keys()][1] as string;
    up.corrupt.add(layer);
    assert.equal((await pull('bad')).status, 200);
    const r = await blob(layer);
    const body = await r.arrayBuffer().then(
      (b) => Buffer.from(b),
      () => undefined,
    );
    assert.ok(body === undefined || !body.equals(bad.blobs.get(layer) as Buffer), 'the client never gets bytes passed off as the blob');
    await imported();
    const repo = await t.app.meta.repositories.get(t.app.boot.accountId, 'up/team/app');
    assert.equal(await t.app.meta.blobs.getInRepository(repo?.id ?? -1, layer), undefined, 'not cached');
    assert.equal(await cachedDigest('bad'), undefined, 'nor the manifest that needs it');
    const failed = await t.app.meta.db.selectFrom('events').select('detail').where('type', '=', 'ECR Pull Through Cache Action').where('tag', '=', 'bad').execute();
    assert.ok(failed.some((e) => (JSON.parse(e.detail) as Record<string, string>)['sync-status'] === 'FAILED'));
    up.corrupt.clear();
  });

  test('an upstream that stalls in the middle of a blob: the client gets an error, the partial blob is discarded', async () => {
    const slow = image('stalls');
    up.tags.set('team/app:stalls', slow);
    const layer = [...slow.blobs.keys()][1] as string;
    up.stall.add(layer);
    assert.equal((await pull('stalls')).status, 200);
    const r = await blob(layer);
    const body = await r.arrayBuffer().then(
      (b) => Buffer.from(b),
      () => undefined,
    );
    assert.ok(body === undefined || body.length < (slow.blobs.get(layer) as Buffer).length, 'never the whole blob');
    await imported();
    const repo = await t.app.meta.repositories.get(t.app.boot.accountId, 'up/team/app');
    assert.equal(await t.app.meta.blobs.getInRepository(repo?.id ?? -1, layer), undefined, 'not cached');
    assert.equal(await cachedDigest('stalls'), undefined);
    up.stall.clear();
  });

  test('an image the upstream lacks: 404 and no repository; an unreachable upstream: 502 with the reason', async () => {
    const missing = await t.fetch('/v2/up/other/thing/manifests/latest', { headers: { accept: MANIFEST } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.equal(await t.app.meta.repositories.get(t.app.boot.accountId, 'up/other/thing'), undefined);
    up.mode = 'down';
    const down = await t.fetch('/v2/up/team/never/manifests/latest', { headers: { accept: MANIFEST } });
    assert.equal(down.status, 502);
    assert.match(((await down.json()) as { errors: Array<{ message: string }> }).errors[0]?.message ?? '', /upstream/);
  });

  test('BatchGetImage pulls through too; upstream failures are the model\'s Upstream* failure codes', async () => {
    const v5 = image('v5');
    up.tags.set('batch/app:v5', v5);
    const got = await t.ecr.send(new BatchGetImageCommand({ repositoryName: 'up/batch/app', imageIds: [{ imageTag: 'v5' }, { imageTag: 'absent' }] }));
    assert.equal(got.images?.[0]?.imageId?.imageDigest, v5.digest);
    assert.equal(got.images?.[0]?.imageManifest, v5.manifest.toString('utf8'));
    assert.deepEqual(got.failures?.map((f) => f.failureCode), ['ImageNotFound']);
    up.mode = 'down';
    const down = await t.ecr.send(new BatchGetImageCommand({ repositoryName: 'up/batch/app', imageIds: [{ imageTag: 'other' }] }));
    assert.equal(down.failures?.[0]?.failureCode, 'UpstreamUnavailable');
    up.mode = 'rate-limited';
    const limited = await t.ecr.send(new BatchGetImageCommand({ repositoryName: 'up/batch/app', imageIds: [{ imageTag: 'other' }] }));
    assert.equal(limited.failures?.[0]?.failureCode, 'UpstreamTooManyRequests');
    up.mode = 'ok';
  });

  test('authorization: an uncached pull needs ecr:BatchImportUpstreamImage and ecr:CreateRepository; a cached image only pull access', async () => {
    const reader = await addUser(t, 'reader');
    await t.app.meta.iam.attach(t.app.boot.accountId, 'user', 'reader', 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly');
    up.tags.set('team/app:v4', image('v4'));
    const refused = await pull('v4', reader.auth);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /BatchImportUpstreamImage/);
    assert.equal((await pull('latest', reader.auth)).status, 200, 'cached: pull access is enough');
  });
});
