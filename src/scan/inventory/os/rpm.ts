// rpm's database of installed packages in its SQLite form (rpm >= 4.16: Fedora 33+, RHEL/AlmaLinux/
// Rocky 9+, at `var/lib/rpm/rpmdb.sqlite` or `usr/lib/sysimage/rpm/rpmdb.sqlite`): the `Packages`
// table holds one header blob per package. The blob is rpm's header format without its magic
// (rpm doc/manual/format.md, "Header"): index count and data length (big-endian uint32), 16-byte
// index entries (tag, type, offset, count), then the data store. Tags from lib/rpmtag.h. Older
// BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases are not read.
import { DatabaseSync } from 'node:sqlite';
import type { Extractor, FileEntry, Package } from '../../types.ts';
import { osPurl, plausible, plausibleOrUndefined } from './common.ts';

const RPMDB_PATHS: readonly string[] = ['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite'];

export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  LICENSE: 1014,
  ARCH: 1022,
  SOURCERPM: 1044,
} as const;

export const RPM_TYPE = { INT32: 4, STRING: 6, STRING_ARRAY: 8, I18NSTRING: 9 } as const;

/** The fields of one rpm header this scanner uses; absent when the header lacks them or they are malformed. */
export interface RpmHeader {
  name?: string;
  version?: string;
  release?: string;
  epoch?: number;
  license?: string;
  arch?: string;
  sourceRpm?: string;
}

const STRING_FIELDS = new Map<number, 'name' | 'version' | 'release' | 'license' | 'arch' | 'sourceRpm'>([
  [RPMTAG.NAME, 'name'],
  [RPMTAG.VERSION, 'version'],
  [RPMTAG.RELEASE, 'release'],
  [RPMTAG.LICENSE, 'license'],
  [RPMTAG.ARCH, 'arch'],
  [RPMTAG.SOURCERPM, 'sourceRpm'],
]);

/** Reads an rpm header blob; every offset is checked against the blob, so hostile input gives undefined or missing fields. */
export function parseRpmHeader(blob: Uint8Array): RpmHeader | undefined {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 8) return undefined;
  const indexCount = buf.readUInt32BE(0);
  const dataLength = buf.readUInt32BE(4);
  const dataStart = 8 + indexCount * 16;
  if (dataStart + dataLength > buf.length) return undefined;
  const data = buf.subarray(dataStart, dataStart + dataLength);
  const header: RpmHeader = {};
  for (let i = 0; i < indexCount; i++) {
    const at = 8 + i * 16;
    const tag = buf.readUInt32BE(at);
    const type = buf.readUInt32BE(at + 4);
    const offset = buf.readUInt32BE(at + 8);
    const count = buf.readUInt32BE(at + 12);
    const field = STRING_FIELDS.get(tag);
    if (field !== undefined && header[field] === undefined) {
      const value = stringAt(data, type, offset, count);
      if (value !== undefined) header[field] = value;
    } else if (tag === RPMTAG.EPOCH && header.epoch === undefined) {
      const value = int32At(data, type, offset, count);
      if (value !== undefined) header.epoch = value;
    }
  }
  return header;
}

/** The first string of a STRING, STRING_ARRAY or I18NSTRING entry: NUL-terminated inside the data store. */
function stringAt(data: Buffer, type: number, offset: number, count: number): string | undefined {
  if (type !== RPM_TYPE.STRING && type !== RPM_TYPE.STRING_ARRAY && type !== RPM_TYPE.I18NSTRING) return undefined;
  if (count < 1 || offset >= data.length) return undefined;
  const end = data.indexOf(0, offset);
  return end < 0 ? undefined : data.toString('utf8', offset, end);
}

function int32At(data: Buffer, type: number, offset: number, count: number): number | undefined {
  if (type !== RPM_TYPE.INT32 || count < 1 || offset + 4 > data.length) return undefined;
  return data.readUInt32BE(offset);
}

