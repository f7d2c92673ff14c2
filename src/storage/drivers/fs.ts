// Filesystem storage driver: objects are files under a root directory. New objects are written to a
// temporary file, fsynced and renamed into place, so a reader never sees a partial object.
import { randomBytes } from 'node:crypto';
import { constants, type Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, type ByteRange, type ObjectInfo, type ObjectWriter, type StorageDriver } from '../driver.ts';
import { BufferPool } from '../buffer-pool.ts';

/** Start writing back dirty pages every this many bytes, so the final fsync has little left to do. */
const SYNC_EVERY = 32 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
/** Shared by all reads: 64 MiB of buffers at most stay allocated for reuse. */
const readPool = new BufferPool(READ_CHUNK, 64);
/** Temporary files of writers in progress (or of writers that died): `<key>.tmp-<12 hex>`. Not objects. */
const TEMP_FILE = /\.tmp-[0-9a-f]{12}$/;

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export interface FsDriverOptions {
  root: string;
  /** fsync files and directories before an object becomes visible (default true). */
  fsync?: boolean;
}

class FsWriter extends Writable implements ObjectWriter {
  private readonly fh: FileHandle;
  private readonly driver: FsDriver;
  private readonly finalPath: string;
  private readonly tmpPath: string | null;
  private readonly fsync: boolean;
  private written = 0;
  private sinceSync = 0;
  private syncing: Promise<void> | null = null;
  /** The write handed to the file system and not finished yet (the Writable issues one at a time). */
  private writing: Promise<void> | null = null;
  private readonly startSize: number;
  private done = false;

  constructor(driver: FsDriver, fh: FileHandle, finalPath: string, tmpPath: string | null, startSize: number, fsync: boolean) {
    super({ highWaterMark: 2 * 1024 * 1024, decodeStrings: true });
    this.driver = driver;
    this.fh = fh;
    this.finalPath = finalPath;
    this.tmpPath = tmpPath;
    this.startSize = startSize;
    this.fsync = fsync;
  }

