// The layer reader: streams one image layer once, without ever writing to the filesystem, and yields
// its tar entries with normalised paths. The compression is sniffed from the first bytes (gzip
// RFC 1952 `1f 8b`, zstd RFC 8878 `28 b5 2f fd` or a skippable frame, else a plain tar), because
// registries and tools mislabel layers; the media type is only a hint (encrypted layers are refused).
// Whiteouts follow the OCI image layer spec (image-spec/layer.md: `.wh.<name>`, `.wh..wh..opq`).
// ScanLimits bound the decompressed bytes, entries and path lengths; only files the caller wants are
// buffered (up to maxFileBytes), everything else is drained.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { extract as tarExtract, type Header } from 'tar-stream';
import { DEFAULT_SCAN_LIMITS, ScanFailure, type FileEntry, type ScanLimits } from './types.ts';

/** A layer blob as the registry stores it. */
export interface LayerSource {
  digest: string;
  /** The descriptor's media type; a hint only, the bytes decide the compression. */
  mediaType?: string;
  open(): Promise<Readable>;
}

/** One entry of a layer. Paths are normalised: relative to the image root, no `.`/`..` segments, no trailing `/`. */
export type LayerEntry =
  /** A regular file; `content` is set when the caller wanted it. */
  | { type: 'file'; path: string; file: FileEntry; content?: Buffer }
  | { type: 'directory'; path: string }
  /** `target` as recorded in the tar (absolute or relative); never followed. */
  | { type: 'symlink'; path: string; target: string }
  /** `target` is the normalised path of the linked file (tar hard links name a path of the archive). */
  | { type: 'hardlink'; path: string; target: string }
  /** Devices, fifos and other special files. */
  | { type: 'other'; path: string }
  /** `.wh.<name>`: `path` (file or whole directory) of lower layers is deleted. */
  | { type: 'whiteout'; path: string }
  /** `.wh..wh..opq`: everything lower layers put under the directory `path` is hidden (`''` is the root). */
  | { type: 'opaque'; path: string };

/** Running totals over all layers of one image; pass the same object to every readLayer of a scan. */
export interface ImageTally {
  bytes: number;
  entries: number;
}

export interface ReadLayerOptions {
  limits?: ScanLimits;
  /** Regular files whose content to buffer and yield; decided on path, size and mode. */
  wants?: (file: FileEntry) => boolean;
  tally?: ImageTally;
}

type Compression = 'gzip' | 'zstd' | 'none';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * The entries of one layer, in archive order. Fails with ScanFailure `limit` when the layer breaks a
 * limit and `corrupt` when it is not a (gzip/zstd) tar or ends early; errors of the layer's own
 * stream (storage) are passed through unchanged. Entries whose path leaves the root are skipped.
 */
export async function* readLayer(layer: LayerSource, options: ReadLayerOptions = {}): AsyncGenerator<LayerEntry> {
  const limits = options.limits ?? DEFAULT_SCAN_LIMITS;
  const wants = options.wants ?? (() => false);
  const tally = options.tally ?? { bytes: 0, entries: 0 };
  if (layer.mediaType?.endsWith('+encrypted')) {
    throw new ScanFailure('unsupported', `layer ${layer.digest} is encrypted (${layer.mediaType})`);
  }

  let sourceError: unknown;
  const raw = await layer.open();
  const source = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const nextRaw = async (): Promise<IteratorResult<Buffer>> => {
    try {
      return await source.next();
    } catch (err) {
      sourceError = err;
      throw err;
    }
  };
  let compression: Compression = 'none';
  /** Decoding errors become `corrupt`; limits and the layer stream's own errors pass through. */
  const corrupt = (err: unknown): never => {
    if (err instanceof ScanFailure || (sourceError !== undefined && err === sourceError)) throw err;
    const what = compression === 'none' ? 'tar' : `${compression}-compressed tar`;
    const hint = layer.mediaType === undefined ? '' : `, media type ${layer.mediaType}`;
    throw new ScanFailure('corrupt', `layer ${layer.digest} (${what}${hint}) is corrupt or truncated: ${err instanceof Error ? err.message : String(err)}`);
  };

  const extract = tarExtract();
  try {
    const head: Buffer[] = [];
    let headLength = 0;
    while (headLength < 4) {
      const r = await nextRaw();
      if (r.done === true) break;
      head.push(r.value);
      headLength += r.value.length;
    }
    compression = sniff(Buffer.concat(head));
    async function* rawChunks(): AsyncGenerator<Buffer> {
      try {
        yield* head;
        for (let r = await nextRaw(); r.done !== true; r = await nextRaw()) yield r.value;
      } finally {
        raw.destroy();
      }
    }
    const chunks = compression === 'zstd' ? splitZstdFrames(rawChunks()) : rawChunks();
    const stages: (Readable | Transform)[] = [Readable.from(chunks, { objectMode: false })];
    if (compression === 'gzip') stages.push(createGunzip());
    if (compression === 'zstd') stages.push(createZstdDecompress());
    stages.push(byteCounter(layer.digest, limits, tally));
    // tar-stream's extract is a streamx Writable: node's pipeline drives it, its types do not list it.
    const done = (pipeline as (...streams: unknown[]) => Promise<void>)(...stages, extract);
    done.catch(() => {}); // the same error reaches the entry iterator

    const entries = extract[Symbol.asyncIterator]();
    for (let next = await entries.next().catch(corrupt); next.done !== true; next = await entries.next().catch(corrupt)) {
      const entryStream = next.value;
      const header = entryStream.header;
      checkEntry(layer.digest, header, limits, tally);
      const entry = toEntry(layer.digest, header);
      if (entry?.type === 'file' && wants(entry.file)) {
        if (header.size > limits.maxFileBytes) {
          throw new ScanFailure(
            'limit',
            `layer ${layer.digest}: ${entry.path} is ${header.size} bytes, over the limit of ${limits.maxFileBytes} bytes for a file the scanner reads (maxFileBytes)`,
          );
        }
        entry.content = await readAll(entryStream).catch(corrupt);
      } else {
        await drain(entryStream).catch(corrupt);
      }
      if (entry !== undefined) yield entry;
    }
    await done.catch(corrupt);
  } finally {
    extract.destroy();
    raw.destroy();
  }
}

