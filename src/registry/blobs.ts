// Blobs of a repository: existence, download (with ranges), deletion, cross-repository mount.
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../core/errors.ts';
import { parseDigest } from '../core/digest.ts';
import type { Repository } from '../meta/index.ts';
import { isNotFound, type ByteRange } from '../storage/index.ts';
import type { RegistryContext } from './context.ts';

export interface BlobInfo {
  digest: string;
  size: number;
}

export class BlobService {
  private readonly ctx: RegistryContext;

  constructor(ctx: RegistryContext) {
    this.ctx = ctx;
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
   * repository holding them. A blob still used by a manifest of the repository is refused.
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
      await tx.blobs.unlink(repo.id, digest);
      const now = this.ctx.now();
      await tx.events.append({ accountId: repo.accountId, type: 'blob.delete', repository: repo.name, digest, detail: { 'repository-name': repo.name, 'blob-digest': digest }, createdAt: now });
    });
  }

  /**
   * Links a blob that `from` holds into `repo` without copying bytes. Returns false when `from`
   * does not hold it (the caller then starts an ordinary upload).
   */
  async mount(repo: Repository, digest: string, from: Repository): Promise<BlobInfo | null> {
    parseDigest(digest);
    const b = await this.ctx.meta.blobs.getInRepository(from.id, digest);
    if (b === undefined) return null;
    if ((await this.ctx.blobs.stat(digest)) === null) return null;
    await this.ctx.meta.blobs.link(repo.id, digest, this.ctx.now());
    return b;
  }
}
