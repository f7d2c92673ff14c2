// Blob upload sessions: start (or mount), append chunks, query, complete, cancel, purge.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RegistryError } from '../core/errors.ts';
import { parseDigest, type ParsedDigest } from '../core/digest.ts';
import type { Repository, Upload } from '../meta/index.ts';
import { isNotFound, UPLOADS_PREFIX } from '../storage/index.ts';
import type { RegistryContext } from './context.ts';
import type { BlobInfo } from './blobs.ts';

export interface ChunkOptions {
  /** First byte of the chunk, from Content-Range. */
  start?: number;
  /** Announced length of the chunk, from Content-Length. */
  length?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class UploadService {
  private readonly ctx: RegistryContext;

  constructor(ctx: RegistryContext) {
    this.ctx = ctx;
  }

  async start(repo: Repository): Promise<{ id: string }> {
    const id = randomUUID();
    const now = this.ctx.now();
    await this.ctx.meta.uploads.create({ id, repositoryId: repo.id, createdAt: now, updatedAt: now });
    await this.ctx.uploads.create(id);
    return { id };
  }

  /** The upload, or BLOB_UPLOAD_UNKNOWN when it does not exist in this repository. */
  async get(repo: Repository, id: string): Promise<Upload> {
    const u = UUID_RE.test(id) ? await this.ctx.meta.uploads.get(id) : undefined;
    if (u === undefined || u.repositoryId !== repo.id) {
      throw new RegistryError('BlobUploadUnknown', `upload ${id.slice(0, 80)} is not in progress in repository ${repo.name}`, { upload: id.slice(0, 80) });
    }
    return u;
  }

  /** Bytes received so far. */
  async size(repo: Repository, id: string): Promise<number> {
    await this.get(repo, id);
    return await this.ctx.uploads.size(id);
  }

  /** Appends a chunk; returns the new size. */
  async append(repo: Repository, id: string, body: Readable, opts: ChunkOptions = {}, algorithm?: ParsedDigest['algorithm']): Promise<number> {
    await this.get(repo, id);
    const appendOpts: { expectedOffset?: number; length?: number; algorithm?: ParsedDigest['algorithm'] } = {};
    if (opts.start !== undefined) appendOpts.expectedOffset = opts.start;
    if (opts.length !== undefined) appendOpts.length = opts.length;
    if (algorithm !== undefined) appendOpts.algorithm = algorithm;
    const size = await this.ctx.uploads.append(id, body, appendOpts);
    await this.ctx.meta.uploads.touch(id, this.ctx.now());
    return size;
  }

  /**
   * Completes the upload: verifies the digest, stores the blob once, links it into the repository
   * and ends the session. A final chunk may come with the request.
   */
  async complete(repo: Repository, id: string, digestText: string | undefined, body?: Readable, opts: ChunkOptions = {}): Promise<BlobInfo> {
    if (digestText === undefined || digestText === '') {
      throw new RegistryError('DigestInvalid', 'the digest query parameter is required to complete an upload');
    }
    const digest = parseDigest(digestText);
    await this.get(repo, id);
    let size: number;
    if (body !== undefined && (opts.start ?? 0) === 0 && (await this.ctx.uploads.size(id)) === 0) {
      // The whole blob in this one request (POST then PUT, or POST ?digest=): it streams, hashed
      // natively, straight to its final place, which is committed only if the digest matches.
      size = await this.ctx.blobs.ingestStream(body, digest, opts.length);
      await this.ctx.uploads.delete(id);
    } else {
      if (body !== undefined) await this.append(repo, id, body, opts, digest.algorithm);
      size = (await this.ctx.uploads.finish(id, digest)).size;
    }
    const now = this.ctx.now();
    await this.ctx.meta.transaction(async (tx) => {
      await tx.blobs.put(digest.digest, size, now);
      await tx.blobs.link(repo.id, digest.digest, now);
      await tx.uploads.delete(id);
    });
    return { digest: digest.digest, size };
  }

  /** Single-request upload (POST with ?digest= and the blob as body): the session never outlives it. */
  async monolithic(repo: Repository, digest: string, body: Readable, opts: ChunkOptions = {}): Promise<BlobInfo> {
    parseDigest(digest);
    const { id } = await this.start(repo);
    try {
      return await this.complete(repo, id, digest, body, opts);
    } catch (e) {
      await this.cancel(repo, id).catch(() => undefined);
      throw e;
    }
  }

  async cancel(repo: Repository, id: string): Promise<void> {
    await this.get(repo, id);
    await this.ctx.meta.uploads.delete(id);
    await this.ctx.uploads.delete(id);
  }

  /**
   * Deletes uploads untouched for `olderThanSeconds`, and upload data in storage that no session
   * owns (left by a crash between the database and the storage delete of a cancel or a purge).
   * Returns how many were removed.
   */
  async purge(olderThanSeconds: number): Promise<number> {
    const cutoff = this.ctx.now() - olderThanSeconds * 1000;
    let removed = 0;
    for (;;) {
      const ids = await this.ctx.meta.uploads.staleIds(cutoff, 500);
      for (const id of ids) {
        await this.ctx.meta.uploads.delete(id);
        await this.ctx.uploads.delete(id);
        removed++;
      }
      if (ids.length < 500) break;
    }
    const seen = new Set<string>();
    for await (const key of this.ctx.blobs.driver.list(UPLOADS_PREFIX)) {
      const id = key.slice(UPLOADS_PREFIX.length).split('/')[0] ?? '';
      if (id === '' || seen.has(id)) continue;
      seen.add(id);
      if ((await this.ctx.meta.uploads.get(id)) !== undefined) continue;
      const info = await this.ctx.blobs.driver.stat(key);
      if (info !== null && info.modifiedAt >= cutoff) continue;
      await this.ctx.uploads.delete(id);
      removed++;
    }
    removed += (await this.ctx.blobs.driver.purgeIncomplete?.(cutoff)) ?? 0;
    if (removed > 0) this.ctx.log.info({ removed }, 'purged abandoned uploads');
    return removed;
  }

  /**
   * A small note that the protocol driving an upload keeps with it (the ECR layer API keeps its part
   * count and sizes there). It lives under the upload's storage prefix, so whatever ends the upload
   * (completion, cancel, purge) removes it too. null when none was written.
   */
  async readNote(repo: Repository, id: string): Promise<string | null> {
    await this.get(repo, id);
    try {
      return (await this.ctx.blobs.driver.get(noteKey(id))).toString('utf8');
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async writeNote(repo: Repository, id: string, text: string): Promise<void> {
    await this.get(repo, id);
    await this.ctx.blobs.driver.put(noteKey(id), Buffer.from(text, 'utf8'));
  }
}

function noteKey(id: string): string {
  return `${UPLOADS_PREFIX}${id}/note`;
}
