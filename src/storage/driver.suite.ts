// The shared StorageDriver suite: every driver (fs, memory, s3, ...) registers these tests with a
// factory that returns an empty driver, and must pass all of them. Only the contract in driver.ts is
// checked here; driver-specific behaviour (file layout, temporary files) is tested next to the driver.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isNotFound, type ObjectWriter, type StorageDriver } from './driver.ts';

export interface DriverFixture {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/** Writes `chunk` and waits until the driver has taken it (the write callback). */
export async function writeChunk(w: ObjectWriter, chunk: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    w.write(chunk, (err) => (err === null || err === undefined ? resolve() : reject(err)));
  });
}

export async function collectKeys(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const k of it) out.push(k);
  return out.sort();
}

export async function readAll(driver: StorageDriver, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await driver.reader(key, range)) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** Deterministic bytes of a given length (a repeating pattern that differs per seed). */
export function pattern(length: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return b;
}

/**
 * A destination that is done with each chunk when it calls back, as a socket is: it copies what it
 * receives (copyTo may reuse its buffers once the write callback ran; see StorageDriver.copyTo).
 */
class CopyingSink extends Writable {
  readonly received: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.received.push(Buffer.from(chunk));
    // Call back on a later turn, as a socket would, so that writes overlap.
    setImmediate(cb);
  }
}

function notFound(e: unknown): boolean {
  return isNotFound(e);
}

/** Registers a test (node:test's promise is only for nested tests; these are top-level in a describe). */
function it(name: string, fn: (t: TestContext) => Promise<void>): void {
  void test(name, fn);
}

/** A driver without append writers refuses them clearly, and the object stays as it was. */
async function refusesAppend(d: StorageDriver): Promise<void> {
  await d.put('append/k', Buffer.from('abc'));
  await assert.rejects(d.writer('append/k', { append: true }), /append/);
  assert.equal((await d.get('append/k')).toString(), 'abc');
}

