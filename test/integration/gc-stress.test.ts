// The stress test of ADR 0014 (issue 5): several clients push images (blobs, then a manifest; a
// blob the repository already holds is skipped after a HEAD, as real clients do; some are mounted
// from another repository, some uploaded in chunks), re-tag, untag and delete images and delete
// whole repositories, continuously, over /v2/ on loopback, while two collectors (as two processes
// would) run passes in a tight loop. The clock runs 3600 times faster than real time, so the
// one-hour grace period lasts one real second. Afterwards every image whose push succeeded and
// that was not deleted pulls completely and byte-identical, and after a final pass the blob storage
// holds exactly the blobs those images use: no unreferenced blob older than the grace period, no
// object without its row, no row without its object. Bounded: about 8 s of load per database.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOfBlobKey } from '../../src/registry/index.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { POSTGRES_TEST_URL } from '../helpers/postgres.ts';

const SPEED = 3600;
const GRACE_REAL_MS = 1000;
const LOAD_MS = 8000;
const CLIENTS = 5;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DATABASES: Array<'sqlite' | 'postgres'> = POSTGRES_TEST_URL === undefined ? ['sqlite'] : ['sqlite', 'postgres'];

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

interface Image {
  repo: string;
  digest: string;
  manifest: Buffer;
  blobs: Buffer[];
}

interface Stats {
  pushes: number;
  pushRetries: number;
  uploadRetries: number;
  mounts: number;
  skippedByHead: number;
  retags: number;
  untags: number;
  deletes: number;
  repoDeletes: number;
}

/** What the clients did: the images alive and where each tag points. */
class Model {
  readonly images = new Map<string, Image>();
  readonly tags = new Map<string, Map<string, string>>();
  /** Where each blob was last pushed (mount sources; may be stale). */
  readonly holders = new Map<string, string>();

  add(img: Image, tag: string): void {
    this.images.set(`${img.repo}@${img.digest}`, img);
    this.tag(img.repo, tag, img.digest);
  }

  tag(repo: string, tag: string, digest: string): void {
    let m = this.tags.get(repo);
    if (m === undefined) this.tags.set(repo, (m = new Map<string, string>()));
    m.set(tag, digest);
  }

  deleteImage(img: Image): void {
    this.images.delete(`${img.repo}@${img.digest}`);
    const m = this.tags.get(img.repo);
    if (m !== undefined) for (const [t, d] of m) if (d === img.digest) m.delete(t);
  }

  deleteRepo(repo: string): void {
    for (const [k, img] of this.images) if (img.repo === repo) this.images.delete(k);
    this.tags.delete(repo);
  }
}

interface StressApp extends TestApp {
  database: 'sqlite' | 'postgres';
}

async function startApp(database: 'sqlite' | 'postgres'): Promise<StressApp> {
  const base = Date.now();
  const t = await startTestApp({
    database,
    now: (): number => base + Math.round((Date.now() - base) * SPEED),
    // Background jobs are not started: the test runs the collector itself.
    jobs: false,
    env: {
      BERTH_STORAGE_FILESYSTEM_FSYNC: 'false',
      BERTH_GC_GRACE_PERIOD: '1h',
      // The clock runs fast: keep verified credentials cached for the whole run.
      BERTH_AUTH_CREDENTIAL_CACHE_TTL: '10000d',
      ...(database === 'postgres' ? { BERTH_DATABASE_POSTGRES_POOL_SIZE: '20' } : {}),
    },
  });
  assert.equal(t.app.registry.gc.gracePeriodMs, GRACE_REAL_MS * SPEED, 'the grace period is one hour');
  return { ...t, database };
}

async function expectStatus(r: Response, expected: number, what: string): Promise<void> {
  if (r.status !== expected) assert.fail(`${what}: HTTP ${r.status} (expected ${expected}): ${await r.text()}`);
  await r.arrayBuffer();
}

