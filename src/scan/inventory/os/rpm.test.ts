import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS, type FileEntry } from '../../types.ts';
import { parseRpmHeader, RPM_TYPE, RPMTAG, rpmdbHeaderBlobs, rpmExtractor } from './rpm.ts';

type Value = { type: number; value: string | string[] | number };

/** An rpm header blob as rpm stores it in rpmdb.sqlite: il, dl, a region entry, index entries, data store. */
function header(tags: Record<number, Value>): Buffer {
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let size = 0;
  const add = (tag: number, type: number, count: number, bytes: Buffer, align = 1): void => {
    const pad = (align - (size % align)) % align;
    if (pad > 0) data.push(Buffer.alloc(pad));
    const entry = Buffer.alloc(16);
    entry.writeUInt32BE(tag, 0);
    entry.writeUInt32BE(type, 4);
    entry.writeUInt32BE(size + pad, 8);
    entry.writeUInt32BE(count, 12);
    index.push(entry);
    data.push(bytes);
    size += pad + bytes.length;
  };
  for (const [tag, { type, value }] of Object.entries(tags)) {
    if (typeof value === 'number') {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(value);
      add(Number(tag), type, 1, b, 4);
    } else {
      const strings = Array.isArray(value) ? value : [value];
      add(Number(tag), type, strings.length, Buffer.from(strings.map((s) => `${s}\0`).join('')));
    }
  }
  // The immutable region trailer (tag 63, BIN): what rpm puts first; readers may ignore it.
  const trailer = Buffer.alloc(16);
  trailer.writeInt32BE(63, 0);
  trailer.writeUInt32BE(7, 4);
  trailer.writeInt32BE(-(index.length + 1) * 16, 8);
  trailer.writeUInt32BE(16, 12);
  add(63, 7, 16, trailer);
  index.unshift(index.pop() ?? Buffer.alloc(0));
  const counts = Buffer.alloc(8);
  counts.writeUInt32BE(index.length, 0);
  counts.writeUInt32BE(size, 4);
  return Buffer.concat([counts, ...index, ...data]);
}

const s = (value: string): Value => ({ type: RPM_TYPE.STRING, value });

function pkgHeader(name: string, version: string, release: string, extra: Record<number, Value> = {}): Buffer {
  return header({
    [RPMTAG.NAME]: s(name),
    [RPMTAG.VERSION]: s(version),
    [RPMTAG.RELEASE]: s(release),
    [RPMTAG.ARCH]: s('x86_64'),
    ...extra,
  });
}

/** An rpmdb.sqlite image as rpm writes it (schema of lib/backend/sqlite.c), marked as WAL mode like rpm leaves it. */
function rpmdb(blobs: Buffer[], schema = "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"): Buffer {
  const db = new DatabaseSync(':memory:');
  db.exec(schema);
  for (const blob of blobs) db.prepare('INSERT INTO Packages (blob) VALUES (?)').run(blob);
  const image = Buffer.from(db.serialize());
  db.close();
  image[18] = 2;
  image[19] = 2;
  return image;
}

const ENTRY: FileEntry = { path: 'var/lib/rpm/rpmdb.sqlite', size: 0, mode: 0o644, layerDigest: 'sha256:l1' };

test('wants the SQLite rpmdb in both places', () => {
  assert.equal(rpmExtractor.wants(ENTRY), true);
  assert.equal(rpmExtractor.wants({ ...ENTRY, path: 'usr/lib/sysimage/rpm/rpmdb.sqlite' }), true);
  assert.equal(rpmExtractor.wants({ ...ENTRY, path: 'var/lib/rpm/Packages' }), false);
});

test('parses the tags it needs from a header blob', () => {
  const blob = pkgHeader('openssl-libs', '3.0.7', '27.el9', {
    [RPMTAG.EPOCH]: { type: RPM_TYPE.INT32, value: 1 },
    [RPMTAG.SOURCERPM]: s('openssl-3.0.7-27.el9.src.rpm'),
    [RPMTAG.LICENSE]: s('ASL 2.0'),
    1004: { type: RPM_TYPE.I18NSTRING, value: ['A general purpose cryptography library'] },
  });
  assert.deepEqual(parseRpmHeader(blob), {
    name: 'openssl-libs',
    version: '3.0.7',
    release: '27.el9',
    epoch: 1,
    arch: 'x86_64',
    sourceRpm: 'openssl-3.0.7-27.el9.src.rpm',
    license: 'ASL 2.0',
  });
});

