// Deterministic, cheap blob content for the benchmark.
//
// Every blob is a repetition of one pseudo-random 1 MiB block (filled once from a seeded xorshift32),
// with a 16-byte header at the start of each 1 MiB block that names the case, the blob and the block.
// So every blob (and every block of every blob) is different, which keeps deduplication from
// flattering either server, yet producing content costs one memcpy per MiB. Content is a pure
// function of (caseId, index, offset), so any byte range can be produced on its own (needed for
// chunked uploads) and the digest can be computed in a separate pass before timing starts.
import { createHash } from 'node:crypto';

/** Size of the repeated block, and of the buffers the client writes. */
export const BLOCK = 1 << 20;
const HEADER = 16;
const MAGIC = 0x6274_6862; // "bhtb"

export interface BlobSpec {
  /** The case this blob belongs to (0 for the warm-up). */
  readonly caseId: number;
  /** Index of the blob within its case. */
  readonly index: number;
  /** Size in bytes. */
  readonly size: number;
}

function makeBase(seed: number): Buffer {
  const ab = new ArrayBuffer(BLOCK);
  const words = new Uint32Array(ab);
  let x = seed >>> 0 || 0x9e37_79b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(ab);
}

const base = makeBase(0x5eed_b347);
const header = Buffer.alloc(HEADER);

function writeHeader(blob: BlobSpec, block: number): void {
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(blob.caseId >>> 0, 4);
  header.writeUInt32LE(blob.index >>> 0, 8);
  header.writeUInt32LE(block >>> 0, 12);
}

/** Fill `dst[0, len)` with the bytes of `blob` at `[offset, offset + len)`. */
export function fillBlob(dst: Buffer, blob: BlobSpec, offset: number, len: number): void {
  if (len > dst.length) throw new RangeError(`fillBlob: ${len} bytes do not fit a ${dst.length}-byte buffer`);
  if (offset < 0 || offset + len > blob.size) throw new RangeError('fillBlob: range outside the blob');
  let done = 0;
  while (done < len) {
    const pos = offset + done;
    const block = Math.floor(pos / BLOCK);
    const inBlock = pos - block * BLOCK;
    const n = Math.min(len - done, BLOCK - inBlock);
    base.copy(dst, done, inBlock, inBlock + n);
    if (inBlock < HEADER) {
      writeHeader(blob, block);
      header.copy(dst, done, inBlock, Math.min(HEADER, inBlock + n));
    }
    done += n;
  }
}

/** The `sha256:<hex>` digest of a blob, computed by generating it once. */
export function digestOf(blob: BlobSpec, scratch: Buffer = Buffer.allocUnsafe(BLOCK)): string {
  const h = createHash('sha256');
  for (let off = 0; off < blob.size; off += scratch.length) {
    const n = Math.min(scratch.length, blob.size - off);
    fillBlob(scratch, blob, off, n);
    h.update(n === scratch.length ? scratch : scratch.subarray(0, n));
  }
  return `sha256:${h.digest('hex')}`;
}
