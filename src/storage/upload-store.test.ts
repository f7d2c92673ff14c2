import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { digestOf, parseDigest } from '../core/digest.ts';
import { RegistryError, type ErrorCode } from '../core/errors.ts';
import { BlobStore } from './blob-store.ts';
import type { StorageDriver } from './driver.ts';
import { collectKeys, pattern } from './driver.suite.ts';
import { FsDriver } from './drivers/fs.ts';
import { MemoryDriver } from './drivers/memory.ts';
import { blobKey, uploadDataKey } from './paths.ts';
import { UploadStore } from './upload-store.ts';

interface Fixture {
  driver: StorageDriver;
  /** A driver over the same storage, as a restarted process (or another process) would open it. */
  reopen(): StorageDriver;
  cleanup(): Promise<void>;
}

const DRIVERS: Array<{ name: string; make: () => Promise<Fixture> }> = [
  {
    name: 'memory',
    make: async () => {
      const driver = new MemoryDriver();
      return { driver, reopen: () => driver, cleanup: async () => undefined };
    },
  },
  {
    name: 'filesystem',
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'berth-uploadstore-'));
      return { driver: new FsDriver({ root: dir }), reopen: () => new FsDriver({ root: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];

/** A source that yields its chunks one event-loop turn apart, so that concurrent appends could interleave. */
function slow(...chunks: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      for (const c of chunks) {
        await yieldToLoop();
        yield c;
      }
    })(),
  );
}

function failing(first: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield first;
      await yieldToLoop();
      throw new Error('client went away');
    })(),
  );
}

function registryError(code: ErrorCode, check?: (e: RegistryError) => void): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `expected a RegistryError, got ${String(e)}`);
    assert.equal(e.code, code);
    check?.(e);
    return true;
  };
}

async function readKey(driver: StorageDriver, key: string): Promise<Buffer> {
  return await driver.get(key);
}

