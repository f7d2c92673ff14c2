// In-memory storage driver, for tests.
import { Readable, Writable } from 'node:stream';
import { NotFoundError, type ByteRange, type ObjectInfo, type ObjectWriter, type StorageDriver } from '../driver.ts';

/** The same key rules as the filesystem driver: relative, no '.' or '..' segments. */
function checkKey(key: string): void {
  if (key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.')) throw new Error(`invalid storage key ${key}`);
}

interface Obj {
  data: Buffer;
  modifiedAt: number;
}

class MemoryWriter extends Writable implements ObjectWriter {
  private readonly chunks: Buffer[] = [];
  private readonly driver: MemoryDriver;
  private readonly key: string;
  private readonly append: boolean;
  private readonly base: number;
  private written = 0;
  private done = false;

  constructor(driver: MemoryDriver, key: string, append: boolean, base: number) {
    super();
    this.driver = driver;
    this.key = key;
    this.append = append;
    this.base = base;
  }

  get size(): number {
    return this.base + this.written;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    this.written += chunk.length;
    if (this.append) this.driver.appendNow(this.key, chunk);
    cb();
  }

  async commit(): Promise<void> {
    if (this.done) throw new Error('writer already committed or cancelled');
    if (!this.writableFinished) await new Promise<void>((resolve) => this.end(() => resolve()));
    this.done = true;
    if (!this.append) this.driver.objects.set(this.key, { data: Buffer.concat(this.chunks), modifiedAt: Date.now() });
  }

  async cancel(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.destroy();
    if (this.append) this.driver.truncate(this.key, this.base);
  }
}

export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  readonly appendable = true;
  readonly objects = new Map<string, Obj>();

  appendNow(key: string, chunk: Buffer): void {
    const o = this.objects.get(key);
    this.objects.set(key, { data: o === undefined ? Buffer.from(chunk) : Buffer.concat([o.data, chunk]), modifiedAt: Date.now() });
  }

  truncate(key: string, size: number): void {
    const o = this.objects.get(key);
    if (o !== undefined) this.objects.set(key, { data: o.data.subarray(0, size), modifiedAt: Date.now() });
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const o = this.objects.get(key);
    return o === undefined ? null : { size: o.data.length, modifiedAt: o.modifiedAt };
  }

  async reader(key: string, range?: ByteRange): Promise<Readable> {
    checkKey(key);
    const o = this.objects.get(key);
    if (o === undefined) throw new NotFoundError(key);
    const data = range === undefined ? o.data : o.data.subarray(range.start, range.end + 1);
    return Readable.from([data]);
  }

  async copyTo(key: string, dest: Writable, range?: ByteRange, onOpen?: () => void): Promise<void> {
    checkKey(key);
    const o = this.objects.get(key);
    if (o === undefined) throw new NotFoundError(key);
    onOpen?.();
    const data = range === undefined ? o.data : o.data.subarray(range.start, range.end + 1);
    if (data.length === 0) return;
    await new Promise<void>((resolve, reject) => dest.write(Buffer.from(data), (err) => (err === null || err === undefined ? resolve() : reject(err))));
  }

  async writer(key: string, opts: { append?: boolean } = {}): Promise<ObjectWriter> {
    checkKey(key);
    const append = opts.append === true;
    if (append && !this.objects.has(key)) this.objects.set(key, { data: Buffer.alloc(0), modifiedAt: Date.now() });
    return new MemoryWriter(this, key, append, append ? (this.objects.get(key)?.data.length ?? 0) : 0);
  }

  async get(key: string): Promise<Buffer> {
    checkKey(key);
    const o = this.objects.get(key);
    if (o === undefined) throw new NotFoundError(key);
    return Buffer.from(o.data);
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    checkKey(key);
    this.objects.set(key, { data: Buffer.from(data), modifiedAt: Date.now() });
  }

  async concat(sources: readonly string[], dest: string): Promise<void> {
    checkKey(dest);
    const parts = sources.map((k) => {
      checkKey(k);
      const o = this.objects.get(k);
      if (o === undefined) throw new NotFoundError(k);
      return o.data;
    });
    this.objects.set(dest, { data: Buffer.concat(parts), modifiedAt: Date.now() });
  }

  async move(from: string, to: string): Promise<void> {
    checkKey(from);
    checkKey(to);
    const o = this.objects.get(from);
    if (o === undefined) throw new NotFoundError(from);
    this.objects.delete(from);
    this.objects.set(to, o);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    if (key.endsWith('/')) {
      for (const k of [...this.objects.keys()]) if (k.startsWith(key)) this.objects.delete(k);
      return;
    }
    this.objects.delete(key);
  }

  async *list(prefix: string): AsyncIterable<string> {
    checkKey(prefix);
    for (const k of [...this.objects.keys()]) if (k.startsWith(prefix)) yield k;
  }

  async check(): Promise<void> {}
}