export function driverSuite(name: string, make: () => Promise<DriverFixture>): void {
  /** Runs `fn` with a fresh driver and always cleans up. */
  const withDriver = (fn: (driver: StorageDriver, t: TestContext) => Promise<void>) => async (t: TestContext): Promise<void> => {
    const fixture = await make();
    try {
      await fn(fixture.driver, t);
    } finally {
      await fixture.cleanup();
    }
  };

  void describe(`StorageDriver suite: ${name}`, () => {
    it('stat of an absent key is null; of a present key gives its size and modification time', withDriver(async (d) => {
      assert.equal(await d.stat('nothing/here'), null);
      const before = Date.now();
      await d.put('stat/present', Buffer.from('hello'));
      const info = await d.stat('stat/present');
      assert.ok(info !== null);
      assert.equal(info.size, 5);
      assert.equal(typeof info.modifiedAt, 'number');
      // Filesystem timestamps may be coarser than Date.now(); allow a few seconds either way.
      assert.ok(Math.abs(info.modifiedAt - before) < 5000, `modifiedAt ${info.modifiedAt} is near ${before}`);
      // A prefix of a key (a "directory") is not an object.
      assert.equal(await d.stat('stat'), null);
      assert.equal(await d.stat('stat/present/below'), null);
    }));

    it('put/get round trip: empty, small and 5 MiB objects', withDriver(async (d) => {
      const cases: Array<[string, Buffer]> = [
        ['rt/empty', Buffer.alloc(0)],
        ['rt/small', Buffer.from('a small object\n')],
        ['rt/binary', Buffer.from([0, 255, 254, 0, 128, 10, 13])],
        ['rt/large', pattern(5 * MiB, 1)],
      ];
      for (const [key, data] of cases) await d.put(key, data);
      for (const [key, data] of cases) {
        const got = await d.get(key);
        assert.equal(got.length, data.length, key);
        assert.ok(got.equals(data), `${key} reads back what was put`);
        assert.equal((await d.stat(key))?.size, data.length);
        assert.ok((await readAll(d, key)).equals(data), `${key} streams back what was put`);
      }
    }));

    it('put replaces an existing object', withDriver(async (d) => {
      await d.put('replace/k', Buffer.from('first version, longer'));
      await d.put('replace/k', Buffer.from('second'));
      assert.equal((await d.get('replace/k')).toString(), 'second');
      assert.equal((await d.stat('replace/k'))?.size, 6);
    }));

    it('get and reader of an absent key reject with NotFoundError', withDriver(async (d) => {
      await assert.rejects(d.get('absent/key'), notFound);
      await assert.rejects(d.reader('absent/key'), notFound);
      await assert.rejects(d.reader('absent/key', { start: 0, end: 0 }), notFound);
    }));

    it('a new object is invisible until commit and visible after', withDriver(async (d) => {
      const w = await d.writer('fresh/object');
      assert.equal(w.size, 0);
      await writeChunk(w, Buffer.from('hello '));
      await writeChunk(w, Buffer.from('world'));
      assert.equal(w.size, 11);
      assert.equal(await d.stat('fresh/object'), null);
      await assert.rejects(d.reader('fresh/object'), notFound);
      await assert.rejects(d.get('fresh/object'), notFound);
      assert.deepEqual(await collectKeys(d.list('fresh/')), [], 'an uncommitted object is not listed');
      await w.commit();
      assert.equal((await d.stat('fresh/object'))?.size, 11);
      assert.equal((await d.get('fresh/object')).toString(), 'hello world');
      assert.deepEqual(await collectKeys(d.list('fresh/')), ['fresh/object']);
    }));

    it('a writer replacing an object leaves the old bytes visible until commit', withDriver(async (d) => {
      await d.put('swap/k', Buffer.from('old'));
      const w = await d.writer('swap/k');
      await writeChunk(w, Buffer.from('new content'));
      assert.equal((await d.get('swap/k')).toString(), 'old');
      assert.equal((await d.stat('swap/k'))?.size, 3);
      await w.commit();
      assert.equal((await d.get('swap/k')).toString(), 'new content');
    }));

    it('cancelling a new-object writer leaves nothing', withDriver(async (d) => {
      const w = await d.writer('cancel/new');
      await writeChunk(w, pattern(100_000));
      await w.cancel();
      assert.equal(await d.stat('cancel/new'), null);
      await assert.rejects(d.get('cancel/new'), notFound);
      assert.deepEqual(await collectKeys(d.list('cancel/')), []);
      // Cancelling a writer that replaced an existing object keeps the existing object.
      await d.put('cancel/existing', Buffer.from('keep me'));
      const w2 = await d.writer('cancel/existing');
      await writeChunk(w2, Buffer.from('throw me away'));
      await w2.cancel();
      assert.equal((await d.get('cancel/existing')).toString(), 'keep me');
      assert.deepEqual(await collectKeys(d.list('cancel/')), ['cancel/existing']);
    }));

    it('an append writer starts at the existing size and its bytes are there after commit', withDriver(async (d) => {
      if (!d.appendable) return await refusesAppend(d);
      await d.put('append/k', Buffer.from('abc'));
      const w = await d.writer('append/k', { append: true });
      assert.equal(w.size, 3);
      await writeChunk(w, Buffer.from('de'));
      await writeChunk(w, Buffer.from('f'));
      assert.equal(w.size, 6);
      await w.commit();
      assert.equal((await d.get('append/k')).toString(), 'abcdef');
      assert.equal((await d.stat('append/k'))?.size, 6);

      const w2 = await d.writer('append/k', { append: true });
      assert.equal(w2.size, 6);
      await writeChunk(w2, pattern(2 * MiB, 3));
      await w2.commit();
      const all = await d.get('append/k');
      assert.equal(all.length, 6 + 2 * MiB);
      assert.ok(all.subarray(0, 6).equals(Buffer.from('abcdef')));
      assert.ok(all.subarray(6).equals(pattern(2 * MiB, 3)));

      // Appending to an empty object.
      await d.put('append/empty', Buffer.alloc(0));
      const w3 = await d.writer('append/empty', { append: true });
      assert.equal(w3.size, 0);
      await writeChunk(w3, Buffer.from('x'));
      await w3.commit();
      assert.equal((await d.get('append/empty')).toString(), 'x');
    }));

    it('cancelling an append writer takes back exactly what it appended', withDriver(async (d) => {
      if (!d.appendable) return await refusesAppend(d);
      await d.put('append/cancel', Buffer.from('base'));
      const kept = await d.writer('append/cancel', { append: true });
      await writeChunk(kept, Buffer.from('+kept'));
      await kept.commit();
      const dropped = await d.writer('append/cancel', { append: true });
      assert.equal(dropped.size, 9);
      await writeChunk(dropped, Buffer.from('+dropped'));
      await writeChunk(dropped, pattern(300_000, 9));
      await dropped.cancel();
      assert.equal((await d.get('append/cancel')).toString(), 'base+kept');
      assert.equal((await d.stat('append/cancel'))?.size, 9);
      // The object can still be appended to afterwards.
      const again = await d.writer('append/cancel', { append: true });
      assert.equal(again.size, 9);
      await writeChunk(again, Buffer.from('!'));
      await again.commit();
      assert.equal((await d.get('append/cancel')).toString(), 'base+kept!');
    }));

    it('cancel right after writes that have not completed yet still takes them all back', withDriver(async (d) => {
      // A failed request stream destroys the writer while a write may still be in flight; whether
      // the write or the cancel reaches the backend first is up to the scheduler, so try many times.
      const chunk = pattern(64 * 1024, 1);
      await d.put('inflight/append', Buffer.from('base'));
      for (let i = 0; i < (d.appendable ? 200 : 20); i++) {
        if (d.appendable) {
          const w = await d.writer('inflight/append', { append: true });
          w.on('error', () => undefined);
          w.write(chunk);
          w.write(chunk);
          await w.cancel();
          assert.equal((await d.stat('inflight/append'))?.size, 4, `append writer ${i} took back its bytes`);
        }
        const fresh = await d.writer('inflight/new');
        fresh.on('error', () => undefined);
        fresh.write(chunk);
        await fresh.cancel();
        assert.equal(await d.stat('inflight/new'), null);
      }
      // Nothing lands late either.
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await d.get('inflight/append')).toString(), 'base');
      assert.deepEqual(await collectKeys(d.list('inflight/')), ['inflight/append']);
    }));

    it('reader serves byte ranges (inclusive end)', withDriver(async (d) => {
      const data = pattern(1000, 5);
      await d.put('range/k', data);
      const cases: Array<[number, number]> = [
        [0, 0],
        [999, 999],
        [100, 199],
        [1, 998],
        [0, 999],
      ];
      for (const [start, end] of cases) {
        const got = await readAll(d, 'range/k', { start, end });
        assert.equal(got.length, end - start + 1, `range ${start}-${end}`);
        assert.ok(got.equals(data.subarray(start, end + 1)), `range ${start}-${end} has the right bytes`);
      }
      assert.ok((await readAll(d, 'range/k')).equals(data), 'no range reads the whole object');
      // Ranges over a large object (spanning read chunks).
      const big = pattern(3 * MiB + 7, 6);
      await d.put('range/big', big);
      const got = await readAll(d, 'range/big', { start: MiB - 3, end: 2 * MiB + 5 });
      assert.ok(got.equals(big.subarray(MiB - 3, 2 * MiB + 6)));
    }));

    it('move replaces the destination atomically and removes the source', withDriver(async (d) => {
      await d.put('move/src', Buffer.from('source bytes'));
      await d.put('move/dst', Buffer.from('destination bytes'));
      await d.move('move/src', 'move/dst');
      assert.equal((await d.get('move/dst')).toString(), 'source bytes');
      assert.equal(await d.stat('move/src'), null);
      assert.deepEqual(await collectKeys(d.list('move/')), ['move/dst']);
      // Into a new nested location.
      await d.move('move/dst', 'moved/deep/er/k');
      assert.equal((await d.get('moved/deep/er/k')).toString(), 'source bytes');
      assert.equal(await d.stat('move/dst'), null);
    }));

    it('move of an absent source rejects with NotFoundError and leaves the destination', withDriver(async (d) => {
      await d.put('move2/dst', Buffer.from('untouched'));
      await assert.rejects(d.move('move2/absent', 'move2/dst'), notFound);
      await assert.rejects(d.move('nowhere/absent', 'move2/new'), notFound);
      assert.equal((await d.get('move2/dst')).toString(), 'untouched');
      assert.equal(await d.stat('move2/new'), null);
    }));

    it('delete removes a key; deleting absent keys is not an error', withDriver(async (d) => {
      await d.put('del/a', Buffer.from('a'));
      await d.put('del/b', Buffer.from('b'));
      await d.delete('del/a');
      assert.equal(await d.stat('del/a'), null);
      assert.equal((await d.get('del/b')).toString(), 'b');
      await d.delete('del/a');
      await d.delete('never/existed');
      await d.delete('never/existed/prefix/');
    }));

    it('delete of a prefix ending in / removes everything under it and nothing else', withDriver(async (d) => {
      const keep = ['p2/x', 'pa/x', 'q/p/x', 'p-other'];
      const gone = ['p/a', 'p/b/c', 'p/b/d/e'];
      for (const k of [...keep, ...gone]) await d.put(k, Buffer.from(k));
      await d.delete('p/');
      for (const k of gone) assert.equal(await d.stat(k), null, `${k} deleted`);
      for (const k of keep) assert.equal((await d.get(k)).toString(), k, `${k} kept`);
      assert.deepEqual(await collectKeys(d.list('p/')), []);
      // The prefix can be written to again.
      await d.put('p/new', Buffer.from('n'));
      assert.deepEqual(await collectKeys(d.list('p/')), ['p/new']);
    }));

    it('list gives nested keys under a prefix, none from other prefixes', withDriver(async (d) => {
      const keys = ['l/a', 'l/b/c', 'l/b/d/e', 'lx/f', 'm/g', 'l2/h'];
      for (const k of keys) await d.put(k, Buffer.from(k));
      assert.deepEqual(await collectKeys(d.list('l/')), ['l/a', 'l/b/c', 'l/b/d/e']);
      assert.deepEqual(await collectKeys(d.list('l/b/')), ['l/b/c', 'l/b/d/e']);
      assert.deepEqual(await collectKeys(d.list('m/')), ['m/g']);
      assert.deepEqual(await collectKeys(d.list('absent/')), []);
      assert.deepEqual(await collectKeys(d.list('l/b/d/e/')), [], 'a key is not a prefix');
      // Deleted keys are no longer listed.
      await d.delete('l/b/c');
      assert.deepEqual(await collectKeys(d.list('l/')), ['l/a', 'l/b/d/e']);
    }));

    it("keys with '..' are rejected", withDriver(async (d) => {
      await d.put('safe/k', Buffer.from('safe'));
      for (const bad of ['../escape', 'a/../../escape', 'a/..', '..', 'safe/../safe/k']) {
        await assert.rejects(d.put(bad, Buffer.from('x')), `put ${bad}`);
        await assert.rejects(d.stat(bad), `stat ${bad}`);
        await assert.rejects(d.get(bad), `get ${bad}`);
        await assert.rejects(d.reader(bad), `reader ${bad}`);
        await assert.rejects(d.writer(bad), `writer ${bad}`);
        await assert.rejects(d.writer(bad, { append: true }), `append writer ${bad}`);
        await assert.rejects(d.move('safe/k', bad), `move to ${bad}`);
        await assert.rejects(d.move(bad, 'safe/other'), `move from ${bad}`);
        await assert.rejects(d.delete(bad), `delete ${bad}`);
        await assert.rejects(d.delete(`${bad}/`), `delete prefix ${bad}/`);
        await assert.rejects(collectKeys(d.list(`${bad}/`)), `list ${bad}/`);
      }
      assert.equal((await d.get('safe/k')).toString(), 'safe', 'a rejected move left the source');
      assert.equal(await d.stat('safe/other'), null);
    }));

    it('a 64 MiB object streamed from a generator reads back with the same sha256', withDriver(async (d) => {
      const total = 64 * MiB;
      const written = createHash('sha256');
      async function* source(): AsyncGenerator<Buffer> {
        // Random 1 MiB chunks, produced on demand: the test never holds the object in memory.
        for (let sent = 0; sent < total; sent += MiB) {
          const chunk = randomBytes(MiB);
          written.update(chunk);
          yield chunk;
        }
      }
      const w = await d.writer('large/object');
      await pipeline(Readable.from(source()), w);
      assert.equal(w.size, total);
      assert.equal(await d.stat('large/object'), null, 'invisible before commit');
      await w.commit();
      assert.equal((await d.stat('large/object'))?.size, total);
      const read = createHash('sha256');
      let n = 0;
      for await (const c of await d.reader('large/object')) {
        const b = c as Buffer;
        read.update(b);
        n += b.length;
      }
      assert.equal(n, total);
      assert.equal(read.digest('hex'), written.digest('hex'));
      await d.delete('large/object');
    }));

    it('concurrent writers of one key: the last commit wins', withDriver(async (d) => {
      const a = pattern(300_000, 1);
      const b = pattern(200_000, 2);
      const wa = await d.writer('race/k');
      const wb = await d.writer('race/k');
      // Interleave the writes.
      for (let off = 0; off < 300_000; off += 50_000) {
        await writeChunk(wa, a.subarray(off, off + 50_000));
        if (off < 200_000) await writeChunk(wb, b.subarray(off, off + 50_000));
      }
      await wb.commit();
      assert.ok((await d.get('race/k')).equals(b));
      await wa.commit();
      assert.ok((await d.get('race/k')).equals(a), 'the later commit wins');
      assert.deepEqual(await collectKeys(d.list('race/')), ['race/k']);
    }));

    it('concurrent writers of one key: the object is always one version whole, never a mix', withDriver(async (d) => {
      const versions = [0, 1, 2, 3, 4].map((i) => pattern(64 * 1024 * (i + 1) + i, 10 + i));
      const isAVersion = (buf: Buffer): boolean => versions.some((v) => v.equals(buf));
      await d.put('mix/k', versions[0] as Buffer);
      const writers = await Promise.all(versions.map(() => d.writer('mix/k')));
      const observed: Buffer[] = [];
      let reading = true;
      const reader = (async () => {
        while (reading) {
          observed.push(await d.get('mix/k'));
          observed.push(await readAll(d, 'mix/k'));
          await yieldToLoop();
        }
      })();
      try {
        await Promise.all(
          writers.map(async (w, i) => {
            const v = versions[i] as Buffer;
            for (let off = 0; off < v.length; off += 16 * 1024) {
              await writeChunk(w, v.subarray(off, off + 16 * 1024));
              await yieldToLoop();
            }
            await w.commit();
          }),
        );
      } finally {
        reading = false;
        await reader;
      }
      assert.ok(observed.length > 0);
      for (const o of observed) assert.ok(isAVersion(o), `a read saw ${o.length} bytes that are no single version`);
      const final = await d.get('mix/k');
      assert.ok(isAVersion(final), 'the final object is one of the versions whole');
      assert.equal((await d.stat('mix/k'))?.size, final.length);
      assert.deepEqual(await collectKeys(d.list('mix/')), ['mix/k']);
    }));

    it('concat writes the sources in order to dest, atomically; the sources stay', withDriver(async (d) => {
      const big1 = pattern(6 * MiB + 3, 11);
      const big2 = pattern(5 * MiB, 12);
      await d.put('concat/a', Buffer.from('first,'));
      await d.put('concat/b', Buffer.alloc(0));
      await d.put('concat/c', Buffer.from('second,'));
      await d.put('concat/big1', big1);
      await d.put('concat/big2', big2);
      await d.concat(['concat/a', 'concat/b', 'concat/c'], 'concat/out-small');
      assert.equal((await d.get('concat/out-small')).toString(), 'first,second,');
      // Large and small sources mixed, in any order (object stores copy large ones server side).
      await d.concat(['concat/big1', 'concat/a', 'concat/big2', 'concat/c', 'concat/big1'], 'concat/out-big');
      const want = Buffer.concat([big1, Buffer.from('first,'), big2, Buffer.from('second,'), big1]);
      const got = await d.get('concat/out-big');
      assert.equal(got.length, want.length);
      assert.ok(got.equals(want), 'the bytes, in order');
      // One source, and replacing an existing destination.
      await d.concat(['concat/c'], 'concat/out-small');
      assert.equal((await d.get('concat/out-small')).toString(), 'second,');
      // Zero sources: the empty object.
      await d.concat([], 'concat/out-empty');
      assert.equal((await d.get('concat/out-empty')).length, 0);
      assert.equal((await d.get('concat/a')).toString(), 'first,', 'sources stay');
      // An absent source: NotFoundError, and the destination is not touched.
      await assert.rejects(d.concat(['concat/a', 'concat/absent'], 'concat/out-small'), notFound);
      assert.equal((await d.get('concat/out-small')).toString(), 'second,');
      await assert.rejects(d.concat(['concat/absent'], 'concat/out-none'), notFound);
      assert.equal(await d.stat('concat/out-none'), null);
      assert.deepEqual(await collectKeys(d.list('concat/')), ['concat/a', 'concat/b', 'concat/big1', 'concat/big2', 'concat/c', 'concat/out-big', 'concat/out-empty', 'concat/out-small']);
    }));

    it('copyTo writes the object or a range to dest after onOpen, without ending dest', withDriver(async (d) => {
      const copyTo = d.copyTo.bind(d);
      const data = pattern(3 * MiB + 7, 8);
      await d.put('copy/k', data);
      await d.put('copy/empty', Buffer.alloc(0));
      const cases: Array<[string, { start: number; end: number } | undefined, Buffer]> = [
        ['copy/k', undefined, data],
        ['copy/k', { start: 0, end: 0 }, data.subarray(0, 1)],
        ['copy/k', { start: data.length - 1, end: data.length - 1 }, data.subarray(data.length - 1)],
        ['copy/k', { start: MiB - 5, end: 2 * MiB + 5 }, data.subarray(MiB - 5, 2 * MiB + 6)],
        ['copy/empty', undefined, Buffer.alloc(0)],
      ];
      for (const [key, range, expected] of cases) {
        const sink = new CopyingSink();
        let openedAfter = -1;
        await copyTo(key, sink, range, () => {
          openedAfter = sink.received.length;
        });
        const what = `${key} ${range === undefined ? 'whole' : `${range.start}-${range.end}`}`;
        assert.equal(openedAfter, 0, `${what}: onOpen ran before the first byte`);
        assert.equal(sink.writableEnded, false, `${what}: dest is left open`);
        assert.ok(Buffer.concat(sink.received).equals(expected), `${what}: the right bytes`);
        sink.end();
      }
      // Several copies into one destination, one after the other.
      const sink = new CopyingSink();
      await copyTo('copy/k', sink, { start: 0, end: 9 });
      await copyTo('copy/k', sink, { start: 10, end: 19 });
      assert.ok(Buffer.concat(sink.received).equals(data.subarray(0, 20)));
      // An absent object rejects with NotFoundError before onOpen and writes nothing.
      const absentSink = new CopyingSink();
      let opened = false;
      await assert.rejects(
        copyTo('copy/absent', absentSink, undefined, () => {
          opened = true;
        }),
        notFound,
      );
      assert.equal(opened, false);
      assert.equal(absentSink.received.length, 0);
    }));

    it('check() succeeds and leaves nothing behind', withDriver(async (d) => {
      await d.check();
      await d.check();
      assert.deepEqual(await collectKeys(d.list('')), []);
    }));
  });
}