function sniff(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && isZstdMagic(head.readUInt32LE(0))) return 'zstd';
  return 'none';
}

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames have magics 0x184D2A50 to 0x184D2A5F (RFC 8878 section 3.1.2). */
function isSkippableMagic(magic: number): boolean {
  return (magic & 0xfffffff0) >>> 0 === 0x184d2a50;
}
function isZstdMagic(magic: number): boolean {
  return magic === ZSTD_MAGIC || isSkippableMagic(magic);
}

/** Counts decompressed bytes against the layer and image limits. */
function byteCounter(digest: string, limits: ScanLimits, tally: ImageTally): Transform {
  let layerBytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      layerBytes += chunk.length;
      tally.bytes += chunk.length;
      if (layerBytes > limits.maxLayerBytes) {
        callback(new ScanFailure('limit', `layer ${digest} decompresses to more than ${limits.maxLayerBytes} bytes (maxLayerBytes)`));
      } else if (tally.bytes > limits.maxImageBytes) {
        callback(
          new ScanFailure('limit', `the image's layers decompress to more than ${limits.maxImageBytes} bytes in total (maxImageBytes), exceeded in layer ${digest}`),
        );
      } else {
        callback(null, chunk);
      }
    },
  });
}

function checkEntry(digest: string, header: Header, limits: ScanLimits, tally: ImageTally): void {
  tally.entries += 1;
  if (tally.entries > limits.maxFiles) {
    throw new ScanFailure('limit', `the image has more than ${limits.maxFiles} entries (maxFiles), exceeded in layer ${digest}`);
  }
  for (const path of [header.name, header.linkname ?? '']) {
    if (path.length > limits.maxPathLength) {
      throw new ScanFailure(
        'limit',
        `layer ${digest} has a path of ${path.length} characters, over the limit of ${limits.maxPathLength} (maxPathLength): ${path.slice(0, 100)}...`,
      );
    }
  }
}

/**
 * The path relative to the image root: leading `/` and `./`, `.` segments, empty segments and a
 * trailing `/` removed, `..` resolved. `undefined` when `..` would leave the root; `''` is the root.
 */
function normalisePath(name: string): string | undefined {
  const out: string[] = [];
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.pop() === undefined) return undefined;
      continue;
    }
    out.push(segment);
  }
  return out.join('/');
}

function toEntry(digest: string, header: Header): LayerEntry | undefined {
  const path = normalisePath(header.name);
  if (path === undefined || path === '') return undefined;
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (base === OPAQUE_MARKER) return { type: 'opaque', path: dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const name = base.slice(WHITEOUT_PREFIX.length);
    // `.wh..wh.*` other than the opaque marker is aufs bookkeeping, not a whiteout.
    if (name === '' || name === '.' || name === '..' || name.startsWith(WHITEOUT_PREFIX)) return undefined;
    return { type: 'whiteout', path: dir === '' ? name : `${dir}/${name}` };
  }
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      return { type: 'file', path, file: { path, size: header.size, mode: header.mode, layerDigest: digest } };
    case 'directory':
      return { type: 'directory', path };
    case 'symlink':
      return { type: 'symlink', path, target: header.linkname ?? '' };
    case 'link': {
      const target = normalisePath(header.linkname ?? '');
      return target === undefined || target === '' ? undefined : { type: 'hardlink', path, target };
    }
    default:
      return { type: 'other', path };
  }
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}

