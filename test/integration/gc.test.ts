// Online garbage collection (docs/adr/0014-online-garbage-collection.md), on SQLite and, when
// BERTH_TEST_POSTGRES_URL is set, PostgreSQL: what is collected and when (grace periods, shared
// blobs, manifest and repository deletes), the races of the ADR forced at the exact step through
// the registry's hooks, idempotence after a crash, the dry run, `berth gc` (with --full), the
// migration that introduces the queue, and the /v2/ answers through the composed app.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, Migrator, type MigrationProvider } from 'kysely';
import { pino } from 'pino';
import { gcCommand } from '../../src/cli/gc.ts';
import { loadConfig } from '../../src/config/index.ts';
import { isRegistryError } from '../../src/core/errors.ts';
import { openSqlite, type MetaStore, type Repository } from '../../src/meta/index.ts';
import { migrationProvider } from '../../src/meta/migrations/index.ts';
import { openPostgres } from '../../src/meta/postgres.ts';
import { Registry, type RegistryHooks } from '../../src/registry/index.ts';
import { blobKey, BlobStore, FsDriver, SegmentedUploadStore, UploadStore, type StorageDriver, type UploadStorage } from '../../src/storage/index.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createTempPostgresDatabase, POSTGRES_TEST_URL } from '../helpers/postgres.ts';

const ACCOUNT = '111122223333';
const HOUR = 3_600_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DATABASES: Array<'sqlite' | 'postgres'> = POSTGRES_TEST_URL === undefined ? ['sqlite'] : ['sqlite', 'postgres'];

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function manifestOf(config: Buffer, layers: Buffer[], seed = ''): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
      annotations: { seed },
    }),
  );
}

/** Settles within `ms`? (Used to check that an operation waits for a lock.) */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return settled;
}

function rejectsWithCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(isRegistryError(e), `expected a RegistryError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

/** A registry over a fresh database and filesystem storage, with a clock the test moves. */
interface Harness {
  database: 'sqlite' | 'postgres';
  meta: MetaStore;
  storage: StorageDriver;
  registry: Registry;
  hooks: RegistryHooks;
  clock: { t: number };
  logs: Array<Record<string, unknown>>;
  repo(name: string): Promise<Repository>;
  pushBlob(repo: Repository, data: Buffer, mode?: 'monolithic' | 'chunked'): Promise<string>;
  pushImage(repo: Repository, tag: string, config: Buffer, layers: Buffer[]): Promise<string>;
  /** Pulls the image by reference; every blob must come back byte-identical to `expected`. */
  pull(repo: Repository, reference: string, expected: Buffer[]): Promise<void>;
  stored(digest: string): Promise<boolean>;
  close(): Promise<void>;
}

async function harness(database: 'sqlite' | 'postgres', grace = HOUR): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-gc-'));
  const pgdb = database === 'postgres' ? await createTempPostgresDatabase() : undefined;
  const meta = pgdb !== undefined ? await openPostgres({ url: pgdb.url, poolSize: 8 }) : await openSqlite({ path: join(dir, 'berth.db') });
  const storage = new FsDriver({ root: join(dir, 'storage'), fsync: false });
  const blobs = new BlobStore(storage);
  const clock = { t: Date.now() };
  const uploads: UploadStorage =
    database === 'sqlite'
      ? new UploadStore(storage, blobs)
      : new SegmentedUploadStore(storage, blobs, {
          load: async (id) => await meta.uploads.loadState(id),
          save: async (id, size, state, version) => await meta.uploads.saveState(id, size, state, version, clock.t),
        });
  const hooks: RegistryHooks = {};
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const registry = new Registry({ meta, blobs, uploads, now: () => clock.t, log }, { gc: { gracePeriodSeconds: grace / 1000 }, hooks });
  await meta.accounts.ensure(ACCOUNT, clock.t);
  const h: Harness = {
    database,
    meta,
    storage,
    registry,
    hooks,
    clock,
    logs,
    async repo(name) {
      return (await meta.repositories.ensure(ACCOUNT, name, clock.t)).repository;
    },
    async pushBlob(repo, data, mode = 'monolithic') {
      const digest = sha256(data);
      if (mode === 'monolithic') {
        await registry.uploads.monolithic(repo, digest, Readable.from([data]), { length: data.length });
      } else {
        const { id } = await registry.uploads.start(repo);
        await registry.uploads.append(repo, id, Readable.from([data.subarray(0, data.length >> 1)]));
        await registry.uploads.append(repo, id, Readable.from([data.subarray(data.length >> 1)]), { start: data.length >> 1 });
        await registry.uploads.complete(repo, id, digest);
      }
      return digest;
    },
    async pushImage(repo, tag, config, layers) {
      for (const b of [config, ...layers]) await h.pushBlob(repo, b);
      const body = manifestOf(config, layers, tag);
      const r = await registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, tag, body, OCI_MANIFEST);
      return r.digest;
    },
    async pull(repo, reference, expected) {
      const m = await registry.manifests.get(repo, reference);
      const parsed = JSON.parse(m.body.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      const digests = [parsed.config.digest, ...parsed.layers.map((l) => l.digest)];
      assert.deepEqual(digests, expected.map((b) => sha256(b)));
      for (const [i, digest] of digests.entries()) {
        const { stream } = await registry.blobs.open(repo, digest);
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        assert.ok(Buffer.concat(chunks).equals(expected[i] as Buffer), `blob ${digest} of ${repo.name}:${reference} is byte-identical`);
      }
    },
    async stored(digest) {
      return (await storage.stat(blobKey(digest))) !== null;
    },
    async close() {
      await meta.close();
      await pgdb?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

function blob(label: string, size = 64): Buffer {
  return Buffer.concat([Buffer.from(`${label}:`), randomBytes(size)]);
}

for (const database of DATABASES) {
  describe(`garbage collection (${database})`, () => {
    // Each test on a registry of its own (a fresh database and storage), so that counts are exact.
    const it = (name: string, fn: (h: Harness) => Promise<void>): void => {
      test(name, async () => {
        const h = await harness(database);
        try {
          await fn(h);
        } finally {
          await h.close();
        }
      });
    };

    it('an upload no manifest uses is kept within the grace period and collected after it', async (h) => {
      const repo = await h.repo('grace/loose');
      const data = blob('loose');
      const digest = await h.pushBlob(repo, data);
      const chunked = await h.pushBlob(repo, blob('loose-chunked'), 'chunked');
      const pushedAt = h.clock.t;
      h.clock.t = pushedAt + HOUR - 1;
      const early = await h.registry.gc.collect();
      assert.deepEqual({ links: early.linksRemoved, blobs: early.blobsRemoved }, { links: 0, blobs: 0 });
      for (const d of [digest, chunked]) {
        assert.ok(await h.stored(d));
        assert.notEqual(await h.meta.blobs.getInRepository(repo.id, d), undefined);
      }
      h.clock.t = pushedAt + HOUR;
      const r = await h.registry.gc.collect();
      assert.equal(r.linksRemoved, 2);
      assert.equal(r.blobsRemoved, 2);
      assert.ok(r.bytesFreed >= 2 * 64);
      for (const d of [digest, chunked]) {
        assert.equal(await h.stored(d), false, 'the bytes are gone from storage');
        assert.equal(await h.meta.blobs.getRow(d), undefined, 'the row is gone');
        assert.equal(await h.meta.blobs.getInRepository(repo.id, d), undefined);
      }
      await assert.rejects(h.registry.blobs.stat(repo, digest), rejectsWithCode('BlobUnknown'));
      // Nothing of it stays queued, and a second pass finds nothing.
      assert.equal(await h.meta.gcQueue.get({ kind: 'link', repositoryId: repo.id, digest }), undefined);
      assert.equal(await h.meta.gcQueue.get({ kind: 'blob', repositoryId: 0, digest }), undefined);
      const again = await h.registry.gc.collect();
      assert.deepEqual([again.linksRemoved, again.blobsRemoved, again.bytesFreed], [0, 0, 0]);
      // The pass logged what it reclaimed.
      const line = h.logs.find((l) => l.msg === 'garbage collection: bytes reclaimed' && l.bytesFreed === r.bytesFreed);
      assert.ok(line !== undefined, 'a log line reports the bytes reclaimed');
      assert.equal(line.blobsRemoved, 2);
    });

    it('a push whose manifest comes within the grace period keeps its blobs through collections', async (h) => {
      const repo = await h.repo('grace/slow-push');
      const config = blob('config');
      const layer = blob('layer');
      for (const b of [config, layer]) await h.pushBlob(repo, b);
      const start = h.clock.t;
      h.clock.t = start + HOUR / 2;
      await h.registry.gc.collect();
      h.clock.t = start + HOUR - 1;
      await h.registry.gc.collect();
      await h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(config, [layer]), OCI_MANIFEST);
      h.clock.t = start + 10 * HOUR;
      const r = await h.registry.gc.collect();
      assert.equal(r.blobsRemoved, 0);
      await h.pull(repo, 'v1', [config, layer]);
    });

    it('deleting a manifest: its blobs go a grace period later, blobs another manifest or repository uses stay', async (h) => {
      const a = await h.repo('shared/a');
      const b = await h.repo('shared/b');
      const base = blob('base layer used everywhere');
      const onlyOne = blob('only in a:v1');
      const keptInA = blob('in a:v2 too');
      const configs = [blob('config a1'), blob('config a2'), blob('config b')];
      const d1 = await h.pushImage(a, 'v1', configs[0] as Buffer, [base, onlyOne, keptInA]);
      await h.pushImage(a, 'v2', configs[1] as Buffer, [base, keptInA]);
      await h.pushImage(b, 'v1', configs[2] as Buffer, [base]);
      h.clock.t += 2 * HOUR;
      assert.equal((await h.registry.gc.collect()).blobsRemoved, 0, 'every link is in use');

      await h.registry.manifests.delete(a, d1);
      assert.equal((await h.registry.gc.collect()).linksRemoved, 0, 'the links stay for a grace period after the manifest went');
      assert.ok(await h.stored(sha256(onlyOne)));
      h.clock.t += HOUR;
      const r = await h.registry.gc.collect();
      assert.equal(r.linksRemoved, 2, "a:v1's config and its own layer");
      assert.equal(r.blobsRemoved, 2);
      assert.equal(r.bytesFreed, (configs[0] as Buffer).length + onlyOne.length);
      assert.equal(await h.stored(sha256(onlyOne)), false);
      assert.equal(await h.stored(sha256(configs[0] as Buffer)), false);
      for (const kept of [base, keptInA]) assert.ok(await h.stored(sha256(kept)));
      await h.pull(a, 'v2', [configs[1] as Buffer, base, keptInA]);
      await h.pull(b, 'v1', [configs[2] as Buffer, base]);
    });

    it('deleting a repository: the blobs only it held are collected, a blob another repository holds stays', async (h) => {
      const doomed = await h.repo('doomed/app');
      const other = await h.repo('doomed/other');
      const shared = blob('shared with other');
      const own = blob('own layer');
      const config = blob('doomed config');
      const otherConfig = blob('other config');
      await h.pushImage(doomed, 'v1', config, [shared, own]);
      await h.pushImage(other, 'v1', otherConfig, [shared]);
      h.clock.t += 2 * HOUR;
      // What DeleteRepository (force) does: the store's delete queues every blob it held.
      await h.meta.transaction(async (tx) => {
        await tx.repositories.delete(doomed.id);
      });
      const r = await h.registry.gc.collect();
      assert.equal(r.blobsRemoved, 2);
      assert.equal(r.bytesFreed, own.length + config.length);
      assert.equal(await h.stored(sha256(own)), false);
      assert.equal(await h.stored(sha256(config)), false);
      assert.ok(await h.stored(sha256(shared)));
      await h.pull(other, 'v1', [otherConfig, shared]);
    });

    it('a blob deleted from its repository (DELETE /v2/.../blobs/<digest>) is collected; a manifest PUT then needs it uploaded again', async (h) => {
      const repo = await h.repo('unlinked/app');
      const layer = blob('unlinked layer');
      const config = blob('unlinked config');
      await h.pushBlob(repo, layer);
      await h.pushBlob(repo, config);
      h.clock.t += 2 * HOUR;
      await h.registry.blobs.delete(repo, sha256(layer));
      const r = await h.registry.gc.collect();
      assert.equal(r.blobsRemoved, 2, 'the deleted one at once (it was touched long ago), the unused config by its link');
      await assert.rejects(
        h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(config, [layer]), OCI_MANIFEST),
        rejectsWithCode('ManifestBlobUnknown'),
      );
      // Uploaded again after its collection: the bytes are back and the image pulls byte-identical.
      await h.pushImage(repo, 'v1', config, [layer]);
      assert.ok(await h.stored(sha256(layer)));
      await h.pull(repo, 'v1', [config, layer]);
      h.clock.t += 2 * HOUR;
      assert.equal((await h.registry.gc.collect()).blobsRemoved, 0);
      await h.pull(repo, 'v1', [config, layer]);
    });

    it('a refused upload completion (the digest does not match) takes its touch back: rows and queue unchanged', async (h) => {
      const repo = await h.repo('refused/app');
      const other = await h.repo('refused/other');
      const existing = blob('existing elsewhere');
      await h.pushBlob(other, existing);
      h.clock.t += 2 * HOUR;
      await h.registry.gc.collect();
      const before = await snapshot(h);
      h.clock.t += 1000;
      const wrong = blob('not what the digest says');
      for (const claimed of [sha256(blob('never uploaded')), sha256(existing)]) {
        await assert.rejects(h.registry.uploads.monolithic(repo, claimed, Readable.from([wrong]), { length: wrong.length }), rejectsWithCode('DigestMismatch'));
        const { id } = await h.registry.uploads.start(repo);
        await h.registry.uploads.append(repo, id, Readable.from([wrong]));
        await assert.rejects(h.registry.uploads.complete(repo, id, claimed), rejectsWithCode('DigestMismatch'));
        await h.registry.uploads.cancel(repo, id);
      }
      assert.deepEqual(await snapshot(h), before, 'no row created, no touch time moved, no candidate queued');
    });

    it('a dry run decides without changing anything, and reports what the pass then does', async (h) => {
      const repo = await h.repo('dry/app');
      const config = blob('dry config');
      const layers = [blob('dry 1'), blob('dry 2')];
      const digest = await h.pushImage(repo, 'v1', config, layers);
      await h.pushBlob(repo, blob('dry loose'));
      h.clock.t += 2 * HOUR;
      await h.registry.manifests.delete(repo, digest);
      h.clock.t += 2 * HOUR;
      const before = await snapshot(h);
      const dry = await h.registry.gc.collect({ dryRun: true });
      assert.deepEqual(await snapshot(h), before, 'nothing changed: rows, links, queue and storage');
      assert.deepEqual([dry.linksRemoved, dry.blobsRemoved], [4, 4]);
      const real = await h.registry.gc.collect();
      assert.deepEqual([real.linksRemoved, real.blobsRemoved, real.bytesFreed], [dry.linksRemoved, dry.blobsRemoved, dry.bytesFreed]);
      assert.ok(h.logs.some((l) => l.msg === 'garbage collection (dry run): bytes that would be reclaimed' && l.bytesFreed === dry.bytesFreed));
    });

    it('limit: a pass decides at most that many candidates; the rest stay queued', async (h) => {
      const repo = await h.repo('limit/app');
      for (let i = 0; i < 3; i++) await h.pushBlob(repo, blob(`limited ${i}`));
      h.clock.t += 2 * HOUR;
      const first = await h.registry.gc.collect({ limit: 2, batchSize: 1 });
      assert.equal(first.candidates, 2);
      const rest = await h.registry.gc.collect();
      assert.equal(first.blobsRemoved + rest.blobsRemoved, 3);
    });

    describe('races of ADR 0014, forced at the exact step', () => {
      it('the collector locks a link first: a manifest PUT referencing it waits, then answers MANIFEST_BLOB_UNKNOWN', async (h) => {
        const repo = await h.repo('race/put-second');
        const config = blob('late config');
        const layer = blob('late layer');
        await h.pushBlob(repo, config);
        await h.pushBlob(repo, layer);
        h.clock.t += 2 * HOUR;
        let put: Promise<unknown> | undefined;
        h.hooks.gcLinkLocked = async (repositoryId, digest) => {
          if (put !== undefined || repositoryId !== repo.id || digest !== sha256(layer)) return;
          put = h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(config, [layer]), OCI_MANIFEST);
          put.catch(() => undefined);
          assert.equal(await settlesWithin(put, 300), false, 'the PUT waits for the collector');
        };
        try {
          const r = await h.registry.gc.collect();
          assert.ok(r.linksRemoved >= 1);
        } finally {
          delete h.hooks.gcLinkLocked;
        }
        assert.ok(put !== undefined);
        await assert.rejects(put, rejectsWithCode('ManifestBlobUnknown'));
        assert.equal(await h.meta.manifests.count(repo.id), 0, 'nothing was stored');
      });

      it('a manifest PUT locks its links first: the collector waits, then sees the references and keeps everything', async (h) => {
        const repo = await h.repo('race/put-first');
        const config = blob('put-first config');
        const layer = blob('put-first layer');
        await h.pushBlob(repo, config);
        await h.pushBlob(repo, layer);
        h.clock.t += 2 * HOUR;
        let collect: Promise<{ linksRemoved: number; blobsRemoved: number }> | undefined;
        h.hooks.manifestLinksLocked = async () => {
          collect = h.registry.gc.collect();
          collect.catch(() => undefined);
          assert.equal(await settlesWithin(collect, 300), false, 'the collector waits for the PUT');
        };
        try {
          await h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(config, [layer]), OCI_MANIFEST);
        } finally {
          delete h.hooks.manifestLinksLocked;
        }
        assert.ok(collect !== undefined);
        const r = await collect;
        assert.deepEqual([r.linksRemoved, r.blobsRemoved], [0, 0]);
        await h.pull(repo, 'v1', [config, layer]);
      });

      it('an upload of a digest the collector is deleting waits for it, then stores the bytes again', async (h) => {
        const repo = await h.repo('race/upload-second');
        const data = blob('collected then uploaded');
        const digest = await h.pushBlob(repo, data);
        h.clock.t += 2 * HOUR;
        await h.registry.blobs.delete(repo, digest);
        let upload: Promise<unknown> | undefined;
        h.hooks.gcBlobLocked = async (d) => {
          if (d !== digest || upload !== undefined) return;
          upload = h.pushBlob(repo, data);
          upload.catch(() => undefined);
          assert.equal(await settlesWithin(upload, 300), false, "the upload's touch waits for the collector");
        };
        let r;
        try {
          r = await h.registry.gc.collect();
        } finally {
          delete h.hooks.gcBlobLocked;
        }
        assert.equal(r.blobsRemoved, 1, 'the collector deleted it (bytes and row)');
        assert.ok(upload !== undefined);
        await upload;
        assert.ok(await h.stored(digest), 'the upload wrote the bytes again');
        assert.notEqual(await h.meta.blobs.getInRepository(repo.id, digest), undefined);
        await h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(data, []), OCI_MANIFEST);
        h.clock.t += 2 * HOUR;
        await h.registry.gc.collect();
        await h.pull(repo, 'v1', [data]);
      });

      it('an upload that touched the row first: the collector sees the touch and keeps the bytes the upload finds in place', async (h) => {
        const repo = await h.repo('race/upload-first');
        const data = blob('touched first');
        const digest = await h.pushBlob(repo, data);
        h.clock.t += 2 * HOUR;
        await h.registry.blobs.delete(repo, digest);
        // The upload touches the row, then a whole pass runs before it places its bytes.
        const uploadWithPassAfterTouch = async (mode: 'monolithic' | 'chunked'): Promise<number[]> => {
          const removed: number[] = [];
          h.hooks.uploadTouched = async (d) => {
            if (d === digest) removed.push((await h.registry.gc.collect()).blobsRemoved);
          };
          try {
            await h.pushBlob(repo, data, mode);
          } finally {
            delete h.hooks.uploadTouched;
          }
          return removed;
        };
        assert.deepEqual(await uploadWithPassAfterTouch('monolithic'), [0], 'the touched blob is kept');
        assert.ok(await h.stored(digest));
        h.clock.t += 2 * HOUR;
        await h.registry.blobs.delete(repo, digest);
        assert.deepEqual(await uploadWithPassAfterTouch('chunked'), [0], 'chunked: the touched blob is kept');
        assert.ok(await h.stored(digest));
        await h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(data, []), OCI_MANIFEST);
        await h.pull(repo, 'v1', [data]);
      });

      it('an upload slower than the grace period loses its bytes to the collector: it fails, nothing is linked, uploading again works', async (h) => {
        const repo = await h.repo('race/slow-upload');
        const data = blob('slow upload');
        const digest = sha256(data);
        h.hooks.uploadPlaced = async (d) => {
          if (d !== digest) return;
          h.clock.t += 2 * HOUR;
          const r = await h.registry.gc.collect();
          assert.equal(r.blobsRemoved, 1, 'the untouched, unlinked row and its bytes go');
        };
        try {
          await assert.rejects(h.pushBlob(repo, data), rejectsWithCode('BlobUploadUnknown'));
        } finally {
          delete h.hooks.uploadPlaced;
        }
        assert.equal(await h.meta.blobs.getInRepository(repo.id, digest), undefined, 'no link to a row without bytes');
        assert.equal(await h.meta.blobs.getRow(digest), undefined, 'and no row re-created without its bytes');
        assert.deepEqual(await h.meta.db.selectFrom('uploads').select('id').execute(), [], 'the session ended');
        await h.pushBlob(repo, data);
        assert.ok(await h.stored(digest));
        await h.registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(data, []), OCI_MANIFEST);
        await h.pull(repo, 'v1', [data]);
        h.clock.t += 2 * HOUR;
        await h.registry.gc.collect();
        await h.pull(repo, 'v1', [data]);
      });

      it('a mount while the source link is being collected: either the mount happens and keeps the blob, or it does not', async (h) => {
        const from = await h.repo('race/mount-from');
        const to = await h.repo('race/mount-to');
        const data = blob('mounted');
        const digest = await h.pushBlob(from, data);
        h.clock.t += 2 * HOUR;
        let mount: Promise<unknown> | undefined;
        h.hooks.gcLinkLocked = async (repositoryId, d) => {
          if (repositoryId !== from.id || d !== digest || mount !== undefined) return;
          mount = h.registry.blobs.mount(to, digest, from);
          mount.catch(() => undefined);
          await sleep(200);
        };
        try {
          await h.registry.gc.collect();
        } finally {
          delete h.hooks.gcLinkLocked;
        }
        assert.ok(mount !== undefined);
        const mounted = await mount;
        if (mounted !== null) {
          // PostgreSQL: the mount read the source link before the collector's delete committed.
          await h.registry.manifests.put({ accountId: ACCOUNT, name: to.name }, 'v1', manifestOf(data, []), OCI_MANIFEST);
          h.clock.t += 2 * HOUR;
          await h.registry.gc.collect();
          assert.ok(await h.stored(digest), 'the mounted blob stays');
          await h.pull(to, 'v1', [data]);
        } else {
          // The mount came after the delete: the client uploads instead.
          assert.equal(await h.meta.blobs.getInRepository(to.id, digest), undefined);
          await h.pushImage(to, 'v1', data, []);
          await h.pull(to, 'v1', [data]);
        }
      });

      it('a mount touches the blob: the collector deciding it afterwards keeps it', async (h) => {
        const from = await h.repo('race/mount-touch-from');
        const to = await h.repo('race/mount-touch-to');
        const data = blob('mount touch');
        const digest = await h.pushBlob(from, data);
        h.clock.t += 2 * HOUR;
        assert.notEqual(await h.registry.blobs.mount(to, digest, from), null);
        await h.registry.blobs.delete(from, digest);
        const r = await h.registry.gc.collect();
        assert.equal(r.blobsRemoved, 0, 'linked in the mount target');
        assert.equal((await h.meta.blobs.getRow(digest))?.touchedAt, h.clock.t);
        // Unused in the target too, a grace period after the mount the link and then the blob go.
        h.clock.t += HOUR;
        const later = await h.registry.gc.collect();
        assert.deepEqual([later.linksRemoved, later.blobsRemoved], [1, 1]);
        assert.equal(await h.registry.blobs.mount(to, digest, from), null);
      });
    });

    describe('crashes', () => {
      it('a decision that dies before its commit leaves the entry queued; the next pass decides it again', async (h) => {
        const repo = await h.repo('crash/mid-decision');
        const data = blob('crash');
        const digest = await h.pushBlob(repo, data);
        h.clock.t += 2 * HOUR;
        await h.registry.blobs.delete(repo, digest);
        h.hooks.gcBlobLocked = async (d) => {
          if (d === digest) throw new Error('the process died');
        };
        try {
          const r = await h.registry.gc.collect();
          assert.equal(r.blobsRemoved, 0);
        } finally {
          delete h.hooks.gcBlobLocked;
        }
        assert.notEqual(await h.meta.gcQueue.get({ kind: 'blob', repositoryId: 0, digest }), undefined, 'still queued');
        assert.ok(await h.stored(digest));
        const r = await h.registry.gc.collect();
        assert.equal(r.blobsRemoved, 1);
        assert.equal(await h.stored(digest), false);
      });

      it('bytes deleted but the row not (a crash between the storage delete and the commit): the next pass finishes', async (h) => {
        const repo = await h.repo('crash/after-bytes');
        const data = blob('half collected');
        const digest = await h.pushBlob(repo, data);
        h.clock.t += 2 * HOUR;
        await h.registry.blobs.delete(repo, digest);
        await h.storage.delete(blobKey(digest));
        const r = await h.registry.gc.collect();
        assert.equal(r.blobsRemoved, 1);
        assert.equal(await h.meta.blobs.getRow(digest), undefined);
      });

      it('entries decided already, queued again, are decided again harmlessly', async (h) => {
        const repo = await h.repo('crash/replayed');
        const config = blob('replayed config');
        const layer = blob('replayed layer');
        await h.pushImage(repo, 'v1', config, [layer]);
        const loose = await h.pushBlob(repo, blob('replayed loose'));
        h.clock.t += 2 * HOUR;
        assert.equal((await h.registry.gc.collect()).blobsRemoved, 1);
        const candidates = [sha256(config), sha256(layer), loose].flatMap((digest) => [
          { kind: 'link' as const, repositoryId: repo.id, digest },
          { kind: 'blob' as const, repositoryId: 0, digest },
        ]);
        await h.meta.gcQueue.add(candidates, 0);
        const r = await h.registry.gc.collect();
        assert.deepEqual([r.linksRemoved, r.blobsRemoved], [0, 0]);
        assert.ok(r.candidates >= candidates.length);
        assert.equal(await h.meta.gcQueue.count(), 0);
        await h.pull(repo, 'v1', [config, layer]);
      });

      it('a process that dies between the touch and the bytes leaves a row the collector removes later', async (h) => {
        const repo = await h.repo('crash/after-touch');
        const data = blob('never placed');
        const digest = sha256(data);
        h.hooks.uploadTouched = async () => {
          throw new Error('the process died');
        };
        try {
          await assert.rejects(h.pushBlob(repo, data), /the process died/);
        } finally {
          delete h.hooks.uploadTouched;
        }
        assert.notEqual(await h.meta.blobs.getRow(digest), undefined, 'the touch stays');
        assert.equal(await h.stored(digest), false);
        assert.equal((await h.registry.gc.collect()).blobsRemoved, 0, 'within the grace period');
        h.clock.t += 2 * HOUR;
        assert.equal((await h.registry.gc.collect()).blobsRemoved, 1);
        assert.equal(await h.meta.blobs.getRow(digest), undefined);
      });
    });

    it('full: storage objects no row knows and garbage that was never queued are found', async (h) => {
      const repo = await h.repo('full/app');
      const config = blob('full config');
      await h.pushImage(repo, 'v1', config, []);
      // An object written by a process that died before its row (before ADR 0014), and a row left
      // unlinked without a candidate (before the queue existed).
      const orphan = blob('orphan object');
      await h.storage.put(blobKey(sha256(orphan)), orphan);
      const unqueued = blob('unqueued');
      await h.storage.put(blobKey(sha256(unqueued)), unqueued);
      await h.meta.blobs.put(sha256(unqueued), unqueued.length, h.clock.t);
      h.clock.t += 2 * HOUR;
      const before = await snapshot(h);
      const dry = await h.registry.gc.full({ dryRun: true });
      assert.equal(dry.orphansRemoved, 1);
      assert.deepEqual(await snapshot(h), before);
      const r = await h.registry.gc.full();
      assert.equal(r.orphansRemoved, 1);
      assert.equal(r.orphanBytes, orphan.length);
      assert.equal(r.blobsRemoved, 1);
      assert.equal(await h.stored(sha256(orphan)), false);
      assert.equal(await h.stored(sha256(unqueued)), false);
      await h.pull(repo, 'v1', [config]);
    });
  });
}

/** Rows, links, queue and storage keys, for "nothing changed". */
async function snapshot(h: Harness): Promise<unknown> {
  const db = h.meta.db;
  const blobs = await db.selectFrom('blobs').selectAll().orderBy('digest').execute();
  const links = await db.selectFrom('repository_blobs').selectAll().orderBy('repository_id').orderBy('digest').execute();
  const queue = await db.selectFrom('gc_queue').selectAll().orderBy('kind').orderBy('repository_id').orderBy('digest').execute();
  const keys: string[] = [];
  for await (const k of h.storage.list('blobs/')) keys.push(k);
  return { blobs, links, queue, keys: keys.sort() };
}

describe('migration 0008_gc', () => {
  for (const database of DATABASES) {
    test(`${database}: touched_at from created_at, and garbage that predates the queue becomes candidates`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-gc-mig-'));
      const pgdb = database === 'postgres' ? await createTempPostgresDatabase() : undefined;
      try {
        // Migrate up to 0007 only, with a database opened as the stores open it.
        const upTo7: MigrationProvider = {
          async getMigrations() {
            const all = await migrationProvider(database).getMigrations();
            return Object.fromEntries(Object.entries(all).filter(([name]) => name < '0008'));
          },
        };
        let db: Kysely<unknown>;
        let close: () => Promise<void>;
        if (database === 'postgres') {
          const meta0 = await openPostgresRaw(pgdb?.url ?? '');
          db = meta0.db;
          close = meta0.close;
        } else {
          const meta0 = await openSqliteRaw(join(dir, 'berth.db'));
          db = meta0.db;
          close = meta0.close;
        }
        const migrator = new Migrator({ db, provider: upTo7, migrationTableName: 'berth_migrations', migrationLockTableName: 'berth_migrations_lock' });
        const { error } = await migrator.migrateToLatest();
        assert.equal(error, undefined);
        const [used, unused, unlinked] = [sha256('used'), sha256('unused'), sha256('unlinked')];
        const manifest = sha256('manifest');
        const { sql } = await import('kysely');
        await sql`insert into accounts (id, created_at) values (${ACCOUNT}, 1)`.execute(db);
        await sql`insert into repositories (account_id, name, created_at) values (${ACCOUNT}, 'app', 1)`.execute(db);
        for (const [i, d] of [used, unused, unlinked].entries()) await sql`insert into blobs (digest, size, created_at) values (${d}, 10, ${1000 + i})`.execute(db);
        for (const d of [used, unused]) await sql`insert into repository_blobs (repository_id, digest, created_at) values (1, ${d}, 5)`.execute(db);
        await sql`insert into manifests (repository_id, digest, media_type, size, body, pushed_at) values (1, ${manifest}, ${OCI_MANIFEST}, 2, ${Buffer.from('{}')}, 5)`.execute(db);
        await sql`insert into manifest_references (repository_id, parent_digest, child_digest, kind) values (1, ${manifest}, ${used}, 'blob')`.execute(db);
        await close();
        const meta = database === 'postgres' ? await openPostgres({ url: pgdb?.url ?? '' }) : await openSqlite({ path: join(dir, 'berth.db') });
        try {
          for (const [i, d] of [used, unused, unlinked].entries()) assert.equal((await meta.blobs.getRow(d))?.touchedAt, 1000 + i);
          assert.deepEqual(
            (await meta.gcQueue.due(0, 10)).map((e) => [e.kind, e.repositoryId, e.digest]),
            [
              ['blob', 0, unlinked],
              ['link', 1, unused],
            ],
          );
        } finally {
          await meta.close();
        }
      } finally {
        await pgdb?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

async function openSqliteRaw(path: string): Promise<{ db: Kysely<unknown>; close: () => Promise<void> }> {
  const { DatabaseSync } = await import('node:sqlite');
  const { SqliteDialect } = await import('kysely');
  const raw = new DatabaseSync(path, { enableForeignKeyConstraints: true });
  const stmtOf = (s: string) => {
    const st = raw.prepare(s);
    return {
      reader: st.columns().length > 0,
      all: (p: readonly unknown[]) => st.all(...(p.map((v) => (v === undefined ? null : v)) as Array<string | number | null | Uint8Array>)),
      run: (p: readonly unknown[]) => {
        const r = st.run(...(p.map((v) => (v === undefined ? null : v)) as Array<string | number | null | Uint8Array>));
        return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
      },
      iterate: (p: readonly unknown[]) => st.iterate(...(p.map((v) => (v === undefined ? null : v)) as Array<string | number | null | Uint8Array>)),
    };
  };
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: { close: () => raw.close(), prepare: stmtOf } }) });
  return { db, close: async () => await db.destroy() };
}

async function openPostgresRaw(url: string): Promise<{ db: Kysely<unknown>; close: () => Promise<void> }> {
  const pg = (await import('pg')).default;
  const { PostgresDialect } = await import('kysely');
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }) });
  return { db, close: async () => await db.destroy() };
}

describe('berth gc', () => {
  for (const database of DATABASES) {
    test(`${database}: --dry-run reports and changes nothing; a pass frees; --full removes objects no row knows`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-gc-cli-'));
      const pgdb = database === 'postgres' ? await createTempPostgresDatabase() : undefined;
      const env: Record<string, string> = {
        BERTH_DATA_DIR: dir,
        BERTH_GC_GRACE_PERIOD: '0',
        BERTH_STORAGE_FILESYSTEM_FSYNC: 'false',
        BERTH_LOG_LEVEL: 'silent',
        ...(pgdb !== undefined ? { BERTH_DATABASE_DRIVER: 'postgres', BERTH_DATABASE_POSTGRES_URL: pgdb.url } : {}),
      };
      try {
        const config = loadConfig({ env });
        const { openMeta, openStorage } = await import('../../src/app/stores.ts');
        const meta = await openMeta(config);
        const storage = await openStorage(config);
        const blobs = new BlobStore(storage);
        const registry = new Registry({ meta, blobs, uploads: new UploadStore(storage, blobs), now: () => Date.now() - 1000, log: pino({ level: 'silent' }) }, { gc: { gracePeriodSeconds: 0 } });
        await meta.accounts.ensure(ACCOUNT, 1);
        const repo = (await meta.repositories.ensure(ACCOUNT, 'cli/app', 1)).repository;
        const kept = blob('cli kept');
        const garbage = blob('cli garbage', 5000);
        for (const b of [kept, garbage]) await registry.uploads.monolithic(repo, sha256(b), Readable.from([b]), { length: b.length });
        await registry.manifests.put({ accountId: ACCOUNT, name: repo.name }, 'v1', manifestOf(kept, []), OCI_MANIFEST);
        const orphan = blob('cli orphan', 500);
        await storage.put(blobKey(sha256(orphan)), orphan);
        await meta.close();

        const run = async (args: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
          const out: string[] = [];
          const err: string[] = [];
          const code = await gcCommand(args, env, (l) => out.push(l), (l) => err.push(l));
          return { code, out, err };
        };
        const dry = await run(['--dry-run']);
        assert.equal(dry.code, 0, dry.err.join('\n'));
        assert.match(dry.out.join('\n'), /dry run.*1 link and 1 blob would be removed/);
        assert.match(dry.out.join('\n'), new RegExp(`${garbage.length} bytes\\) would be freed`));
        assert.ok(await storage.stat(blobKey(sha256(garbage))), 'the dry run removed nothing');
        const pass = await run([]);
        assert.equal(pass.code, 0, pass.err.join('\n'));
        assert.match(pass.out.join('\n'), /1 link and 1 blob removed/);
        assert.equal(await storage.stat(blobKey(sha256(garbage))), null);
        assert.ok(await storage.stat(blobKey(sha256(orphan))), 'a pass does not walk the storage');
        const full = await run(['--full']);
        assert.equal(full.code, 0, full.err.join('\n'));
        assert.match(full.out.join('\n'), /1 storage object without a database row removed/);
        assert.equal(await storage.stat(blobKey(sha256(orphan))), null);
        assert.ok(await storage.stat(blobKey(sha256(kept))), 'what a manifest uses stays');
        const usage = await run(['--bogus']);
        assert.equal(usage.code, 2);
        assert.match(usage.err.join('\n'), /berth gc/);
      } finally {
        await pgdb?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('through /v2/ (the composed app)', () => {
  for (const database of DATABASES) {
    test(`${database}: a manifest PUT after the collector removed a blob answers MANIFEST_BLOB_UNKNOWN; uploading it again works`, async () => {
      const t = await startApp(database);
      try {
        const repo = 'http/app';
        const config = blob('http config');
        const layer = blob('http layer', 4096);
        const upload = async (b: Buffer): Promise<number> => (await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${sha256(b)}`, { method: 'POST', body: b })).status;
        const put = async (): Promise<Response> =>
          await t.fetch(`/v2/${repo}/manifests/v1`, { method: 'PUT', body: manifestOf(config, [layer]), headers: { 'content-type': OCI_MANIFEST } });
        assert.equal(await upload(config), 201);
        assert.equal(await upload(layer), 201);
        t.clock.t += 2 * HOUR;
        const r = await t.app.registry.gc.collect();
        assert.equal(r.blobsRemoved, 2);
        const refused = await put();
        assert.equal(refused.status, 400);
        const body = (await refused.json()) as { errors: Array<{ code: string }> };
        assert.equal(body.errors[0]?.code, 'MANIFEST_BLOB_UNKNOWN');
        assert.equal((await t.fetch(`/v2/${repo}/blobs/${sha256(layer)}`, { method: 'HEAD' })).status, 404);
        assert.equal(await upload(config), 201);
        assert.equal(await upload(layer), 201);
        assert.equal((await put()).status, 201);
        const got = await t.fetch(`/v2/${repo}/blobs/${sha256(layer)}`);
        assert.equal(got.status, 200);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(layer));
        // Deleting the image through /v2/: its blobs are collected a grace period later.
        const digest = sha256(manifestOf(config, [layer]));
        assert.equal((await t.fetch(`/v2/${repo}/manifests/${digest}`, { method: 'DELETE' })).status, 202);
        assert.equal((await t.app.registry.gc.collect()).blobsRemoved, 0);
        t.clock.t += 2 * HOUR;
        assert.equal((await t.app.registry.gc.collect()).blobsRemoved, 2);
        assert.equal((await t.fetch(`/v2/${repo}/blobs/${sha256(layer)}`)).status, 404);
      } finally {
        await t.close();
      }
    });
  }
});

interface StartedApp extends TestApp {
  clock: { t: number };
}

/** The composed app with an injected clock, listening on loopback (its background jobs not started). */
async function startApp(database: 'sqlite' | 'postgres'): Promise<StartedApp> {
  const clock = { t: Date.now() };
  const t = await startTestApp({ database, now: () => clock.t, jobs: false, env: { BERTH_STORAGE_FILESYSTEM_FSYNC: 'false', BERTH_GC_GRACE_PERIOD: '1h' } });
  return { ...t, clock };
}
