// Content-addressed blobs over any StorageDriver. A blob becomes visible at its digest's key only
// once its bytes are durably stored and verified (see UploadStore.finish).
import type { Readable, Writable } from 'node:stream';
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

  async presignGet(digest: string, expiresInSeconds: number): Promise<string | null> {
    return this.driver.presignGet === undefined ? null : await this.driver.presignGet(blobKey(digest), expiresInSeconds);
  }

  /** Removes the blob's bytes (garbage collection only). */
  async delete(digest: string): Promise<void> {
    await this.driver.delete(blobKey(digest));
  }
}
