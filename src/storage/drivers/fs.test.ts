import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { digestOf } from '../../core/digest.ts';
import { collectKeys, driverSuite, pattern, writeChunk } from '../driver.suite.ts';
import { blobKey, uploadDataKey } from '../paths.ts';
import { FsDriver } from './fs.ts';

async function tempRoot(): Promise<{ dir: string; root: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
  // The driver's root is one level down, so that escapes out of it can be seen.
  const root = join(dir, 'root');
  return { dir, root, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file under `dir`, relative, with '/' separators. */
async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

driverSuite('filesystem', async () => {
  const t = await tempRoot();
  return { driver: new FsDriver({ root: t.root }), cleanup: () => t.cleanup() };
});

driverSuite('filesystem without fsync', async () => {
  const t = await tempRoot();
  return { driver: new FsDriver({ root: t.root, fsync: false }), cleanup: () => t.cleanup() };
});

describe('FsDriver specifics', () => {
  test('no .tmp- files are left after commit, cancel, put and failed moves', async () => {
    const t = await tempRoot();
    try {
      const d = new FsDriver({ root: t.root });
      const w1 = await d.writer('a/committed');
      await writeChunk(w1, pattern(100_000));
      assert.ok((await filesUnder(t.root)).some((f) => f.includes('.tmp-')), 'a temporary file exists while writing');
      assert.deepEqual(await collectKeys(d.list('a/')), [], 'the temporary file is not listed');
      await w1.commit();
      const w2 = await d.writer('a/cancelled');
      await writeChunk(w2, pattern(100_000));
      await w2.cancel();
      const w3 = await d.writer('a/committed');
      await writeChunk(w3, pattern(10));
      await w3.cancel();
      await d.put('a/put', Buffer.from('p'));
      await d.put('a/put', Buffer.from('p2'));
      const w4 = await d.writer('a/put', { append: true });
      await writeChunk(w4, Buffer.from('x'));
      await w4.cancel();
      await d.check();
      assert.deepEqual(await filesUnder(t.root), ['a/committed', 'a/put']);
      assert.equal((await readFile(join(t.root, 'a/put'))).toString(), 'p2');
    } finally {
      await t.cleanup();
    }
  });

  test('list does not show temporary files left by a crashed writer', async () => {
    const t = await tempRoot();
    try {
      const d = new FsDriver({ root: t.root });
      await d.put('uploads/abcdef012345/data', Buffer.from('x'));
      // A writer that never commits nor cancels (as if the process died).
      const w = await d.writer('uploads/abcdef012345/data');
      await writeChunk(w, Buffer.from('partial'));
      assert.deepEqual(await collectKeys(d.list('uploads/')), ['uploads/abcdef012345/data']);
      assert.equal((await d.get('uploads/abcdef012345/data')).toString(), 'x');
      await w.cancel();
    } finally {
      await t.cleanup();
    }
  });

  test('objects are files at the durable names documented in paths.ts', async () => {
    const t = await tempRoot();
    try {
      const d = new FsDriver({ root: t.root });
      const content = Buffer.from('blob content');
      const digest = digestOf(content);
      const hex = digest.slice('sha256:'.length);
      await d.put(blobKey(digest), content);
      const blobFile = join(t.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
      assert.ok((await readFile(blobFile)).equals(content));
      const sha512 = digestOf(content, 'sha512');
      await d.put(blobKey(sha512), content);
      const hex512 = sha512.slice('sha512:'.length);
      assert.ok((await readFile(join(t.root, 'blobs', 'sha512', hex512.slice(0, 2), hex512))).equals(content));

      await d.put(uploadDataKey('0123456789abcdef'), Buffer.from('upload'));
      assert.equal((await readFile(join(t.root, 'uploads', '0123456789abcdef', 'data'))).toString(), 'upload');

      const w = await d.writer(uploadDataKey('0123456789abcdef'), { append: true });
      await writeChunk(w, Buffer.from('+more'));
      await w.commit();
      assert.equal((await readFile(join(t.root, 'uploads', '0123456789abcdef', 'data'))).toString(), 'upload+more');

      await d.move(uploadDataKey('0123456789abcdef'), 'some/other/key');
      assert.equal((await readFile(join(t.root, 'some', 'other', 'key'))).toString(), 'upload+more');
      assert.deepEqual(await filesUnder(t.root), [
        `blobs/sha256/${hex.slice(0, 2)}/${hex}`,
        `blobs/sha512/${hex512.slice(0, 2)}/${hex512}`,
        'some/other/key',
      ]);
    } finally {
      await t.cleanup();
    }
  });

  test('a new driver over the same root sees every committed object', async () => {
    const t = await tempRoot();
    try {
      const d1 = new FsDriver({ root: t.root });
      await d1.put('x/one', Buffer.from('1'));
      const w = await d1.writer('x/two');
      await writeChunk(w, Buffer.from('2'));
      await w.commit();
      const d2 = new FsDriver({ root: t.root });
      assert.deepEqual(await collectKeys(d2.list('x/')), ['x/one', 'x/two']);
      assert.equal((await d2.get('x/two')).toString(), '2');
    } finally {
      await t.cleanup();
    }
  });

  test("keys with '..' or a leading '/' never touch files outside the root", async () => {
    const t = await tempRoot();
    try {
      const d = new FsDriver({ root: t.root });
      await d.check();
      await assert.rejects(d.put('../escape', Buffer.from('x')));
      await assert.rejects(d.put('a/../../escape2', Buffer.from('x')));
      await assert.rejects(d.put('/absolute', Buffer.from('x')));
      await assert.rejects(d.delete('../'));
      assert.deepEqual((await readdir(t.dir)).sort(), ['root']);
      assert.deepEqual(await filesUnder(t.root), []);
      assert.ok((await stat(t.root)).isDirectory(), 'deleting ../ did not remove the root');
    } finally {
      await t.cleanup();
    }
  });

  test('check() creates a missing root', async () => {
    const t = await tempRoot();
    try {
      const d = new FsDriver({ root: join(t.root, 'nested', 'deeper') });
      await d.check();
      assert.ok((await stat(join(t.root, 'nested', 'deeper'))).isDirectory());
      assert.deepEqual(await filesUnder(t.root), []);
    } finally {
      await t.cleanup();
    }
  });
});