for (const { name, make } of DRIVERS) {
  describe(`UploadStore over ${name}`, () => {
    const withStore =
      (fn: (ctx: { uploads: UploadStore; blobs: BlobStore; driver: StorageDriver; fixture: Fixture }) => Promise<void>) =>
      async (): Promise<void> => {
        const fixture = await make();
        try {
          const blobs = new BlobStore(fixture.driver);
          await fn({ uploads: new UploadStore(fixture.driver, blobs), blobs, driver: fixture.driver, fixture });
        } finally {
          await fixture.cleanup();
        }
      };

    test('create, append chunks and finish: the blob is verified and visible, the upload gone', withStore(async ({ uploads, blobs, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      assert.equal(await uploads.size(id), 0);
      assert.equal(await uploads.append(id, Readable.from([Buffer.from('hello ')])), 6);
      assert.equal(await uploads.size(id), 6);
      assert.equal(await uploads.append(id, slow(Buffer.from('wor'), Buffer.from('ld'))), 11);
      const digest = digestOf('hello world');
      assert.deepEqual(await uploads.finish(id, parseDigest(digest)), { size: 11 });
      assert.deepEqual(await blobs.stat(digest), { size: 11 });
      assert.equal((await readKey(driver, blobKey(digest))).toString(), 'hello world');
      assert.equal(await uploads.size(id), 0);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
    }));

    test('an empty upload finishes as the empty blob', withStore(async ({ uploads, blobs }) => {
      const id = randomUUID();
      await uploads.create(id);
      const digest = digestOf('');
      assert.deepEqual(await uploads.finish(id, parseDigest(digest)), { size: 0 });
      assert.deepEqual(await blobs.stat(digest), { size: 0 });
    }));

    test('append at the wrong expectedOffset is ChunkOutOfOrder (416, Range header) and changes nothing', withStore(async ({ uploads, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      await assert.rejects(
        uploads.append(id, Readable.from([Buffer.from('abc')]), { expectedOffset: 3 }),
        registryError('ChunkOutOfOrder', (e) => {
          assert.equal(e.status, 416);
          assert.deepEqual(e.headers, { Range: '0-0' });
        }),
      );
      assert.equal(await uploads.size(id), 0);
      assert.equal(await uploads.append(id, Readable.from([Buffer.from('abcde')]), { expectedOffset: 0 }), 5);
      for (const wrong of [0, 4, 6, 100]) {
        await assert.rejects(
          uploads.append(id, Readable.from([Buffer.from('zz')]), { expectedOffset: wrong }),
          registryError('ChunkOutOfOrder', (e) => {
            assert.equal(e.status, 416);
            assert.deepEqual(e.headers, { Range: '0-4' });
            assert.deepEqual(e.detail, { uploaded: 5 });
          }),
        );
      }
      assert.equal(await uploads.size(id), 5);
      assert.equal((await readKey(driver, uploadDataKey(id))).toString(), 'abcde');
      assert.equal(await uploads.append(id, Readable.from([Buffer.from('fg')]), { expectedOffset: 5 }), 7);
      await uploads.finish(id, parseDigest(digestOf('abcdefg')));
    }));

    test('a length mismatch is SizeInvalid and leaves the upload as it was', withStore(async ({ uploads, blobs, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      await uploads.append(id, Readable.from([Buffer.from('first')]));
      // More bytes than announced, and fewer.
      await assert.rejects(uploads.append(id, slow(Buffer.from('toolong'), Buffer.from('!')), { length: 4 }), registryError('SizeInvalid'));
      assert.equal(await uploads.size(id), 5);
      await assert.rejects(uploads.append(id, Readable.from([Buffer.from('ab')]), { length: 10 }), registryError('SizeInvalid'));
      assert.equal(await uploads.size(id), 5);
      assert.equal((await readKey(driver, uploadDataKey(id))).toString(), 'first');
      // The running hash did not keep the rejected bytes: the final digest is right.
      assert.equal(await uploads.append(id, Readable.from([Buffer.from('-second')]), { length: 7, expectedOffset: 5 }), 12);
      const digest = digestOf('first-second');
      assert.deepEqual(await uploads.finish(id, parseDigest(digest)), { size: 12 });
      assert.equal((await readKey(driver, blobKey(digest))).toString(), 'first-second');
      assert.equal(await blobs.stat(digestOf('firsttoolong!')), null);
    }));

    test('a source that fails mid-chunk leaves the upload as it was', withStore(async ({ uploads, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      await uploads.append(id, Readable.from([Buffer.from('kept')]));
      await assert.rejects(uploads.append(id, failing(pattern(256 * 1024, 4))), /client went away/);
      assert.equal(await uploads.size(id), 4);
      assert.equal((await readKey(driver, uploadDataKey(id))).toString(), 'kept');
      await uploads.append(id, Readable.from([Buffer.from('+more')]));
      await uploads.finish(id, parseDigest(digestOf('kept+more')));
    }));

    test('finish with the wrong digest is DigestMismatch: nothing visible, the upload still there', withStore(async ({ uploads, blobs, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      await uploads.append(id, Readable.from([Buffer.from('real content')]));
      const wrong = digestOf('other content');
      const right = digestOf('real content');
      await assert.rejects(
        uploads.finish(id, parseDigest(wrong)),
        registryError('DigestMismatch', (e) => assert.deepEqual(e.detail, { expected: wrong, actual: right })),
      );
      assert.equal(await blobs.stat(wrong), null);
      assert.equal(await blobs.stat(right), null);
      assert.deepEqual(await collectKeys(driver.list('blobs/')), []);
      assert.equal(await uploads.size(id), 12);
      assert.equal((await readKey(driver, uploadDataKey(id))).toString(), 'real content');
      // A sha512 mismatch as well, then the upload continues and finishes.
      await assert.rejects(uploads.finish(id, parseDigest(digestOf('x', 'sha512'))), registryError('DigestMismatch'));
      await uploads.append(id, Readable.from([Buffer.from('!')]));
      const final = digestOf('real content!');
      assert.deepEqual(await uploads.finish(id, parseDigest(final)), { size: 13 });
      assert.equal((await readKey(driver, blobKey(final))).toString(), 'real content!');
    }));

    test('finish with sha512 after sha256 appends rehashes the stored bytes', withStore(async ({ uploads, blobs, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      const a = pattern(1024 * 1024 + 3, 7);
      const b = pattern(5000, 8);
      await uploads.append(id, Readable.from([a]));
      await uploads.append(id, Readable.from([b]));
      const whole = Buffer.concat([a, b]);
      const digest = digestOf(whole, 'sha512');
      assert.deepEqual(await uploads.finish(id, parseDigest(digest)), { size: whole.length });
      assert.deepEqual(await blobs.stat(digest), { size: whole.length });
      assert.ok((await readKey(driver, blobKey(digest))).equals(whole));
    }));

    test('finish with sha256 after sha512 appends rehashes too', withStore(async ({ uploads, blobs }) => {
      const id = randomUUID();
      await uploads.create(id);
      await uploads.append(id, Readable.from([Buffer.from('abc')]), { algorithm: 'sha512' });
      await uploads.append(id, Readable.from([Buffer.from('def')]));
      const digest = digestOf('abcdef');
      await uploads.finish(id, parseDigest(digest));
      assert.deepEqual(await blobs.stat(digest), { size: 6 });
    }));

    test('a new UploadStore (a restart: no cached hash) continues the upload and finishes with the right digest', withStore(async ({ uploads, driver, fixture }) => {
      const id = randomUUID();
      await uploads.create(id);
      const parts = [pattern(700_000, 1), pattern(300_001, 2), pattern(12, 3)];
      await uploads.append(id, Readable.from([parts[0] as Buffer]));

      const driver2 = fixture.reopen();
      const blobs2 = new BlobStore(driver2);
      const restarted = new UploadStore(driver2, blobs2);
      assert.equal(await restarted.size(id), 700_000);
      assert.equal(await restarted.append(id, Readable.from([parts[1] as Buffer]), { expectedOffset: 700_000 }), 1_000_001);
      // The first instance's cached hash is now out of step with the stored bytes; it must notice.
      assert.equal(await uploads.append(id, Readable.from([parts[2] as Buffer]), { expectedOffset: 1_000_001 }), 1_000_013);
      const whole = Buffer.concat(parts);
      const digest = digestOf(whole);
      assert.deepEqual(await restarted.finish(id, parseDigest(digest)), { size: whole.length });
      assert.ok((await driver.get(blobKey(digest))).equals(whole));
      assert.equal(await uploads.size(id), 0);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
    }));

    test('concurrent appends with offsets that chain both succeed, in call order', withStore(async ({ uploads, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      const a = pattern(100_000, 1);
      const b = pattern(50_000, 2);
      const sizes = await Promise.all([
        uploads.append(id, slow(a.subarray(0, 50_000), a.subarray(50_000)), { expectedOffset: 0 }),
        uploads.append(id, slow(b.subarray(0, 10_000), b.subarray(10_000)), { expectedOffset: 100_000 }),
      ]);
      assert.deepEqual(sizes, [100_000, 150_000]);
      const whole = Buffer.concat([a, b]);
      assert.ok((await driver.get(uploadDataKey(id))).equals(whole));
      await uploads.finish(id, parseDigest(digestOf(whole)));
    }));

    test('concurrent appends at the same offset: exactly one wins, the other is ChunkOutOfOrder', withStore(async ({ uploads, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      const a = pattern(80_000, 3);
      const b = pattern(60_000, 4);
      const results = await Promise.allSettled([
        uploads.append(id, slow(a.subarray(0, 40_000), a.subarray(40_000)), { expectedOffset: 0 }),
        uploads.append(id, slow(b.subarray(0, 30_000), b.subarray(30_000)), { expectedOffset: 0 }),
      ]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r) => r.status === 'rejected');
      assert.equal(ok.length, 1);
      assert.equal(failed.length, 1);
      const failure = failed[0];
      assert.ok(failure !== undefined && failure.status === 'rejected');
      assert.ok(registryError('ChunkOutOfOrder')(failure.reason));
      const stored = await driver.get(uploadDataKey(id));
      const winner = results[0]?.status === 'fulfilled' ? a : b;
      assert.ok(stored.equals(winner), 'the upload holds exactly the winning chunk');
      await uploads.finish(id, parseDigest(digestOf(winner)));
    }));

    test('concurrent appends without offsets are serialised: both land whole, one after the other', withStore(async ({ uploads, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      const a = pattern(90_000, 5);
      const b = pattern(70_000, 6);
      const chunks = (buf: Buffer): Buffer[] => [buf.subarray(0, 20_000), buf.subarray(20_000, 50_000), buf.subarray(50_000)];
      const sizes = await Promise.all([uploads.append(id, slow(...chunks(a))), uploads.append(id, slow(...chunks(b)))]);
      const stored = await driver.get(uploadDataKey(id));
      const ab = Buffer.concat([a, b]);
      const ba = Buffer.concat([b, a]);
      assert.ok(stored.equals(ab) || stored.equals(ba), 'the chunks did not interleave');
      // Each append reports the size after its own chunk.
      assert.deepEqual(sizes, stored.equals(ab) ? [90_000, 160_000] : [160_000, 70_000]);
      const digest = digestOf(stored);
      assert.deepEqual(await uploads.finish(id, parseDigest(digest)), { size: 160_000 });
    }));

    test('finish and append racing on one upload are serialised', withStore(async ({ uploads, blobs }) => {
      const id = randomUUID();
      await uploads.create(id);
      await uploads.append(id, Readable.from([Buffer.from('abc')]));
      const [appended, finished] = await Promise.allSettled([
        uploads.append(id, slow(Buffer.from('d'), Buffer.from('ef'))),
        uploads.finish(id, parseDigest(digestOf('abcdef'))),
      ]);
      assert.equal(appended.status, 'fulfilled');
      assert.equal(finished.status, 'fulfilled');
      assert.deepEqual(await blobs.stat(digestOf('abcdef')), { size: 6 });
    }));

    // Whether an upload session exists is the database's business (UploadService checks it first);
    // the store only holds bytes, and an upload with no bytes is the empty blob.
    test('create writes nothing; delete removes the data; a deleted upload has no bytes left', withStore(async ({ uploads, driver }) => {
      const id = randomUUID();
      await uploads.create(id);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
      await uploads.append(id, Readable.from([Buffer.from('bytes')]));
      assert.equal(await uploads.size(id), 5);
      await uploads.delete(id);
      assert.equal(await uploads.size(id), 0);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
      await assert.rejects(uploads.finish(id, parseDigest(digestOf('bytes'))), registryError('DigestMismatch'));
      await uploads.delete(id);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
    }));

    test('two uploads of the same content leave one blob and no upload data', withStore(async ({ uploads, driver }) => {
      const content = Buffer.from('duplicate layer');
      const digest = digestOf(content);
      for (let i = 0; i < 2; i++) {
        const id = randomUUID();
        await uploads.create(id);
        await uploads.append(id, Readable.from([content]));
        assert.deepEqual(await uploads.finish(id, parseDigest(digest)), { size: content.length });
      }
      assert.deepEqual(await collectKeys(driver.list('blobs/')), [blobKey(digest)]);
      assert.deepEqual(await collectKeys(driver.list('uploads/')), []);
    }));
  });
}
