import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { digestOf } from '../core/digest.ts';
import { BlobStore } from './blob-store.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { collectKeys } from './driver.suite.ts';
import { FsDriver } from './drivers/fs.ts';
import { MemoryDriver } from './drivers/memory.ts';
import { blobKey, uploadDataKey } from './paths.ts';

interface Fixture {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

const DRIVERS: Array<{ name: string; make: () => Promise<Fixture> }> = [
  { name: 'memory', make: async () => ({ driver: new MemoryDriver(), cleanup: async () => undefined }) },
  {
    name: 'filesystem',
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'berth-blobstore-'));
      return { driver: new FsDriver({ root: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];

async function readBlob(blobs: BlobStore, digest: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await blobs.open(digest, range)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

for (const { name, make } of DRIVERS) {
  describe(`BlobStore over ${name}`, () => {
    const withStore = (fn: (blobs: BlobStore, driver: StorageDriver) => Promise<void>) => async (): Promise<void> => {
      const fixture = await make();
      try {
        await fn(new BlobStore(fixture.driver), fixture.driver);
      } finally {
        await fixture.cleanup();
      }
    };

    test('ingest moves the source into place at the digest key', withStore(async (blobs, driver) => {
      const content = Buffer.from('layer bytes');
      const digest = digestOf(content);
      const source = uploadDataKey('upload-aaaaaaaa');
      assert.equal(await blobs.stat(digest), null);
      await driver.put(source, content);
      await blobs.ingest(source, digest);
      assert.deepEqual(await blobs.stat(digest), { size: content.length });
      assert.ok((await readBlob(blobs, digest)).equals(content));
      assert.equal(await driver.stat(source), null, 'the source is gone');
      assert.deepEqual(await collectKeys(driver.list('blobs/')), [blobKey(digest)]);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
    }));

    test('ingest of a digest already stored discards the duplicate: one copy per digest', withStore(async (blobs, driver) => {
      const content = Buffer.from('same content twice');
      const digest = digestOf(content);
      await driver.put(uploadDataKey('upload-11111111'), content);
      await blobs.ingest(uploadDataKey('upload-11111111'), digest);
      const firstModified = (await driver.stat(blobKey(digest)))?.modifiedAt;
      await driver.put(uploadDataKey('upload-22222222'), content);
      await blobs.ingest(uploadDataKey('upload-22222222'), digest);
      assert.equal(await driver.stat(uploadDataKey('upload-22222222')), null, 'the duplicate source is discarded');
      assert.deepEqual(await collectKeys(driver.list('blobs/')), [blobKey(digest)]);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
      assert.equal((await driver.stat(blobKey(digest)))?.modifiedAt, firstModified, 'the stored copy was not rewritten');
      assert.ok((await readBlob(blobs, digest)).equals(content));
    }));

    test('ingest of an absent source fails and stores nothing', withStore(async (blobs, driver) => {
      const digest = digestOf('never uploaded');
      await assert.rejects(blobs.ingest(uploadDataKey('upload-33333333'), digest), (e: unknown) => isNotFound(e));
      assert.equal(await blobs.stat(digest), null);
      assert.deepEqual(await collectKeys(driver.list('blobs/')), []);
    }));

    test('open serves ranges; absent blobs are NotFoundError; delete removes the bytes', withStore(async (blobs, driver) => {
      const content = Buffer.from('0123456789');
      const digest = digestOf(content, 'sha512');
      await driver.put('staging/x', content);
      await blobs.ingest('staging/x', digest);
      assert.equal((await readBlob(blobs, digest, { start: 2, end: 4 })).toString(), '234');
      assert.equal((await readBlob(blobs, digest, { start: 9, end: 9 })).toString(), '9');
      const absent = digestOf('absent');
      assert.equal(await blobs.stat(absent), null);
      await assert.rejects(blobs.open(absent), (e: unknown) => isNotFound(e));
      await blobs.delete(digest);
      assert.equal(await blobs.stat(digest), null);
      await blobs.delete(digest);
      assert.deepEqual(await collectKeys(driver.list('blobs/')), []);
    }));

    test('copyTo writes the blob or a range to dest after onOpen and leaves dest open; absent blobs reject first', withStore(async (blobs, driver) => {
      const content = Buffer.from('0123456789abcdef');
      const digest = digestOf(content);
      await driver.put('staging/c', content);
      await blobs.ingest('staging/c', digest);
      for (const [range, expected] of [
        [undefined, '0123456789abcdef'],
        [{ start: 3, end: 6 }, '3456'],
        [{ start: 15, end: 15 }, 'f'],
      ] as const) {
        const received: Buffer[] = [];
        const events: string[] = [];
        const dest = new Writable({
          write(chunk: Buffer, _enc, cb) {
            events.push('data');
            received.push(Buffer.from(chunk));
            cb();
          },
        });
        await blobs.copyTo(digest, dest, range, () => events.push('open'));
        assert.equal(events[0], 'open');
        assert.equal(Buffer.concat(received).toString(), expected);
        assert.equal(dest.writableEnded, false);
        dest.end();
      }
      let opened = false;
      const dest = new Writable({ write: (_c, _e, cb) => cb() });
      await assert.rejects(
        blobs.copyTo(digestOf('absent'), dest, undefined, () => (opened = true)),
        (e: unknown) => isNotFound(e),
      );
      assert.equal(opened, false);
    }));

    test('presignGet is null for a driver without presigned URLs', withStore(async (blobs) => {
      assert.equal(await blobs.presignGet(digestOf('x'), 60), null);
    }));
  });
}