/** `glibc-2.34-60.el9.src.rpm` → `glibc`: the name before the last two `-` separated parts. */
function sourceName(sourceRpm: string | undefined): string | undefined {
  const nvr = sourceRpm?.replace(/\.(?:no)?src\.rpm$/, '');
  if (nvr === undefined || nvr === sourceRpm) return undefined;
  const release = nvr.lastIndexOf('-');
  const version = release > 0 ? nvr.lastIndexOf('-', release - 1) : -1;
  return version > 0 ? nvr.slice(0, version) : undefined;
}

function toPackage(entry: FileEntry, h: RpmHeader): Package | undefined {
  const { name, version, release, epoch } = h;
  if (!plausible(name, 'name') || !plausible(version, 'version') || !plausible(release, 'version')) return undefined;
  if (name === 'gpg-pubkey') return undefined; // imported signing keys, not software
  const arch = plausibleOrUndefined(h.arch);
  const pkg: Package = {
    name,
    version: epoch === undefined ? `${version}-${release}` : `${epoch}:${version}-${release}`,
    ecosystem: 'Red Hat',
    kind: 'os',
    layerDigest: entry.layerDigest,
    path: entry.path,
    purl: osPurl('rpm', 'redhat', name, `${version}-${release}`, { arch, epoch: epoch?.toString() }),
  };
  const source = sourceName(h.sourceRpm);
  if (plausible(source, 'name')) pkg.sourceName = source;
  if (arch !== undefined) pkg.arch = arch;
  if (h.license !== undefined && h.license !== '') pkg.licenses = [h.license];
  return pkg;
}

const SQLITE_MAGIC = 'SQLite format 3\u0000';

/**
 * The header blobs of an rpmdb.sqlite image, read in memory (node:sqlite deserialize; nothing is
 * written to disk). Only a plain `Packages` table is read, so a hostile file cannot make the query
 * run views or generated columns. As many blobs as could be read before any corruption.
 */
export function rpmdbHeaderBlobs(content: Buffer): Uint8Array[] {
  const blobs: Uint8Array[] = [];
  if (content.length < 100 || content.toString('latin1', 0, 16) !== SQLITE_MAGIC) return blobs;
  const image = Buffer.from(content);
  // rpm leaves its database in WAL mode (file format versions 2 at offsets 18/19), which an
  // in-memory database cannot open; 1 is the same file in rollback-journal mode. A -wal file beside
  // it is not read (rpm checkpoints it when it closes the database).
  if (image[18] === 2) image[18] = 1;
  if (image[19] === 2) image[19] = 1;
  const db = new DatabaseSync(':memory:', { defensive: true });
  try {
    db.deserialize(image);
    if (!isPlainPackagesTable(db)) return blobs;
    for (const row of db.prepare('SELECT blob FROM Packages ORDER BY rowid').iterate()) {
      if (row.blob instanceof Uint8Array) blobs.push(row.blob);
    }
  } catch {
    // not a database, or corrupt: keep what was read
  } finally {
    db.close();
  }
  return blobs;
}

function isPlainPackagesTable(db: DatabaseSync): boolean {
  const schema = db.prepare("SELECT type, sql FROM sqlite_schema WHERE name = 'Packages'").get();
  if (schema?.type !== 'table' || typeof schema.sql !== 'string' || !/^CREATE\s+TABLE\b/i.test(schema.sql)) return false;
  const columns = db.prepare("SELECT name, hidden FROM pragma_table_xinfo('Packages')").all();
  return columns.some((c) => c.name === 'blob') && columns.every((c) => c.hidden === 0);
}

export const rpmExtractor: Extractor = {
  name: 'rpm',
  wants: (entry) => RPMDB_PATHS.includes(entry.path),
  extract(entry, content) {
    const packages: Package[] = [];
    for (const blob of rpmdbHeaderBlobs(content)) {
      const header = parseRpmHeader(blob);
      const pkg = header === undefined ? undefined : toPackage(entry, header);
      if (pkg !== undefined) packages.push(pkg);
    }
    return packages;
  },
};