/** A client's push of one blob; false when the upload lost a race with the collector (retry). */
async function pushBlob(t: StressApp, model: Model, stats: Stats, repo: string, data: Buffer, rand: () => number): Promise<boolean> {
  const digest = sha256(data);
  const head = await t.fetch(`/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  await head.arrayBuffer();
  if (head.status === 200) {
    stats.skippedByHead++;
    return true;
  }
  let location: string | undefined;
  const from = model.holders.get(digest);
  if (from !== undefined && from !== repo && rand() < 0.5) {
    const r = await t.fetch(`/v2/${repo}/blobs/uploads/?mount=${digest}&from=${encodeURIComponent(from)}`, { method: 'POST' });
    await r.arrayBuffer();
    if (r.status === 201) {
      stats.mounts++;
      return true;
    }
    assert.equal(r.status, 202, `mount into ${repo}: ${r.status}`);
    location = r.headers.get('location') ?? undefined;
  } else if (rand() < 0.3) {
    const r = await t.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await expectStatus(r, 202, `start upload in ${repo}`);
    location = r.headers.get('location') ?? undefined;
  }
  let done: Response;
  if (location !== undefined) {
    const half = data.length >> 1;
    const patch = await t.fetch(location, { method: 'PATCH', body: data.subarray(0, half), headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${half - 1}` } });
    await expectStatus(patch, 202, `PATCH in ${repo}`);
    const next = patch.headers.get('location') ?? location;
    done = await t.fetch(`${next}${next.includes('?') ? '&' : '?'}digest=${digest}`, {
      method: 'PUT',
      body: data.subarray(half),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${half}-${data.length - 1}` },
    });
  } else {
    done = await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  }
  if (done.status === 404) {
    // BLOB_UPLOAD_UNKNOWN: the upload took longer than the grace period and lost its bytes.
    const body = (await done.json()) as { errors: Array<{ code: string }> };
    assert.equal(body.errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
    stats.uploadRetries++;
    return false;
  }
  await expectStatus(done, 201, `upload of ${digest} to ${repo}`);
  model.holders.set(digest, repo);
  return true;
}

/** Pushes an image (blobs, then the manifest); retried when the manifest PUT finds a blob collected. */
async function pushImage(t: StressApp, model: Model, stats: Stats, repo: string, tag: string, blobs: Buffer[], rand: () => number): Promise<Image | null> {
  const [config, ...layers] = blobs as [Buffer, ...Buffer[]];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
    }),
  );
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) stats.pushRetries++;
    let ok = true;
    for (const b of blobs) {
      if (!(await pushBlob(t, model, stats, repo, b, rand)) && !(await pushBlob(t, model, stats, repo, b, rand))) ok = false;
    }
    if (!ok) continue;
    const r = await t.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    if (r.status === 201) {
      await r.arrayBuffer();
      assert.equal(r.headers.get('docker-content-digest'), sha256(manifest));
      const img: Image = { repo, digest: sha256(manifest), manifest, blobs };
      model.add(img, tag);
      stats.pushes++;
      return img;
    }
    const body = (await r.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(r.status, 400, `PUT manifest ${repo}:${tag}: ${JSON.stringify(body)}`);
    assert.equal(body.errors[0]?.code, 'MANIFEST_BLOB_UNKNOWN', JSON.stringify(body));
  }
  return null;
}

/** Pulls the image completely: by digest and by each tag the model has for it; every byte compared. */
async function pullImage(t: StressApp, model: Model, img: Image): Promise<void> {
  const m = await t.fetch(`/v2/${img.repo}/manifests/${img.digest}`, { headers: { accept: OCI_MANIFEST } });
  assert.equal(m.status, 200, `${img.repo}@${img.digest}`);
  assert.ok(Buffer.from(await m.arrayBuffer()).equals(img.manifest), `manifest ${img.repo}@${img.digest} byte-identical`);
  for (const [tag, digest] of model.tags.get(img.repo) ?? []) {
    if (digest !== img.digest) continue;
    const byTag = await t.fetch(`/v2/${img.repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
    await byTag.arrayBuffer();
    assert.equal(byTag.status, 200, `${img.repo}:${tag}`);
    assert.equal(byTag.headers.get('docker-content-digest'), img.digest, `${img.repo}:${tag} points at ${img.digest}`);
  }
  for (const b of img.blobs) {
    const r = await t.fetch(`/v2/${img.repo}/blobs/${sha256(b)}`);
    assert.equal(r.status, 200, `blob ${sha256(b)} of ${img.repo}@${img.digest}`);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(b), `blob ${sha256(b)} of ${img.repo}@${img.digest} byte-identical`);
  }
}

