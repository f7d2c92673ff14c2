// Upload sessions for several processes and for object stores that cannot append. Each chunk is
// written as its own object (a segment); the list of segments, the size and the resumable hash
// state live in the database, updated with optimistic concurrency after every chunk. Any process
// can take the next chunk: it resumes the hash from the saved state, so no byte is read twice.
// On completion the segments become the blob (a move for one segment; a concatenation, server-side
// on S3, for several).
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import { RegistryError } from '../core/errors.ts';
import type { DigestAlgorithm, ParsedDigest } from '../core/digest.ts';
import type { StorageDriver } from './driver.ts';
import type { BlobStore } from './blob-store.ts';
import { uploadPrefix } from './paths.ts';
import { digestMismatch, hashTap, outOfOrder, sizeMismatch } from './hash-tap.ts';
import type { AppendOptions, UploadStorage } from './upload-store.ts';

/** The database side of a segmented upload. */
export interface UploadStateRepo {
  load(id: string): Promise<{ size: number; state: string | null; version: number } | undefined>;
  /** Saves when the stored version is still `version` (then increments it); false when another writer won. */
  save(id: string, size: number, state: string, version: number): Promise<boolean>;
}

interface Segment {
  key: string;
  size: number;
}

interface SegmentedState {
  /** The algorithm of the saved hash. */
  algorithm: DigestAlgorithm;
  /** hash-wasm's saved state, base64. */
  hash: string;
  segments: Segment[];
}

async function newHasher(algorithm: DigestAlgorithm): Promise<IHasher> {
  const h = algorithm === 'sha512' ? await createSHA512() : await createSHA256();
  h.init();
  return h;
}

function parseState(text: string | null): SegmentedState | null {
  if (text === null) return null;
  return JSON.parse(text) as SegmentedState;
}

export class SegmentedUploadStore implements UploadStorage {
  private readonly driver: StorageDriver;
  private readonly blobs: BlobStore;
  private readonly repo: UploadStateRepo;

  constructor(driver: StorageDriver, blobs: BlobStore, repo: UploadStateRepo) {
    this.driver = driver;
    this.blobs = blobs;
    this.repo = repo;
  }

  async create(_id: string): Promise<void> {}

  private async load(id: string): Promise<{ size: number; state: SegmentedState | null; version: number }> {
    const row = await this.repo.load(id);
    if (row === undefined) throw new RegistryError('BlobUploadUnknown', `upload ${id} is not in progress`, { upload: id });
    return { size: row.size, state: parseState(row.state), version: row.version };
  }

  async size(id: string): Promise<number> {
    const row = await this.repo.load(id);
    return row?.size ?? 0;
  }

  /** The running hash at the end of the stored bytes: resumed from the saved state, or rebuilt. */
  private async resume(state: SegmentedState | null, algorithm: DigestAlgorithm): Promise<IHasher> {
    const h = await newHasher(algorithm);
    if (state === null) return h;
    if (state.algorithm === algorithm) {
      try {
        h.load(Buffer.from(state.hash, 'base64'));
        return h;
      } catch {
        // A state saved by another build of hash-wasm: rebuild from the segments below.
        h.init();
      }
    }
    for (const s of state.segments) for await (const chunk of await this.driver.reader(s.key)) h.update(chunk as Buffer);
    return h;
  }

  async append(id: string, source: Readable, opts: AppendOptions = {}): Promise<number> {
    const { size, state, version } = await this.load(id);
    if (opts.expectedOffset !== undefined && opts.expectedOffset !== size) throw outOfOrder(opts.expectedOffset, size);
    const algorithm = opts.algorithm ?? state?.algorithm ?? 'sha256';
    const hasher = await this.resume(state, algorithm);
    const key = `${uploadPrefix(id)}seg-${String(size).padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
    const writer = await this.driver.writer(key);
    const tap = hashTap(hasher);
    try {
      await pipeline(source, tap, writer);
      if (opts.length !== undefined && tap.received !== opts.length) throw sizeMismatch(tap.received, opts.length);
      if (tap.received === 0) {
        await writer.cancel();
        return size;
      }
      await writer.commit();
    } catch (e) {
      await writer.cancel();
      throw e;
    }
    const next: SegmentedState = {
      algorithm,
      hash: Buffer.from(hasher.save()).toString('base64'),
      segments: [...(state?.segments ?? []), { key, size: tap.received }],
    };
    if (!(await this.repo.save(id, size + tap.received, JSON.stringify(next), version))) {
      // Another process appended to this upload meanwhile: this chunk loses.
      await this.driver.delete(key);
      throw outOfOrder(size, (await this.load(id)).size);
    }
    return size + tap.received;
  }

  async finish(id: string, digest: ParsedDigest): Promise<{ size: number }> {
    const { size, state } = await this.load(id);
    const hasher = await this.resume(state, digest.algorithm);
    const actual = `${digest.algorithm}:${hasher.digest('hex')}`;
    if (actual !== digest.digest) throw digestMismatch(actual, digest.digest);
    const segments = state?.segments ?? [];
    if ((await this.blobs.stat(digest.digest)) === null) {
      if (segments.length === 1) await this.blobs.ingest((segments[0] as Segment).key, digest.digest);
      else await this.blobs.concat(segments.map((s) => s.key), digest.digest);
    }
    await this.driver.delete(uploadPrefix(id));
    return { size };
  }

  async delete(id: string): Promise<void> {
    await this.driver.delete(uploadPrefix(id));
  }
}
