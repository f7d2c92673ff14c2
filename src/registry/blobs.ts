// Blobs of a repository: existence, download (with ranges), deletion, cross-repository mount.
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../core/errors.ts';
import { parseDigest } from '../core/digest.ts';
import type { Repository } from '../meta/index.ts';
import { isNotFound, type ByteRange } from '../storage/index.ts';
import type { RegistryContext } from './context.ts';
import { defaultGcSettings, type GcSettings } from './gc.ts';

/** A mount that cannot happen: thrown to roll its transaction back. */
class NotMounted extends Error {}

export interface BlobInfo {
  digest: string;
  size: number;
}

export class BlobService {
  private readonly ctx: RegistryContext;
  private readonly gc: GcSettings;

  constructor(ctx: RegistryContext, gc: GcSettings = defaultGcSettings()) {
    this.ctx = ctx;
    this.gc = gc;
  }

  /** The blob's size, or BLOB_UNKNOWN when the repository does not hold it. */
  async stat(repo: Repository, digest: string): Promise<BlobInfo> {
    parseDigest(digest);
    const b = await this.ctx.meta.blobs.getInRepository(repo.id, digest);
    if (b === undefined) throw new RegistryError('BlobUnknown', `blob ${digest} is not in repository ${repo.name}`, { digest });
    return b;
  }

  /** Opens the blob (or a range of it) for reading. */
  async open(repo: Repository, digest: string, range?: ByteRange): Promise<{ info: BlobInfo; stream: Readable }> {
    const info = await this.stat(repo, digest);
    try {
      return { info, stream: await this.ctx.blobs.open(digest, range) };
    } catch (e) {
      if (isNotFound(e)) {
        this.ctx.log.error({ digest, repository: repo.name }, 'blob recorded in the database is missing from storage');
        throw new RegistryError('BlobUnknown', `blob ${digest} is missing from storage`, { digest });
      }
      throw e;
    }
  }

  /**
   * Writes the blob (or a range) to `dest`; `onOpen` runs once the bytes are found, before the first
   * one is written (send the response headers there).
   */
  async copyTo(repo: Repository, digest: string, dest: Writable, range: ByteRange | undefined, onOpen: () => void): Promise<void> {
    try {
      await this.ctx.blobs.copyTo(digest, dest, range, onOpen);
    } catch (e) {
      if (isNotFound(e)) {
        this.ctx.log.error({ digest, repository: repo.name }, 'blob recorded in the database is missing from storage');
        throw new RegistryError('BlobUnknown', `blob ${digest} is missing from storage`, { digest });
      }
      throw e;
    }
  }

  /** A URL of the store that serves the blob without credentials, when the store can make one. */
  async presign(digest: string, expiresInSeconds: number): Promise<string | null> {
    return await this.ctx.blobs.presignGet(digest, expiresInSeconds);
  }

  /**
   * Removes the blob from the repository. Its bytes stay until garbage collection finds no
   * repository holding them (the blob is queued as a candidate in the same transaction). A blob
   * still used by a manifest of the repository is refused.
   */
  async delete(repo: Repository, digest: string): Promise<void> {
    parseDigest(digest);
    await this.ctx.meta.transaction(async (tx) => {
      if ((await tx.blobs.getInRepository(repo.id, digest)) === undefined) {
        throw new RegistryError('BlobUnknown', `blob ${digest} is not in repository ${repo.name}`, { digest });
      }
      const users = await tx.manifests.blobUsers(repo.id, digest, 5);
      if (users.length > 0) {
        throw new RegistryError('BlobReferenced', `blob ${digest} is used by manifest ${users.join(', ')} in repository ${repo.name}; delete the manifest first`, { digest, manifests: users });
      }
      const now = this.ctx.now();
      await tx.blobs.unlink(repo.id, digest, now);
      await tx.events.append({ accountId: repo.accountId, type: 'blob.delete', repository: repo.name, digest, detail: { 'repository-name': repo.name, 'blob-digest': digest }, createdAt: now });
    });
  }

  /**
   * Links a blob that `from` holds into `repo` without copying bytes. Returns null when `from`
   * does not hold it (the caller then starts an ordinary upload).
   *
   * Garbage collection (ADR 0014): one transaction touches the blob's row (locking it: a collector
   * deciding the blob waits, or has removed the row and the mount finds nothing), checks the
   * source's link and the bytes, adds the link and queues it as a candidate (a mount no manifest
   * follows is collected after the grace period).
   */
  async mount(repo: Repository, digest: string, from: Repository): Promise<BlobInfo | null> {
    parseDigest(digest);
    if ((await this.ctx.meta.blobs.getInRepository(from.id, digest)) === undefined) return null;
    const now = this.ctx.now();
    try {
      return await this.ctx.meta.transaction(async (tx) => {
        if (!(await tx.blobs.touchExisting(digest, now))) throw new NotMounted();
        const b = await tx.blobs.getInRepository(from.id, digest);
        if (b === undefined || (await this.ctx.blobs.stat(digest)) === null) throw new NotMounted();
        await tx.blobs.link(repo.id, digest, now);
        await tx.gcQueue.add([{ kind: 'link', repositoryId: repo.id, digest }], now + this.gc.gracePeriodMs);
        return b;
      });
    } catch (e) {
      // Rolled back: not even the touch stays.
      if (e instanceof NotMounted) return null;
      throw e;
    }
  }
}