/** A small deterministic generator per client (xorshift), so a failure names a reproducible run. */
function generator(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % 1_000_000) / 1_000_000;
  };
}

async function client(t: StressApp, model: Model, stats: Stats, i: number, deadline: number, seed: number): Promise<void> {
  const rand = generator(seed + i * 7919);
  const base = Array.from({ length: 6 }, (_, k) => Buffer.from(`base layer ${k} `.repeat(200 + k * 50)));
  let generation = 0;
  let n = 0;
  const own: Image[] = [];
  const privateRepo = (): string => `stress/c${i}/g${generation}`;
  while (Date.now() < deadline) {
    const r = rand();
    n++;
    if (r < 0.5 || own.length === 0) {
      const repo = rand() < 0.6 ? privateRepo() : 'stress/shared';
      const blobs = [Buffer.from(JSON.stringify({ client: i, n, nonce: randomBytes(8).toString('hex') })), base[Math.floor(rand() * base.length)] as Buffer, randomBytes(512 + Math.floor(rand() * 16_384))];
      const img = await pushImage(t, model, stats, repo, `c${i}-${n}`, blobs, rand);
      if (img !== null) own.push(img);
    } else if (r < 0.65) {
      // Re-tag: a new tag for one of this client's images, or one of its tags moved to it.
      const img = own[Math.floor(rand() * own.length)] as Image;
      const mine = [...(model.tags.get(img.repo) ?? [])].filter(([tag]) => tag.startsWith(`c${i}-`));
      const tag = mine.length > 0 && rand() < 0.5 ? (mine[Math.floor(rand() * mine.length)] as [string, string])[0] : `c${i}-${n}`;
      const res = await t.fetch(`/v2/${img.repo}/manifests/${tag}`, { method: 'PUT', body: img.manifest, headers: { 'content-type': OCI_MANIFEST } });
      await expectStatus(res, 201, `re-tag ${img.repo}:${tag}`);
      model.tag(img.repo, tag, img.digest);
      stats.retags++;
    } else if (r < 0.75) {
      // Untag: one of this client's tags removed (the image stays, by digest).
      const repo = (own[Math.floor(rand() * own.length)] as Image).repo;
      const mine = [...(model.tags.get(repo) ?? [])].filter(([tag]) => tag.startsWith(`c${i}-`));
      const picked = mine[Math.floor(rand() * mine.length)];
      if (picked === undefined) continue;
      const res = await t.fetch(`/v2/${repo}/manifests/${picked[0]}`, { method: 'DELETE' });
      await expectStatus(res, 202, `untag ${repo}:${picked[0]}`);
      model.tags.get(repo)?.delete(picked[0]);
      stats.untags++;
    } else if (r < 0.97) {
      const k = Math.floor(rand() * own.length);
      const img = own[k] as Image;
      const res = await t.fetch(`/v2/${img.repo}/manifests/${img.digest}`, { method: 'DELETE' });
      await expectStatus(res, 202, `delete ${img.repo}@${img.digest}`);
      own.splice(k, 1);
      model.deleteImage(img);
      stats.deletes++;
    } else {
      // The client's private repository goes, as DeleteRepository with force removes it.
      const repo = privateRepo();
      const found = await t.app.meta.repositories.get(t.app.boot.accountId, repo);
      generation++;
      if (found === undefined) continue;
      await t.app.meta.transaction(async (tx) => {
        await tx.repositories.delete(found.id);
      });
      model.deleteRepo(repo);
      for (let k = own.length - 1; k >= 0; k--) if ((own[k] as Image).repo === repo) own.splice(k, 1);
      stats.repoDeletes++;
    }
  }
}

