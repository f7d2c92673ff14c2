// Resumable upload sessions over any StorageDriver. The bytes of an upload live in storage (not in
// process memory), so an upload survives a restart and can continue in another process. The digest
// is computed while the bytes stream in; the running hash is kept in memory as a cache and rebuilt
// from the stored bytes when it is missing (after a restart) or out of step.
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestMismatch, hashTap, outOfOrder, sizeMismatch } from './hash-tap.ts';
import type { DigestAlgorithm, ParsedDigest } from '../core/digest.ts';
import type { StorageDriver } from './driver.ts';
import type { BlobStore } from './blob-store.ts';
import { uploadDataKey, uploadPrefix } from './paths.ts';

interface HashState {
  algorithm: DigestAlgorithm;
  hash: Hash;
  offset: number;
  usedAt: number;
}

const MAX_CACHED_HASHES = 10_000;

export interface AppendOptions {
  /** Where the chunk must start (from Content-Range); 416 when the upload ends elsewhere. */
  expectedOffset?: number;
  /** The chunk length the client announced; SIZE_INVALID when a different number of bytes arrives. */
  length?: number;
  /** The algorithm of the final digest, when known (monolithic uploads). */
  algorithm?: DigestAlgorithm;
}

/** Where the bytes of upload sessions live until they become a blob (the registry's upload seam). */
export interface UploadStorage {
  /** Starts an upload's data (writes nothing until the first append). */
  create(id: string): Promise<void>;
  /** Bytes received so far. */
  size(id: string): Promise<number>;
  /** Appends a chunk; returns the new size. ChunkOutOfOrder (416) when `expectedOffset` is not the size. */
  append(id: string, source: Readable, opts?: AppendOptions): Promise<number>;
  /** Verifies the bytes against `digest` and makes them the blob; DigestMismatch leaves the upload as it was. */
  finish(id: string, digest: ParsedDigest): Promise<{ size: number }>;
  delete(id: string): Promise<void>;
}

/**
 * Uploads on a driver that can append (the filesystem), in one process: the running hash lives in
 * memory and is rebuilt from the stored bytes when missing.
 */
export class UploadStore implements UploadStorage {
  private readonly driver: StorageDriver;
  private readonly blobs: BlobStore;
  private readonly hashes = new Map<string, HashState>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(driver: StorageDriver, blobs: BlobStore) {
    this.driver = driver;
    this.blobs = blobs;
  }

  /**
   * Starts an upload's data. Nothing is written yet: the data object appears with the first
   * append, so starting an upload costs no disk flush (the session itself is a database row).
   */
  async create(_id: string): Promise<void> {}

  /** Bytes received so far (0 before the first append, and after the upload ended). */
  async size(id: string): Promise<number> {
    const info = await this.driver.stat(uploadDataKey(id));
    return info === null ? 0 : info.size;
  }

  /** Serialises operations on one upload within this process. */
  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  /** Appends a chunk; returns the upload's new size. */
  async append(id: string, source: Readable, opts: AppendOptions = {}): Promise<number> {
    return await this.locked(id, async () => {
      const key = uploadDataKey(id);
      // Checked before a writer opens: a refused chunk must not even create the data object.
      const stored = await this.size(id);
      if (opts.expectedOffset !== undefined && opts.expectedOffset !== stored) throw outOfOrder(opts.expectedOffset, stored);
      const writer = await this.driver.writer(key, { append: true });
      const start = writer.size;
      if (opts.expectedOffset !== undefined && opts.expectedOffset !== start) {
        await writer.cancel();
        throw outOfOrder(opts.expectedOffset, start);
      }
      let state: HashState;
      try {
        state = await this.hashState(id, start, opts.algorithm ?? this.hashes.get(id)?.algorithm ?? 'sha256');
      } catch (e) {
        await writer.cancel();
        throw e;
      }
      const tap = hashTap(state.hash);
      try {
        await pipeline(source, tap, writer);
        if (opts.length !== undefined && tap.received !== opts.length) throw sizeMismatch(tap.received, opts.length);
        await writer.commit();
      } catch (e) {
        // The running hash may have seen bytes that never reached storage: rebuild it next time.
        this.hashes.delete(id);
        await writer.cancel();
        throw e;
      }
      state.offset = start + tap.received;
      state.usedAt = Date.now();
      return state.offset;
    });
  }

  /** The running hash for an upload whose stored bytes end at `offset`, rebuilt when needed. */
  private async hashState(id: string, offset: number, algorithm: DigestAlgorithm): Promise<HashState> {
    const cached = this.hashes.get(id);
    if (cached !== undefined && cached.offset === offset && cached.algorithm === algorithm) return cached;
    const hash = createHash(algorithm);
    if (offset > 0) {
      const r = await this.driver.reader(uploadDataKey(id), { start: 0, end: offset - 1 });
      for await (const chunk of r) hash.update(chunk as Buffer);
    }
    const state: HashState = { algorithm, hash, offset, usedAt: Date.now() };
    if (this.hashes.size >= MAX_CACHED_HASHES) this.evict();
    this.hashes.set(id, state);
    return state;
  }

  private evict(): void {
    const byAge = [...this.hashes.entries()].sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [k] of byAge.slice(0, Math.ceil(byAge.length / 4))) this.hashes.delete(k);
  }

  /**
   * Verifies the upload's bytes against `digest` and makes them the blob. On a mismatch the upload
   * is left as it was (DIGEST_INVALID) and nothing becomes visible.
   */
  async finish(id: string, digest: ParsedDigest): Promise<{ size: number }> {
    return await this.locked(id, async () => {
      const key = uploadDataKey(id);
      let info = await this.driver.stat(key);
      if (info === null) {
        // No byte was ever appended: the empty blob.
        await this.driver.put(key, new Uint8Array(0));
        info = { size: 0, modifiedAt: Date.now() };
      }
      const state = await this.hashState(id, info.size, digest.algorithm);
      const actual = `${digest.algorithm}:${state.hash.copy().digest('hex')}`;
      if (actual !== digest.digest) throw digestMismatch(actual, digest.digest);
      await this.blobs.ingest(key, digest.digest);
      this.hashes.delete(id);
      await this.driver.delete(uploadPrefix(id));
      return { size: info.size };
    });
  }

  async delete(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.driver.delete(uploadPrefix(id));
  }
}
