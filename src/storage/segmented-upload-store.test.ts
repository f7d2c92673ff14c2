import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf, parseDigest } from '../core/digest.ts';
import { RegistryError, type ErrorCode } from '../core/errors.ts';
import { BlobStore } from './blob-store.ts';
import type { StorageDriver } from './driver.ts';
import { collectKeys, pattern } from './driver.suite.ts';
import { FsDriver } from './drivers/fs.ts';
import { MemoryDriver } from './drivers/memory.ts';
import { blobKey } from './paths.ts';
import { SegmentedUploadStore, type UploadStateRepo } from './segmented-upload-store.ts';

/** The uploads table, in memory: what several processes share through the database. */
class MemoryStateRepo implements UploadStateRepo {
  readonly rows = new Map<string, { size: number; state: string | null; version: number }>();
  add(id: string): void {
    this.rows.set(id, { size: 0, state: null, version: 0 });
  }
  async load(id: string): Promise<{ size: number; state: string | null; version: number } | undefined> {
    const r = this.rows.get(id);
    return r === undefined ? undefined : { ...r };
  }
  async save(id: string, size: number, state: string, version: number): Promise<boolean> {
    const r = this.rows.get(id);
    if (r === undefined || r.version !== version) return false;
    this.rows.set(id, { size, state, version: version + 1 });
    return true;
  }
}