for (const database of DATABASES) {
  describe(`garbage collection under load (${database})`, () => {
    test('pushes, re-tags and deletes beside collectors in a tight loop: every surviving image pulls byte-identical, no garbage stays', { timeout: 60_000 }, async (tc) => {
      const t = await startApp(database);
      try {
        const model = new Model();
        const stats: Stats = { pushes: 0, pushRetries: 0, uploadRetries: 0, mounts: 0, skippedByHead: 0, retags: 0, untags: 0, deletes: 0, repoDeletes: 0 };
        const seed = Number(process.env.BERTH_GC_STRESS_SEED ?? Date.now() % 100_000);
        const deadline = Date.now() + LOAD_MS;
        let stop = false;
        const collected = { passes: 0, links: 0, blobs: 0, bytes: 0 };
        const collector = async (): Promise<void> => {
          while (!stop) {
            const r = await t.app.registry.gc.collect({ batchSize: 50 });
            collected.passes++;
            collected.links += r.linksRemoved;
            collected.blobs += r.blobsRemoved;
            collected.bytes += r.bytesFreed;
            await new Promise((resolve) => setImmediate(resolve));
          }
        };
        const collectors = [collector(), collector()];
        try {
          await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(t, model, stats, i, deadline, seed)));
        } finally {
          stop = true;
          await Promise.all(collectors);
        }
        const context = `seed ${seed}: ${JSON.stringify({ ...stats, collected })}`;
        assert.ok(stats.pushes >= 20, `enough pushes succeeded (${context})`);
        assert.ok(stats.deletes >= 5, `enough deletes (${context})`);
        assert.ok(collected.blobs > 0, `the collectors removed blobs during the run (${context})`);

        // Every image whose push succeeded and that was not deleted pulls completely.
        for (const img of model.images.values()) await pullImage(t, model, img);

        // Once everything is older than the grace period, a final pass leaves exactly the blobs the
        // surviving images use, in the database and in storage.
        await sleep(GRACE_REAL_MS * 1.5);
        await t.app.registry.gc.collect();
        const again = await t.app.registry.gc.collect();
        assert.deepEqual([again.linksRemoved, again.blobsRemoved], [0, 0], 'a final pass leaves nothing for the next one');
        const used = new Set<string>();
        for (const img of model.images.values()) for (const b of img.blobs) used.add(sha256(b));
        const rows = new Set((await t.app.meta.db.selectFrom('blobs').select('digest').execute()).map((r) => r.digest));
        const keys = new Set<string>();
        for await (const key of t.app.storage.list('blobs/')) {
          const d = digestOfBlobKey(key);
          if (d !== null) keys.add(d);
        }
        const sorted = (s: Set<string>): string[] => [...s].sort();
        assert.deepEqual(sorted(rows), sorted(used), `blob rows are exactly the blobs the surviving images use (${context})`);
        assert.deepEqual(sorted(keys), sorted(used), `stored objects are exactly the blobs the surviving images use (${context})`);
        const unusedLinks = await t.app.meta.db
          .selectFrom('repository_blobs as rb')
          .select(['rb.repository_id', 'rb.digest'])
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('manifest_references as mr')
                  .select('mr.child_digest')
                  .whereRef('mr.repository_id', '=', 'rb.repository_id')
                  .whereRef('mr.child_digest', '=', 'rb.digest')
                  .where('mr.kind', '=', 'blob'),
              ),
            ),
          )
          .execute();
        assert.deepEqual(unusedLinks, [], `no link without a manifest using it (${context})`);
        for (const img of model.images.values()) await pullImage(t, model, img);
        tc.diagnostic(context);
      } finally {
        await t.close();
      }
    });
  });
}
