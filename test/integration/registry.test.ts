// Registry behaviour seen from the inside: the event outbox written with every push and delete,
// and the purge of abandoned uploads (by its job, through the job queue).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function pushBlob(t: TestApp, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const r = await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return digest;
}

async function pushImage(t: TestApp, repo: string, tag: string, seed: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer ${seed}`);
  const cd = await pushBlob(t, repo, config);
  const ld = await pushBlob(t, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: layer.length }],
    }),
  );
  const r = await t.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(r.status, 201, await r.text());
  return sha256(manifest);
}

describe('event outbox', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  test('pushes and deletes write ECR-shaped event rows, in order', async () => {
    const repo = 'events/app';
    const d1 = await pushImage(t, repo, 'v1', 'one');
    // Re-pushing the same manifest to the same tag changes nothing and records nothing.
    await pushImage(t, repo, 'v1', 'one');
    // Moving the tag records the digest it pointed at before.
    const d2 = await pushImage(t, repo, 'v1', 'two');
    assert.equal((await t.fetch(`/v2/${repo}/manifests/v1`, { method: 'DELETE' })).status, 202);
    assert.equal((await t.fetch(`/v2/${repo}/manifests/${d1}`, { method: 'DELETE' })).status, 202);
    const blob = await pushBlob(t, repo, Buffer.from('loose blob'));
    assert.equal((await t.fetch(`/v2/${repo}/blobs/${blob}`, { method: 'DELETE' })).status, 202);

    const events = (await t.app.meta.events.list(0, 100)).filter((e) => e.repository === repo);
    assert.deepEqual(
      events.map((e) => [e.type, e.digest, e.tag]),
      [
        ['repository.create', null, null],
        ['image.push', d1, 'v1'],
        ['image.push', d2, 'v1'],
        ['image.delete', d2, 'v1'],
        ['image.delete', d1, null],
        ['blob.delete', blob, null],
      ],
    );
    const [, push1, push2, untag, del] = events;
    assert.equal(push1?.accountId, t.app.boot.accountId);
    assert.deepEqual(push1?.detail, {
      'action-type': 'PUSH',
      result: 'SUCCESS',
      'repository-name': repo,
      'image-digest': d1,
      'image-tag': 'v1',
      'manifest-media-type': 'application/vnd.oci.image.manifest.v1+json',
      'artifact-media-type': 'application/vnd.oci.image.config.v1+json',
    });
    assert.equal(push2?.detail['previous-image-digest'], d1);
    assert.equal(untag?.detail['action-type'], 'DELETE');
    assert.deepEqual(del?.detail['image-tags'], []);
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  });

  test('a refused push writes no event', async () => {
    const before = (await t.app.meta.events.list(0, 1000)).length;
    const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('absent'), size: 6 }, layers: [] });
    const r = await t.fetch('/v2/events/app/manifests/broken', { method: 'PUT', body, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(r.status, 400);
    assert.equal((await t.app.meta.events.list(0, 1000)).length, before);
  });
});

describe('abandoned uploads', () => {
  let t: TestApp;
  before(async () => {
    // Purge everything older than one second, every second.
    t = await startTestApp({ env: { BERTH_UPLOADS_PURGE_AFTER: '1s', BERTH_UPLOADS_PURGE_INTERVAL: '1s' } });
  });
  after(async () => {
    await t.close();
  });

  test('stale uploads and orphaned upload data are purged; fresh ones stay; the periodic job does it', async () => {
    const start = async (): Promise<string> => {
      const r = await t.fetch('/v2/purge/app/blobs/uploads/', { method: 'POST' });
      assert.equal(r.status, 202);
      return r.headers.get('location') ?? '';
    };
    const stale = await start();
    assert.equal((await t.fetch(stale, { method: 'PATCH', body: Buffer.alloc(1000, 1), headers: { 'content-range': '0-999' } })).status, 202);
    // Upload data no session owns (a crash between the database and the storage delete).
    const orphan = join(t.dataDir, 'storage', 'uploads', randomUUID());
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, 'data'), 'orphan');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(orphan, 'data'), old, old);
    await new Promise((r) => setTimeout(r, 1200));
    const fresh = await start();

    // The purge itself, with the one-second threshold: the stale session and the orphan go.
    await t.app.registry.uploads.purge(1);
    const gone = await t.fetch(stale);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(existsSync(orphan), false, 'orphaned upload data is removed');
    const staleId = stale.split('/').pop() ?? '';
    assert.equal(existsSync(join(t.dataDir, 'storage', 'uploads', staleId)), false);
    assert.equal((await t.fetch(fresh)).status, 204, 'an upload touched within purgeAfter stays');

    // And the periodic job (every second) purges the fresh one once it is older than a second.
    let status = 0;
    for (let i = 0; i < 60 && status !== 404; i++) {
      status = (await t.fetch(fresh)).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 404, 'the periodic purge job ran');
  });
});