function registryError(code: ErrorCode): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `expected a RegistryError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

const DRIVERS: Array<{ name: string; make: () => Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }> }> = [
  { name: 'memory', make: async () => ({ driver: new MemoryDriver(), cleanup: async () => undefined }) },
  {
    name: 'filesystem',
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'berth-segmented-'));
      return { driver: new FsDriver({ root: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];

for (const { name, make } of DRIVERS) {
  describe(`SegmentedUploadStore over ${name}`, () => {
    const setup = async (): Promise<{ a: SegmentedUploadStore; b: SegmentedUploadStore; repo: MemoryStateRepo; driver: StorageDriver; blobs: BlobStore; cleanup: () => Promise<void> }> => {
      const { driver, cleanup } = await make();
      const blobs = new BlobStore(driver);
      const repo = new MemoryStateRepo();
      // Two stores over the same storage and table: two processes.
      return { a: new SegmentedUploadStore(driver, blobs, repo), b: new SegmentedUploadStore(driver, blobs, repo), repo, driver, blobs, cleanup };
    };

    test('chunks taken by different processes in turn give the right blob, without rereading any byte', async () => {
      const { a, b, repo, driver, blobs, cleanup } = await setup();
      try {
        const id = randomUUID();
        repo.add(id);
        const parts = [pattern(700_000, 1), pattern(300_001, 2), pattern(12, 3), pattern(2_000_000, 4)];
        let reads = 0;
        const reader = driver.reader.bind(driver);
        driver.reader = async (key, range) => {
          reads++;
          return await reader(key, range);
        };
        assert.equal(await a.append(id, Readable.from([parts[0] as Buffer]), { expectedOffset: 0 }), 700_000);
        assert.equal(await b.append(id, Readable.from([parts[1] as Buffer]), { expectedOffset: 700_000 }), 1_000_001);
        assert.equal(await a.append(id, Readable.from([parts[2] as Buffer])), 1_000_013);
        assert.equal(await b.size(id), 1_000_013);
        assert.equal(await b.append(id, Readable.from([parts[3] as Buffer]), { expectedOffset: 1_000_013 }), 3_000_013);
        const whole = Buffer.concat(parts);
        const digest = digestOf(whole);
        assert.deepEqual(await a.finish(id, parseDigest(digest)), { size: whole.length });
        assert.equal(reads, 0, 'no stored byte was read back to hash');
        assert.ok((await driver.get(blobKey(digest))).equals(whole));
        assert.deepEqual(await blobs.stat(digest), { size: whole.length });
        assert.deepEqual(await collectKeys(driver.list('uploads/')), [], 'the segments are gone');
      } finally {
        await cleanup();
      }
    });

    test('one segment becomes the blob by a move; no segments give the empty blob', async () => {
      const { a, repo, driver, cleanup } = await setup();
      try {
        const id = randomUUID();
        repo.add(id);
        await a.append(id, Readable.from([Buffer.from('only chunk')]));
        await a.finish(id, parseDigest(digestOf('only chunk')));
        assert.equal((await driver.get(blobKey(digestOf('only chunk')))).toString(), 'only chunk');
        const empty = randomUUID();
        repo.add(empty);
        assert.deepEqual(await a.finish(empty, parseDigest(digestOf(''))), { size: 0 });
        assert.equal((await driver.get(blobKey(digestOf('')))).length, 0);
      } finally {
        await cleanup();
      }
    });

    test('a chunk at the wrong offset is 416 and stores nothing; a wrong digest leaves the upload completable', async () => {
      const { a, b, repo, driver, cleanup } = await setup();
      try {
        const id = randomUUID();
        repo.add(id);
        await a.append(id, Readable.from([Buffer.from('abc')]));
        await assert.rejects(b.append(id, Readable.from([Buffer.from('zzz')]), { expectedOffset: 0 }), registryError('ChunkOutOfOrder'));
        await assert.rejects(b.append(id, Readable.from([Buffer.from('zzz')]), { expectedOffset: 2 }), registryError('ChunkOutOfOrder'));
        assert.equal((await collectKeys(driver.list(`uploads/${id}/`))).length, 1, 'only the first segment');
        await assert.rejects(a.append(id, Readable.from([Buffer.from('de')]), { length: 3 }), registryError('SizeInvalid'));
        assert.equal(await a.size(id), 3);
        await assert.rejects(b.finish(id, parseDigest(digestOf('abd'))), registryError('DigestMismatch'));
        assert.equal(await driver.stat(blobKey(digestOf('abd'))), null);
        await b.append(id, Readable.from([Buffer.from('def')]));
        assert.deepEqual(await a.finish(id, parseDigest(digestOf('abcdef'))), { size: 6 });
      } finally {
        await cleanup();
      }
    });

    test('two processes appending at the same offset: one wins, the other gets 416 and its segment is removed', async () => {
      const { a, b, repo, driver, cleanup } = await setup();
      try {
        const id = randomUUID();
        repo.add(id);
        const results = await Promise.allSettled([
          a.append(id, Readable.from([pattern(100_000, 5)]), { expectedOffset: 0 }),
          b.append(id, Readable.from([pattern(100_000, 6)]), { expectedOffset: 0 }),
        ]);
        const ok = results.filter((r) => r.status === 'fulfilled');
        const no = results.filter((r) => r.status === 'rejected');
        assert.equal(ok.length, 1);
        assert.equal(no.length, 1);
        assert.ok(registryError('ChunkOutOfOrder')((no[0] as PromiseRejectedResult).reason));
        assert.equal(await a.size(id), 100_000);
        assert.equal((await collectKeys(driver.list(`uploads/${id}/`))).length, 1);
        const winner = results[0]?.status === 'fulfilled' ? pattern(100_000, 5) : pattern(100_000, 6);
        await b.finish(id, parseDigest(digestOf(winner)));
      } finally {
        await cleanup();
      }
    });

    test('sha512 completion after sha256 chunks rehashes the segments; a corrupt saved state is rebuilt', async () => {
      const { a, b, repo, cleanup } = await setup();
      try {
        const id = randomUUID();
        repo.add(id);
        await a.append(id, Readable.from([Buffer.from('hello ')]));
        await b.append(id, Readable.from([Buffer.from('world')]));
        assert.deepEqual(await b.finish(id, parseDigest(digestOf('hello world', 'sha512'))), { size: 11 });
        const id2 = randomUUID();
        repo.add(id2);
        await a.append(id2, Readable.from([Buffer.from('resume ')]));
        const row = repo.rows.get(id2);
        assert.ok(row?.state !== null && row !== undefined);
        const st = JSON.parse(row.state ?? '{}') as { hash: string };
        repo.rows.set(id2, { ...row, state: JSON.stringify({ ...st, hash: Buffer.from('garbage').toString('base64') }) });
        await b.append(id2, Readable.from([Buffer.from('me')]));
        assert.deepEqual(await a.finish(id2, parseDigest(digestOf('resume me'))), { size: 9 });
      } finally {
        await cleanup();
      }
    });

    test('an unknown upload is BLOB_UPLOAD_UNKNOWN; delete removes the segments', async () => {
      const { a, repo, driver, cleanup } = await setup();
      try {
        await assert.rejects(a.append(randomUUID(), Readable.from([Buffer.from('x')])), registryError('BlobUploadUnknown'));
        const id = randomUUID();
        repo.add(id);
        await a.append(id, Readable.from([Buffer.from('x')]));
        await a.delete(id);
        assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
      } finally {
        await cleanup();
      }
    });
  });
}