/**
 * Cuts a zstd stream into pieces that never span two frames and drops skippable frames. Node's zstd
 * decompressor stops at the end of the first frame when one write holds the end of a frame and
 * more data (nodejs/node#64741), and multi-frame layers are common (zstd:chunked, parallel
 * compressors). Only the framing is parsed (RFC 8878 sections 3.1.1 and 3.1.1.2): frame header,
 * block headers, checksum; the bytes pass through unbuffered.
 */
async function* splitZstdFrames(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const splitter = new ZstdFrameSplitter();
  for await (const chunk of chunks) yield* splitter.push(chunk);
  splitter.end();
}

type FramePart = 'magic' | 'skippableSize' | 'skippable' | 'descriptor' | 'header' | 'blockHeader' | 'block' | 'checksum';

class ZstdFrameSplitter {
  #part: FramePart = 'magic';
  /** Bytes still to read of the current part. */
  #need = 4;
  /** The bytes of a small field being read (magic, sizes, descriptor, block header). */
  #field: number[] = [];
  #checksum = false;
  #lastBlock = false;
  /** Pieces of the current frame read from the current chunk. */
  #frame: Buffer[] = [];

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#part === 'header' || this.#part === 'block' || this.#part === 'checksum' || this.#part === 'skippable') {
        const n = Math.min(this.#need, chunk.length - i);
        if (this.#part !== 'skippable') this.#frame.push(chunk.subarray(i, i + n));
        i += n;
        this.#need -= n;
      } else {
        this.#field.push(chunk[i] ?? 0);
        i += 1;
        this.#need -= 1;
      }
      if (this.#need === 0) this.#next(out);
    }
    if (this.#frame.length > 0) out.push(Buffer.concat(this.#frame));
    this.#frame = [];
    return out;
  }

  end(): void {
    if (this.#part !== 'magic' || this.#field.length > 0) throw new Error('zstd stream ends inside a frame');
  }

  /** The current part is complete: parse it and move on (through parts of length 0 too). */
  #next(out: Buffer[]): void {
    const field = Buffer.from(this.#field);
    this.#field = [];
    switch (this.#part) {
      case 'magic': {
        const magic = field.readUInt32LE(0);
        if (isSkippableMagic(magic)) return this.#enter('skippableSize', 4);
        if (magic !== ZSTD_MAGIC) throw new Error(`not a zstd frame (magic ${field.toString('hex')})`);
        this.#frame.push(field);
        return this.#enter('descriptor', 1);
      }
      case 'skippableSize':
        return this.#enter('skippable', field.readUInt32LE(0), out);
      case 'skippable':
        return this.#enter('magic', 4);
      case 'descriptor': {
        const d = field[0] ?? 0;
        if ((d & 0x08) !== 0) throw new Error('zstd frame header has its reserved bit set');
        this.#frame.push(field);
        const singleSegment = (d & 0x20) !== 0;
        const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][d >> 6] ?? 0;
        const dictIdSize = [0, 1, 2, 4][d & 0x03] ?? 0;
        this.#checksum = (d & 0x04) !== 0;
        return this.#enter('header', (singleSegment ? 0 : 1) + dictIdSize + fcsSize, out);
      }
      case 'header':
        return this.#enter('blockHeader', 3);
      case 'blockHeader': {
        this.#frame.push(field);
        const value = field.readUIntLE(0, 3);
        const type = (value >> 1) & 0x03;
        if (type === 3) throw new Error('zstd block of reserved type');
        this.#lastBlock = (value & 1) === 1;
        return this.#enter('block', type === 1 ? 1 : value >> 3, out);
      }
      case 'block':
        if (!this.#lastBlock) return this.#enter('blockHeader', 3);
        return this.#enter('checksum', this.#checksum ? 4 : 0, out);
      case 'checksum':
        // End of the frame: hand it over as its own piece.
        if (this.#frame.length > 0) out.push(Buffer.concat(this.#frame));
        this.#frame = [];
        return this.#enter('magic', 4);
    }
  }

  #enter(part: FramePart, need: number, out?: Buffer[]): void {
    this.#part = part;
    this.#need = need;
    if (need === 0 && out !== undefined) this.#next(out);
  }
}
