// Reads OSV advisories from where osv.dev and advisory databases put them: a directory tree of
// `<id>.json` files (one subdirectory per ecosystem, as osv.dev's GCS bucket and most database
// repositories), per-ecosystem `all.zip` exports (https://google.github.io/osv.dev/data/), alone or
// inside such a tree, or one JSON file. Records come one at a time with bounded memory: zip entries
// are read one by one (yauzl, lazyEntries) and no record larger than `maxRecordBytes` is read. A
// record that cannot be read or fails the schema is reported as `{ file, error }` and the import
// goes on; an archive that cannot be read (not a zip, a broken central directory, too many entries)
// throws, so a partial import is never mistaken for a whole one. Symbolic links in a tree are
// reported, never followed. Withdrawn records are yielded like the others: the store decides.
import { constants } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import type { OsvRecord } from '../types.ts';
import { MAX_OSV_RECORD_BYTES, parseOsvJson } from './schema.ts';

export interface OsvSourceOptions {
  /** Bytes of one record's JSON (default MAX_OSV_RECORD_BYTES, 4 MiB). */
  maxRecordBytes?: number;
  /** Entries of one zip archive (default 1,000,000). */
  maxZipEntries?: number;
}

/**
 * One advisory file: its record, or why it has none. `file` is relative to the source: `PyPI/PYSEC-2021-1.json`
 * in a tree, the entry name in a zip, `PyPI/all.zip!/PYSEC-2021-1.json` for a zip inside a tree.
 */
export interface OsvSourceItem {
  file: string;
  record?: OsvRecord;
  error?: string;
}

const DEFAULT_MAX_ZIP_ENTRIES = 1_000_000;

/** The advisories of a directory tree, a zip archive or a JSON file, one at a time. */
export async function* readOsvSource(path: string, opts: OsvSourceOptions = {}): AsyncGenerator<OsvSourceItem> {
  const limits = { maxRecordBytes: opts.maxRecordBytes ?? MAX_OSV_RECORD_BYTES, maxZipEntries: opts.maxZipEntries ?? DEFAULT_MAX_ZIP_ENTRIES };
  const info = await stat(path);
  if (info.isDirectory()) yield* readTree(path, '', limits);
  else if (path.endsWith('.zip')) yield* readZip(path, '', limits);
  else if (path.endsWith('.json')) yield await readJsonFile(await realpath(path), path, limits.maxRecordBytes);
  else throw new Error(`${path}: not a directory, a .zip archive or a .json file`);
}

type Limits = Required<OsvSourceOptions>;

async function* readTree(dir: string, prefix: string, limits: Limits): AsyncGenerator<OsvSourceItem> {
  // Names are unique within a directory; code-unit order makes the walk the same everywhere.
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    const file = prefix + entry.name;
    if (entry.isSymbolicLink()) yield { file, error: 'symbolic link, not followed' };
    else if (entry.isDirectory()) yield* readTree(full, `${file}/`, limits);
    else if (entry.isFile() && entry.name.endsWith('.json')) yield await readJsonFile(full, file, limits.maxRecordBytes);
    else if (entry.isFile() && entry.name.endsWith('.zip')) yield* readZip(full, `${file}!/`, limits);
  }
}

async function readJsonFile(full: string, file: string, maxBytes: number): Promise<OsvSourceItem> {
  let bytes: Buffer;
  try {
    // O_NOFOLLOW: a file replaced by a link after the tree was listed is not followed either.
    await using handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
    const info = await handle.stat();
    if (!info.isFile()) return { file, error: 'not a regular file' };
    if (info.size > maxBytes) return { file, error: `record is ${info.size} bytes, more than the ${maxBytes} allowed` };
    bytes = await handle.readFile();
  } catch (e) {
    return { file, error: `cannot read: ${(e as Error).message}` };
  }
  return withRecord(file, parseOsvJson(bytes, maxBytes));
}

async function* readZip(full: string, prefix: string, limits: Limits): AsyncGenerator<OsvSourceItem> {
  const where = prefix === '' ? full : prefix.slice(0, -2);
  let zip: yauzl.ZipFile;
  try {
    // validateEntrySizes: an entry's stream fails as soon as it gives more bytes than its header
    // declares, so checking the declared size bounds what is read (a zip bomb cannot lie its way in).
    zip = await yauzl.openPromise(full, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  } catch (e) {
    throw new Error(`${where}: not a readable zip archive (${(e as Error).message})`, { cause: e });
  }
  try {
    if (zip.entryCount > limits.maxZipEntries) {
      throw new Error(`${where}: ${zip.entryCount} entries, more than the ${limits.maxZipEntries} allowed`);
    }
    try {
      for await (const entry of zip.eachEntry()) {
        if (entry.fileName.endsWith('.json')) yield await readZipEntry(zip, entry, prefix + entry.fileName, limits.maxRecordBytes);
      }
    } catch (e) {
      // Only listing the central directory throws here: entry problems are items.
      throw new Error(`${where}: broken zip archive (${(e as Error).message})`, { cause: e });
    }
  } finally {
    zip.close();
  }
}

async function readZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, file: string, maxBytes: number): Promise<OsvSourceItem> {
  if (entry.uncompressedSize > maxBytes) return { file, error: `record is ${entry.uncompressedSize} bytes, more than the ${maxBytes} allowed` };
  let bytes: Buffer;
  try {
    const stream = await zip.openReadStreamPromise(entry);
    bytes = Buffer.concat((await stream.toArray()) as Buffer[]);
  } catch (e) {
    return { file, error: `cannot read zip entry: ${(e as Error).message}` };
  }
  return withRecord(file, parseOsvJson(bytes, maxBytes));
}

function withRecord(file: string, parsed: ReturnType<typeof parseOsvJson>): OsvSourceItem {
  return parsed.ok ? { file, record: parsed.record } : { file, error: parsed.error };
}
