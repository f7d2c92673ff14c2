// Content-addressed blobs over any StorageDriver. A blob becomes visible at its digest's key only
// once its bytes are durably stored and verified (see UploadStore.finish).
import { createHash } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ParsedDigest } from '../core/digest.ts';
import { digestMismatch, hashTap, sizeMismatch } from './hash-tap.ts';
import type { ByteRange, StorageDriver } from './driver.ts';
import { blobKey } from './paths.ts';

export class BlobStore {
  readonly driver: StorageDriver;

  constructor(driver: StorageDriver) {
    this.driver = driver;
  }

  async stat(digest: string): Promise<{ size: number } | null> {
    const info = await this.driver.stat(blobKey(digest));
    return info === null ? null : { size: info.size };
  }

  /** Streams the blob (or a range of it). Rejects with NotFoundError when absent. */
  async open(digest: string, range?: ByteRange): Promise<Readable> {
    return await this.driver.reader(blobKey(digest), range);
  }

  /**
   * Writes the blob (or a range of it) to `dest`, leaving `dest` open; `onOpen` runs before the first
   * byte. Rejects with NotFoundError (before `onOpen`) when absent.
   */
  async copyTo(digest: string, dest: Writable, range?: ByteRange, onOpen?: () => void): Promise<void> {
    await this.driver.copyTo(blobKey(digest), dest, range, onOpen);
  }

  /**
   * Stores a blob whose digest is known before its bytes arrive (a single-request upload): the
   * bytes stream, hashed natively, straight into a writer at the blob's key, which is committed
   * only if they match `digest` (nothing is visible otherwise). When the blob is already stored,
   * the bytes are only hashed. Returns the size.
   */
  async ingestStream(source: Readable, digest: ParsedDigest, length?: number): Promise<number> {
    const hash = createHash(digest.algorithm);
    const tap = hashTap(hash);
    const check = (): void => {
      if (length !== undefined && tap.received !== length) throw sizeMismatch(tap.received, length);
      const actual = `${digest.algorithm}:${hash.digest('hex')}`;
      if (actual !== digest.digest) throw digestMismatch(actual, digest.digest);
    };
    if ((await this.stat(digest.digest)) !== null) {
      await pipeline(source, tap, new Writable({ write: (_c, _e, cb) => cb() }));
      check();
      return tap.received;
    }
    const writer = await this.driver.writer(blobKey(digest.digest));
    try {
      await pipeline(source, tap, writer);
      check();
      await writer.commit();
    } catch (e) {
      await writer.cancel();
      throw e;
    }
    return tap.received;
  }

  /**
   * Makes the verified object at `sourceKey` the blob `digest`. When the blob is already stored
   * (a concurrent or earlier upload of the same content), the source is discarded instead:
   * one copy per digest.
   */
  async ingest(sourceKey: string, digest: string): Promise<void> {
    const key = blobKey(digest);
    if ((await this.driver.stat(key)) !== null) {
      await this.driver.delete(sourceKey);
      return;
    }
    await this.driver.move(sourceKey, key);
  }

  /** Makes the concatenation of the objects at `sources` the blob `digest` (already verified). */
  async concat(sources: readonly string[], digest: string): Promise<void> {
    await this.driver.concat(sources, blobKey(digest));
  }

  async presignGet(digest: string, expiresInSeconds: number): Promise<string | null> {
    return this.driver.presignGet === undefined ? null : await this.driver.presignGet(blobKey(digest), expiresInSeconds);
  }

  /** Removes the blob's bytes (garbage collection only). */
  async delete(digest: string): Promise<void> {
    await this.driver.delete(blobKey(digest));
  }
}
