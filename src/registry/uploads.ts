// Blob upload sessions: start (or mount), append chunks, query, complete, cancel, purge.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { parseDigest, type ParsedDigest } from '../core/digest.ts';
import type { Repository, Upload } from '../meta/index.ts';
import { isNotFound, UPLOADS_PREFIX } from '../storage/index.ts';
import type { RegistryContext } from './context.ts';
import type { BlobInfo } from './blobs.ts';
import { defaultGcSettings, type GcSettings } from './gc.ts';

export interface ChunkOptions {
  /** First byte of the chunk, from Content-Range. */
  start?: number;
  /** Announced length of the chunk, from Content-Length. */
  length?: number;
}

/** What an upload's touch found and did (see UploadService.touch). */
interface Touched {
  now: number;
  due: number;
  previousTouchedAt: number | undefined;
  previousDue: number | undefined;
}

/** The bytes of an upload were collected before its link: thrown to roll the link transaction back. */
class BytesCollected extends Error {}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class UploadService {
  private readonly ctx: RegistryContext;
  private readonly gc: GcSettings;

  constructor(ctx: RegistryContext, gc: GcSettings = defaultGcSettings()) {
    this.ctx = ctx;
    this.gc = gc;
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
   *
   * Garbage collection (ADR 0014): the blob's row is touched in a transaction of its own before the
   * bytes are placed (a collector deciding the blob then keeps it, or finished deleting before the
   * bytes arrive); the link is added only once the bytes are in place, in a transaction that locks
   * the row and checks them, so a row without bytes is never linked. An upload slower than the grace
   * period may find its bytes collected: it fails with BLOB_UPLOAD_UNKNOWN and the client uploads again.
   * A refused completion (the digest does not match, ...) takes its touch back: nothing is stored.
   */
  async complete(repo: Repository, id: string, digestText: string | undefined, body?: Readable, opts: ChunkOptions = {}): Promise<BlobInfo> {
    if (digestText === undefined || digestText === '') {
      throw new RegistryError('DigestInvalid', 'the digest query parameter is required to complete an upload');
    }
    const digest = parseDigest(digestText);
    await this.get(repo, id);
    // The whole blob in this one request (POST then PUT, or POST ?digest=): it streams, hashed
    // natively, straight to its final place, which is committed only if the digest matches.
    const whole = body !== undefined && (opts.start ?? 0) === 0 && (await this.ctx.uploads.size(id)) === 0;
    if (!whole && body !== undefined) await this.append(repo, id, body, opts, digest.algorithm);
    const touched = await this.touch(repo, digest.digest, whole ? (opts.length ?? 0) : await this.ctx.uploads.size(id));
    let size: number;
    try {
      await this.gc.hooks.uploadTouched?.(digest.digest);
      size = whole ? await this.ctx.blobs.ingestStream(body, digest, opts.length) : (await this.ctx.uploads.finish(id, digest)).size;
    } catch (e) {
      // A refusal (DIGEST_INVALID, SIZE_INVALID, ...) stores nothing. Any other failure is left as a
      // crash leaves it: a touched row and its candidate, which the collector removes in its time.
      if (isRegistryError(e)) await this.untouch(repo, digest.digest, touched);
      throw e;
    }
    if (whole) await this.ctx.uploads.delete(id);
    await this.gc.hooks.uploadPlaced?.(digest.digest);
    const now = this.ctx.now();
    try {
      await this.ctx.meta.transaction(async (tx) => {
        // Locks the row (re-creating it if a collector removed it meanwhile), then checks the bytes.
        await tx.blobs.touch(digest.digest, size, now, { setSize: true });
        if ((await this.ctx.blobs.stat(digest.digest)) === null) throw new BytesCollected();
        await tx.blobs.link(repo.id, digest.digest, now);
        await tx.uploads.delete(id);
        await tx.gcQueue.add([{ kind: 'link', repositoryId: repo.id, digest: digest.digest }], now + this.gc.gracePeriodMs);
      });
    } catch (e) {
      if (!(e instanceof BytesCollected)) throw e;
      // Rolled back: no row re-created without its bytes. The session ends here.
      await this.ctx.meta.uploads.delete(id);
      await this.ctx.uploads.delete(id);
      this.ctx.log.warn({ repository: repo.name, digest: digest.digest, upload: id }, 'upload completed after garbage collection removed its blob; the client must upload it again');
      throw new RegistryError('BlobUploadUnknown', `upload ${id} of ${digest.digest} lost a race with garbage collection (it took longer than the grace period); upload the blob again`, {
        upload: id,
        digest: digest.digest,
      });
    }
    return { digest: digest.digest, size };
  }

  /**
   * Touch-before-write: the blob's row touched (created when new, with the size expected so far) in
   * its own transaction, after waiting for a collector that holds it, and its link queued as a
   * candidate, so that a crash before the link leaves a candidate the collector finds. Returns what
   * was there before, for `untouch`.
   */
  private async touch(repo: Repository, digest: string, expectedSize: number): Promise<Touched> {
    const now = this.ctx.now();
    const due = now + this.gc.gracePeriodMs;
    const candidate = { kind: 'link' as const, repositoryId: repo.id, digest };
    return await this.ctx.meta.transaction(async (tx) => {
      const row = await tx.blobs.lock(digest);
      await tx.blobs.touch(digest, expectedSize, now);
      const entry = await tx.gcQueue.get(candidate);
      await tx.gcQueue.add([candidate], due);
      return { now, due, previousTouchedAt: row?.touchedAt, previousDue: entry?.dueAt };
    });
  }

  /**
   * Takes a touch back after a refused completion, unless someone else touched or linked since:
   * a row it created goes (while no bytes and no link are there), an existing row gets its previous
   * touch time back, the candidate it queued goes or gets its previous due time back.
   */
  private async untouch(repo: Repository, digest: string, t: Touched): Promise<void> {
    const candidate = { kind: 'link' as const, repositoryId: repo.id, digest };
    await this.ctx.meta.transaction(async (tx) => {
      const row = await tx.blobs.lock(digest);
      if (row !== undefined && row.touchedAt === t.now) {
        if (t.previousTouchedAt !== undefined) await tx.blobs.setTouchedAt(digest, t.now, t.previousTouchedAt);
        else if ((await tx.blobs.countLinks(digest)) === 0 && (await this.ctx.blobs.stat(digest)) === null) await tx.blobs.delete(digest);
      }
      if ((await tx.blobs.getLink(repo.id, digest)) !== undefined) return;
      if (t.previousDue === undefined) await tx.gcQueue.remove(candidate, t.due);
      else await tx.gcQueue.reschedule(candidate, t.due, t.previousDue);
    });
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