test('reads the packages of an rpmdb.sqlite in WAL mode, skipping gpg-pubkey and unreadable headers', async () => {
  const image = rpmdb([
    pkgHeader('openssl-libs', '3.0.7', '27.el9', {
      [RPMTAG.EPOCH]: { type: RPM_TYPE.INT32, value: 1 },
      [RPMTAG.SOURCERPM]: s('openssl-3.0.7-27.el9.src.rpm'),
      [RPMTAG.LICENSE]: s('ASL 2.0'),
    }),
    pkgHeader('glibc-minimal-langpack', '2.34', '100.el9_4.2', { [RPMTAG.SOURCERPM]: s('glibc-2.34-100.el9_4.2.src.rpm') }),
    header({ [RPMTAG.NAME]: s('gpg-pubkey'), [RPMTAG.VERSION]: s('fd431d51'), [RPMTAG.RELEASE]: s('4ae0493b') }),
    header({ [RPMTAG.NAME]: s('no-version') }),
    Buffer.from('not a header'),
  ]);
  const packages = await rpmExtractor.extract(ENTRY, image, DEFAULT_SCAN_LIMITS);
  assert.deepEqual(packages, [
    {
      name: 'openssl-libs',
      version: '1:3.0.7-27.el9',
      ecosystem: 'Red Hat',
      kind: 'os',
      sourceName: 'openssl',
      layerDigest: 'sha256:l1',
      path: 'var/lib/rpm/rpmdb.sqlite',
      purl: 'pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1',
      arch: 'x86_64',
      licenses: ['ASL 2.0'],
    },
    {
      name: 'glibc-minimal-langpack',
      version: '2.34-100.el9_4.2',
      ecosystem: 'Red Hat',
      kind: 'os',
      sourceName: 'glibc',
      layerDigest: 'sha256:l1',
      path: 'var/lib/rpm/rpmdb.sqlite',
      purl: 'pkg:rpm/redhat/glibc-minimal-langpack@2.34-100.el9_4.2?arch=x86_64',
      arch: 'x86_64',
    },
  ]);
  assert.equal(image[18], 2, 'the content handed in is not modified');
});

test('hostile and truncated headers never throw', () => {
  const good = pkgHeader('bash', '5.1.8', '9.el9', { [RPMTAG.EPOCH]: { type: RPM_TYPE.INT32, value: 7 } });
  for (let length = 0; length < good.length; length++) {
    const h = parseRpmHeader(good.subarray(0, length));
    assert.equal(h, undefined, `a blob cut to ${length} bytes has no header`);
  }
  const patched = (at: number, value: number): Buffer => {
    const b = Buffer.from(good);
    b.writeUInt32BE(value >>> 0, at);
    return b;
  };
  assert.equal(parseRpmHeader(patched(0, 0xffffffff)), undefined, 'huge index count');
  assert.equal(parseRpmHeader(patched(4, 0xffffffff)), undefined, 'huge data length');
  // Entries after the region entry, by tag: NAME, VERSION, RELEASE, EPOCH, ARCH.
  assert.equal(parseRpmHeader(patched(8 + 16 + 8, 0xfffffff0))?.name, undefined, 'name offset outside the data');
  assert.equal(parseRpmHeader(patched(8 + 16 + 4, RPM_TYPE.INT32))?.name, undefined, 'name of the wrong type');
  assert.equal(parseRpmHeader(patched(8 + 4 * 16 + 8, 0xfffffffe))?.epoch, undefined, 'epoch offset outside the data');
  assert.equal(parseRpmHeader(patched(8 + 4 * 16 + 12, 0))?.epoch, undefined, 'epoch with count 0');
  // One NAME entry whose string runs to the end of the data store without its NUL.
  const noNul = Buffer.alloc(8 + 16 + 3);
  noNul.writeUInt32BE(1, 0);
  noNul.writeUInt32BE(3, 4);
  noNul.writeUInt32BE(RPMTAG.NAME, 8);
  noNul.writeUInt32BE(RPM_TYPE.STRING, 12);
  noNul.writeUInt32BE(0, 16);
  noNul.writeUInt32BE(1, 20);
  noNul.write('abc', 24);
  assert.deepEqual(parseRpmHeader(noNul), {});
  noNul[26] = 0;
  assert.deepEqual(parseRpmHeader(noNul), { name: 'ab' });

  let seed = 42;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good);
    for (let j = 0; j < 4; j++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
    assert.doesNotThrow(() => parseRpmHeader(b));
  }
});

test('files that are not a plain Packages table give no packages', async () => {
  const blob = pkgHeader('bash', '5.1.8', '9.el9');
  const view = rpmdb([], 'CREATE TABLE real (blob BLOB); CREATE VIEW Packages AS SELECT blob FROM real');
  const generated = rpmdb([], 'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, raw BLOB, blob BLOB GENERATED ALWAYS AS (raw) VIRTUAL)');
  const good = rpmdb([blob]);
  for (const [name, content] of [
    ['a view', view],
    ['a generated column', generated],
    ['not SQLite', Buffer.from('SQLite format 2\u0000'.padEnd(200, 'x'))],
    ['a truncated database', good.subarray(0, 1024)],
    ['empty', Buffer.alloc(0)],
  ] as const) {
    assert.deepEqual(await rpmExtractor.extract(ENTRY, content, DEFAULT_SCAN_LIMITS), [], name);
  }
  assert.equal(rpmdbHeaderBlobs(good).length, 1);
});