  get size(): number {
    return this.startSize + this.written;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeBuffers([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.writeBuffers(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private writeBuffers(buffers: Buffer[], cb: (err?: Error | null) => void): void {
    let total = 0;
    for (const b of buffers) total += b.length;
    const write = async (): Promise<void> => {
      let left = total;
      let bufs = buffers;
      while (left > 0) {
        const { bytesWritten } = await this.fh.writev(bufs);
        left -= bytesWritten;
        if (left > 0) bufs = remaining(bufs, bytesWritten);
      }
    };
    const writing = write();
    this.writing = writing;
    writing.then(
      () => {
        this.writing = null;
        this.written += total;
        this.sinceSync += total;
        if (this.fsync && this.sinceSync >= SYNC_EVERY && this.syncing === null) {
          this.sinceSync = 0;
          this.syncing = this.fh.datasync().finally(() => (this.syncing = null));
          this.syncing.catch(() => undefined);
        }
        cb();
      },
      (e: unknown) => {
        this.writing = null;
        cb(e as Error);
      },
    );
  }

  async commit(): Promise<void> {
    if (this.done) throw new Error('writer already committed or cancelled');
    if (!this.writableFinished) {
      await new Promise<void>((resolve, reject) => {
        this.once('error', reject);
        this.end(() => resolve());
      });
    }
    this.done = true;
    try {
      if (this.syncing !== null) await this.syncing;
      if (this.fsync) await this.fh.datasync();
    } finally {
      await this.fh.close();
    }
    if (this.tmpPath !== null) {
      await rename(this.tmpPath, this.finalPath);
      if (this.fsync) await this.driver.syncDir(dirname(this.finalPath));
    }
  }

  async cancel(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.destroy();
    // A write still in flight would land after the truncate below: wait for it first.
    if (this.writing !== null) await this.writing.catch(() => undefined);
    if (this.syncing !== null) await this.syncing.catch(() => undefined);
    // An append writer takes back what it appended; a new object's temporary file goes away.
    if (this.tmpPath === null) await this.fh.truncate(this.startSize).catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    if (this.tmpPath !== null) await unlink(this.tmpPath).catch(() => undefined);
  }
}

function remaining(bufs: Buffer[], consumed: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = consumed;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

export class FsDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly appendable = true;
  readonly root: string;
  private readonly fsync: boolean;
  private readonly knownDirs = new Set<string>();

  constructor(opts: FsDriverOptions) {
    this.root = opts.root;
    this.fsync = opts.fsync ?? true;
  }

  private path(key: string): string {
    if (key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.')) throw new Error(`invalid storage key ${key}`);
    return join(this.root, key);
  }

  /** Runs `fn`; if it fails because the directory vanished (removed behind our back), recreates it once. */
  private async inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    await this.ensureDir(dir);
    try {
      return await fn();
    } catch (e) {
      if (!isErrno(e, 'ENOENT') || !this.knownDirs.has(dir)) throw e;
      this.knownDirs.delete(dir);
      await this.ensureDir(dir);
      return await fn();
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.knownDirs.size > 10_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  async syncDir(dir: string): Promise<void> {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.path(key));
      if (!s.isFile()) return null;
      return { size: s.size, modifiedAt: s.mtimeMs };
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return null;
      throw e;
    }
  }

  /** Opens an object for reading; NotFoundError when absent. */
  private async openForRead(key: string): Promise<FileHandle> {
    try {
      return await open(this.path(key), 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw new NotFoundError(key);
      throw e;
    }
  }

  async reader(key: string, range?: ByteRange): Promise<Readable> {
    const fh = await this.openForRead(key);
    return fh.createReadStream({ start: range?.start, end: range?.end, highWaterMark: READ_CHUNK, autoClose: true });
  }

  /**
   * Double-buffered copy: while the socket takes one buffer, the next is read from disk; a buffer is
   * reused only after the destination's write callback says its bytes were handed on.
   */
  async copyTo(key: string, dest: Writable, range?: ByteRange, onOpen?: () => void): Promise<void> {
    const fh = await this.openForRead(key);
    const taken: Buffer[] = [];
    onOpen?.();
    const inFlight: Array<Promise<void> | null> = [null, null];
    try {
      const start = range?.start ?? 0;
      const end = range?.end ?? (await fh.stat()).size - 1;
      let pos = start;
      let slot = 0;
      while (pos <= end) {
        if (dest.destroyed) throw new Error('destination closed');
        const prev = inFlight[slot];
        if (prev !== null && prev !== undefined) await prev;
        let buf = taken[slot];
        if (buf === undefined) {
          buf = readPool.take();
          taken[slot] = buf;
        }
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos + 1), pos);
        if (bytesRead === 0) throw new Error(`storage: ${key} ended at byte ${pos}, before ${end + 1}`);
        pos += bytesRead;
        const chunk = buf.subarray(0, bytesRead);
        inFlight[slot] = new Promise<void>((resolve, reject) => {
          dest.write(chunk, (err) => (err === null || err === undefined ? resolve() : reject(err)));
        });
        // The promise is awaited before the buffer is reused; a rejection is surfaced there.
        inFlight[slot]?.catch(() => undefined);
        slot ^= 1;
      }
      for (const p of inFlight) if (p !== null) await p;
      for (const b of taken) readPool.give(b);
    } finally {
      await fh.close();
    }
  }

  async writer(key: string, opts: { append?: boolean } = {}): Promise<ObjectWriter> {
    const finalPath = this.path(key);
    if (opts.append === true) {
      const fh = await this.inDir(dirname(finalPath), () => open(finalPath, 'a'));
      try {
        const { size } = await fh.stat();
        return new FsWriter(this, fh, finalPath, null, size, this.fsync);
      } catch (e) {
        await fh.close();
        throw e;
      }
    }
    const tmpPath = `${finalPath}.tmp-${randomBytes(6).toString('hex')}`;
    const fh = await this.inDir(dirname(finalPath), () => open(tmpPath, 'wx'));
    return new FsWriter(this, fh, finalPath, tmpPath, 0, this.fsync);
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw new NotFoundError(key);
      throw e;
    }
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const w = await this.writer(key);
    try {
      w.write(data);
      await w.commit();
    } catch (e) {
      await w.cancel();
      throw e;
    }
  }

  async concat(sources: readonly string[], dest: string): Promise<void> {
    const handles: FileHandle[] = [];
    try {
      // Open every source first: an absent one fails before anything is written.
      for (const k of sources) handles.push(await this.openForRead(k));
      const w = await this.writer(dest);
      try {
        for (const fh of handles) await pipeline(fh.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false }), w, { end: false });
        await w.commit();
      } catch (e) {
        await w.cancel();
        throw e;
      }
    } finally {
      for (const fh of handles) await fh.close().catch(() => undefined);
    }
  }

  async move(from: string, to: string): Promise<void> {
    const src = this.path(from);
    const dst = this.path(to);
    try {
      await this.inDir(dirname(dst), () => rename(src, dst));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new NotFoundError(from);
      throw e;
    }
    if (this.fsync) await this.syncDir(dirname(dst));
  }

  async delete(key: string): Promise<void> {
    if (key.endsWith('/')) {
      const dir = this.path(key.slice(0, -1));
      await rm(dir, { recursive: true, force: true });
      this.forgetDirs(dir);
      return;
    }
    try {
      await unlink(this.path(key));
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return;
      if (isErrno(e, 'EISDIR')) {
        await rm(this.path(key), { recursive: true, force: true });
        return;
      }
      throw e;
    }
  }

  private forgetDirs(dir: string): void {
    for (const d of this.knownDirs) if (d === dir || d.startsWith(dir + sep)) this.knownDirs.delete(d);
  }

  async *list(prefix: string): AsyncIterable<string> {
    const base = this.path(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    let entries: Dirent[];
    try {
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return;
      throw e;
    }
    for (const d of entries) {
      if (!d.isFile() || TEMP_FILE.test(d.name)) continue;
      yield relative(this.root, join(d.parentPath, d.name)).split(sep).join('/');
    }
  }

  async check(): Promise<void> {
    await this.ensureDir(this.root);
    await this.put('.berth-check', Buffer.from(String(Date.now())));
    await this.delete('.berth-check');
  }
}
