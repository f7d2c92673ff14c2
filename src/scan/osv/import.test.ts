import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VULNDATA, vulndataMissing } from '../../../test/helpers/vulndata.ts';
import { readOsvSource, type OsvSourceItem, type OsvSourceOptions } from './import.ts';
import { makeZip } from '../../../test/helpers/zip.ts';

const advisory = (id: string, extra: object = {}) =>
  JSON.stringify({
    id,
    modified: '2024-05-01T10:00:00Z',
    affected: [{ package: { ecosystem: 'PyPI', name: 'pkg' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }] }],
    ...extra,
  });

async function collect(path: string, opts?: OsvSourceOptions): Promise<OsvSourceItem[]> {
  const items: OsvSourceItem[] = [];
  for await (const item of readOsvSource(path, opts)) items.push(item);
  return items;
}

/** `file -> id` for records, `file -> error` for the rest. */
function summary(items: OsvSourceItem[]): [string, string][] {
  return items.map((i) => [i.file, i.record?.id ?? `error: ${i.error}`]);
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-osv-import-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeZip(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe('readOsvSource on the real corpus', { skip: vulndataMissing() }, () => {
  test('yields every record of osv/ once, withdrawn ones too, with its file relative to the tree', async () => {
    const manifest = JSON.parse(readFileSync(join(VULNDATA, 'manifest.json'), 'utf8')) as { osv: Record<string, { records: number; withdrawn: string[] }> };
    const items = await collect(join(VULNDATA, 'osv'));
    assert.deepEqual(items.filter((i) => i.error !== undefined), []);
    const perDir: Record<string, number> = {};
    const withdrawn: string[] = [];
    for (const item of items) {
      const [top, name] = item.file.split('/');
      assert.equal(name, `${item.record!.id}.json`);
      perDir[top!] = (perDir[top!] ?? 0) + 1;
      if (item.record!.withdrawn !== undefined) withdrawn.push(item.record!.id);
    }
    assert.deepEqual(perDir, Object.fromEntries(Object.entries(manifest.osv).map(([d, m]) => [d, m.records])));
    assert.deepEqual(withdrawn.sort(), Object.values(manifest.osv).flatMap((m) => m.withdrawn).sort());
    assert.equal(new Set(items.map((i) => i.record!.id)).size, items.length);
  });

  test('reads one JSON file given as the source', async () => {
    const items = await collect(join(VULNDATA, 'osv/AlmaLinux/ALSA-2023:0946.json'));
    assert.equal(items.length, 1);
    assert.equal(items[0]!.record?.id, 'ALSA-2023:0946');
  });
});

describe('readOsvSource on zip archives', () => {
  test("reads osv.dev's all.zip layout entry by entry, stored or deflated, skipping directories and other files", async () => {
    const path = await writeZip(
      'all.zip',
      makeZip([
        { name: 'PYSEC-2024-1.json', data: advisory('PYSEC-2024-1') },
        { name: 'nested/', data: '' },
        { name: 'nested/PYSEC-2024-2.json', data: advisory('PYSEC-2024-2'), method: 'store' },
        { name: 'README.txt', data: 'not an advisory' },
      ]),
    );
    assert.deepEqual(summary(await collect(path)), [
      ['PYSEC-2024-1.json', 'PYSEC-2024-1'],
      ['nested/PYSEC-2024-2.json', 'PYSEC-2024-2'],
    ]);
  });

  test('an entry that is not JSON or fails the schema is an error item, and the import goes on', async () => {
    const path = await writeZip(
      'mixed.zip',
      makeZip([
        { name: 'a.json', data: '<html>not json</html>' },
        { name: 'b.json', data: advisory('PYSEC-2024-3', { aliases: 'CVE-1' }) },
        { name: 'c.json', data: advisory('PYSEC-2024-4') },
      ]),
    );
    const items = summary(await collect(path));
    assert.match(items[0]![1], /^error: not JSON: /);
    assert.deepEqual(items.slice(1), [
      ['b.json', 'error: $.aliases: must be an array, not a string'],
      ['c.json', 'PYSEC-2024-4'],
    ]);
  });

  test('an entry declaring more than maxRecordBytes is refused unread', async () => {
    const path = await writeZip(
      'oversize.zip',
      makeZip([
        { name: 'big.json', data: advisory('PYSEC-2024-5', { details: 'x'.repeat(5000) }) },
        { name: 'ok.json', data: advisory('PYSEC-2024-6') },
      ]),
    );
    const items = await collect(path, { maxRecordBytes: 4096 });
    assert.match(items[0]!.error!, /^record is \d+ bytes, more than the 4096 allowed$/);
    assert.equal(items[1]!.record?.id, 'PYSEC-2024-6');
  });

  test('a zip bomb whose entry lies about its size is stopped at the declared size', async () => {
    const bomb = Buffer.alloc(16 * 1024 * 1024);
    const path = await writeZip(
      'bomb.zip',
      makeZip([
        { name: 'bomb.json', data: bomb, declaredSize: 200 },
        { name: 'honest-bomb.json', data: bomb },
        { name: 'after.json', data: advisory('PYSEC-2024-7') },
      ]),
    );
    const items = summary(await collect(path, { maxRecordBytes: 1024 }));
    assert.equal(items[0]![0], 'bomb.json');
    const read = /^error: cannot read zip entry: too many bytes in the stream\. expected 200\. got at least (\d+)$/.exec(items[0]![1]);
    assert.ok(read, items[0]![1]);
    // Stopped within the first inflated chunk, far from the 16 MiB the entry holds.
    assert.ok(Number(read[1]) <= 64 * 1024, `read ${read[1]} bytes`);
    assert.deepEqual(items.slice(1), [
      ['honest-bomb.json', `error: record is ${bomb.length} bytes, more than the 1024 allowed`],
      ['after.json', 'PYSEC-2024-7'],
    ]);
  });

  test('entry data that does not inflate is an error item', async () => {
    const zip = makeZip([
      { name: 'a.json', data: advisory('PYSEC-2024-8') },
      { name: 'b.json', data: advisory('PYSEC-2024-9') },
    ]);
    // Overwrite the start of a.json's deflate data (after its 30-byte header and 6-byte name) with an invalid block type.
    zip.fill(0xff, 36, 40);
    const items = summary(await collect(await writeZip('bad-data.zip', zip)));
    assert.match(items[0]![1], /^error: cannot read zip entry: /);
    assert.deepEqual(items[1], ['b.json', 'PYSEC-2024-9']);
  });

  test('more entries than maxZipEntries throws before reading any', async () => {
    const path = await writeZip(
      'many.zip',
      makeZip(['a', 'b', 'c'].map((n) => ({ name: `${n}.json`, data: advisory(`PYSEC-2024-${n}`) }))),
    );
    const seen: OsvSourceItem[] = [];
    await assert.rejects(async () => {
      for await (const item of readOsvSource(path, { maxZipEntries: 2 })) seen.push(item);
    }, new Error(`${path}: 3 entries, more than the 2 allowed`));
    assert.deepEqual(seen, []);
  });

  test('a file that is not a zip throws', async () => {
    const path = await writeZip('garbage.zip', Buffer.from('this is not a zip archive at all, just text'.repeat(10)));
    await assert.rejects(collect(path), /garbage\.zip: not a readable zip archive \(End of central directory record signature not found/);
  });

  test('a truncated zip throws', async () => {
    const zip = makeZip([
      { name: 'a.json', data: advisory('PYSEC-2024-10') },
      { name: 'b.json', data: advisory('PYSEC-2024-11') },
    ]);
    await assert.rejects(collect(await writeZip('truncated.zip', zip.subarray(0, zip.length - 30))), /truncated\.zip: not a readable zip archive/);
  });

  test('a broken central directory throws after the entries listed before it', async () => {
    const zip = makeZip([
      { name: 'a.json', data: advisory('PYSEC-2024-12') },
      { name: 'b.json', data: advisory('PYSEC-2024-13') },
    ]);
    const second = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(0xdeadbeef, second);
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const item of readOsvSource(await writeZip('broken-directory.zip', zip))) seen.push(item.record?.id ?? '');
    }, /broken-directory\.zip: broken zip archive \(invalid central directory file header signature/);
    assert.deepEqual(seen, ['PYSEC-2024-12']);
  });
});

describe('readOsvSource on directory trees', () => {
  test('walks nested directories in name order, reads loose JSON and zips inside the tree, and reports links without following them', async () => {
    const tree = join(dir, 'tree');
    const outside = join(dir, 'outside');
    await mkdir(join(tree, 'PyPI', 'deeper'), { recursive: true });
    await mkdir(join(tree, 'Go'), { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'SECRET-1.json'), advisory('SECRET-1'));
    await writeFile(join(tree, 'PyPI', 'PYSEC-2024-20.json'), advisory('PYSEC-2024-20'));
    await writeFile(join(tree, 'PyPI', 'deeper', 'PYSEC-2024-21.json'), advisory('PYSEC-2024-21'));
    await writeFile(join(tree, 'PyPI', 'notes.md'), '# not an advisory');
    await writeFile(join(tree, 'PyPI', 'broken.json'), '{');
    await writeFile(join(tree, 'Go', 'all.zip'), makeZip([{ name: 'GO-2024-1.json', data: advisory('GO-2024-1') }]));
    await symlink(join(outside, 'SECRET-1.json'), join(tree, 'PyPI', 'SECRET-1.json'));
    await symlink(outside, join(tree, 'linked-dir'));
    const items = summary(await collect(tree));
    assert.deepEqual(items, [
      ['Go/all.zip!/GO-2024-1.json', 'GO-2024-1'],
      ['PyPI/PYSEC-2024-20.json', 'PYSEC-2024-20'],
      ['PyPI/SECRET-1.json', 'error: symbolic link, not followed'],
      ['PyPI/broken.json', items[3]![1]],
      ['PyPI/deeper/PYSEC-2024-21.json', 'PYSEC-2024-21'],
      ['linked-dir', 'error: symbolic link, not followed'],
    ]);
    assert.match(items[3]![1], /^error: not JSON: /);
  });

  test('a file larger than maxRecordBytes is refused unread', async () => {
    const tree = join(dir, 'big-tree');
    await mkdir(tree);
    await writeFile(join(tree, 'big.json'), advisory('PYSEC-2024-30', { details: 'x'.repeat(3000) }));
    const items = await collect(tree, { maxRecordBytes: 2048 });
    assert.match(items[0]!.error!, /^record is \d+ bytes, more than the 2048 allowed$/);
  });

  test('a corrupt zip inside the tree throws, naming it', async () => {
    const tree = join(dir, 'corrupt-tree');
    await mkdir(join(tree, 'npm'), { recursive: true });
    await writeFile(join(tree, 'npm', 'all.zip'), 'PK not really');
    await assert.rejects(collect(tree), /^Error: npm\/all\.zip: not a readable zip archive/);
  });

  test('a source that is neither a directory, a zip nor a JSON file throws', async () => {
    const path = join(dir, 'advisories.tar');
    await writeFile(path, '');
    await assert.rejects(collect(path), new Error(`${path}: not a directory, a .zip archive or a .json file`));
    await assert.rejects(collect(join(dir, 'missing')), /ENOENT/);
  });
});
