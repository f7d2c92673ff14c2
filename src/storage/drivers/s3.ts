// S3-compatible storage driver (AWS S3, Ceph RGW, MinIO, R2, ...). Objects are S3 objects at
// `prefix + key`. New objects stream into multipart uploads (or one PutObject when smaller than a
// part) and become visible only when the writer commits; concatenations are multipart uploads made
// of server-side copies. Object stores cannot append: uploads in scale-out mode use `concat`.
//
// Works with stores that are not AWS: no aws-chunked request bodies and no flexible checksums unless
// an operation requires one (requestChecksumCalculation: 'WHEN_REQUIRED'), and the ETag that
// CompleteMultipartUpload returns is never used (Ceph RGW returns an empty one). Every request body
// is a Buffer of at most one part (so the SDK can retry it), never a whole large object.
import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable, Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, GetObjectCommandOutput, S3ClientConfig, ServerSideEncryption, StorageClass } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NotFoundError, type ByteRange, type ObjectInfo, type ObjectWriter, type StorageDriver } from '../driver.ts';

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** Key prefix inside the bucket: '' or ending in '/'. */
  prefix: string;
  forcePathStyle: boolean;
  /** Multipart part size in bytes (>= 5 MiB). */
  partSize: number;
  /** Attempts per request: 5xx, throttling and network errors are retried with backoff (BackoffRetryStrategy). */
  maxAttempts: number;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  serverSideEncryption?: 'AES256' | 'aws:kms';
  sseKmsKeyId?: string;
  storageClass?: string;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Every part of a multipart upload but the last must be at least this large. */
export const MIN_PART = 5 * MiB;
/** The largest part, and the largest object a single CopyObject copies. */
const MAX_PART = 5 * GiB;
const MAX_PARTS = 10_000;
/** A writer's part size doubles every this many parts, so that 10,000 parts reach far (see partSizeFor). */
const PARTS_PER_SIZE = 1000;
/** Part uploads of one writer in flight at once: memory is about (1 + this) x partSize per writer. */
const WRITER_PARTS_IN_FLIGHT = 2;
/** Requests of one concat or multipart copy in flight at once, and of those how many carry bytes. */
const COPY_CONCURRENCY = 4;
const DATA_PARTS_IN_FLIGHT = 2;
const DELETE_BATCH = 1000;
/** Retries: delay before retry n (0-based) is between d/2 and d, d = base x 2^n, at most MAX_RETRY_DELAY. */
const RETRY_BASE_DELAY = 250;
const THROTTLE_BASE_DELAY = 1000;
const MAX_RETRY_DELAY = 20_000;
/** A retry quota as the SDK's standard strategy keeps: a failing store is not hammered by every request. */
const RETRY_CAPACITY = 500;
const RETRY_COST = 10;
const THROTTLE_RETRY_COST = 5;

// ---- retries ------------------------------------------------------------------------------------

type RetryStrategyV2 = Extract<NonNullable<S3ClientConfig['retryStrategy']>, { recordSuccess: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<RetryStrategyV2['refreshRetryTokenForRetry']>[1];

class BackoffToken implements RetryToken {
  readonly count: number;
  readonly delay: number;
  readonly cost: number;
  constructor(count: number, delay: number, cost: number) {
    this.count = count;
    this.delay = delay;
    this.cost = cost;
  }
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delay;
  }
}

/**
 * The SDK's standard strategy retries the same errors (5xx, throttling, and network errors such as a
 * refused connection), but its delays are full-jitter from 50 ms: five attempts may all happen within
 * a few hundred milliseconds, so a store that restarts or fails over for a second or two is reported
 * as down. This one waits between half and all of 250 ms x 2^n before retry n (1 s x 2^n when
 * throttled), so the default five attempts span about 2 to 4 s, and keeps the same retry quota.
 */
export class BackoffRetryStrategy implements RetryStrategyV2 {
  readonly maxAttempts: number;
  private readonly baseDelay: number;
  private capacity = RETRY_CAPACITY;

  constructor(maxAttempts: number, baseDelay = RETRY_BASE_DELAY) {
    this.maxAttempts = maxAttempts;
    this.baseDelay = baseDelay;
  }

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return new BackoffToken(0, 0, 0);
  }

  async refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const count = token.getRetryCount();
    const throttled = info.errorType === 'THROTTLING';
    const cost = throttled ? THROTTLE_RETRY_COST : RETRY_COST;
    if ((!throttled && info.errorType !== 'TRANSIENT') || count + 1 >= this.maxAttempts || this.capacity < cost) {
      // The SDK rethrows the request's own error when no token is given.
      throw new Error('no retry');
    }
    this.capacity -= cost;
    const ceiling = Math.min(MAX_RETRY_DELAY, (throttled ? THROTTLE_BASE_DELAY : this.baseDelay) * 2 ** count);
    let delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    if (info.retryAfterHint !== undefined) delay = Math.max(delay, Math.min(MAX_RETRY_DELAY, info.retryAfterHint.getTime() - Date.now()));
    return new BackoffToken(count + 1, Math.floor(delay), cost);
  }

  recordSuccess(token: RetryToken): void {
    const refund = token instanceof BackoffToken && token.cost > 0 ? token.cost : 1;
    this.capacity = Math.min(RETRY_CAPACITY, this.capacity + refund);
  }
}

// ---- errors -------------------------------------------------------------------------------------

interface SdkErrorShape {
  name?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function errorName(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as SdkErrorShape).name === 'string' ? ((e as SdkErrorShape).name as string) : '';
}

function httpStatus(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null ? (e as SdkErrorShape).$metadata?.httpStatusCode : undefined;
}

/** The object (not the bucket, not the upload) does not exist. HEAD answers carry no error code. */
function isMissingObject(e: unknown): boolean {
  const name = errorName(e);
  if (name === 'NoSuchKey' || name === 'NotFound') return true;
  return httpStatus(e) === 404 && name !== 'NoSuchBucket' && name !== 'NoSuchUpload';
}

function isNoSuchUpload(e: unknown): boolean {
  return errorName(e) === 'NoSuchUpload';
}

function isPreconditionFailed(e: unknown): boolean {
  return errorName(e) === 'PreconditionFailed' || httpStatus(e) === 412;
}

// ---- helpers ------------------------------------------------------------------------------------

/** A writer's part size for 1-based part `n`: `base`, doubled every 1000 parts, at most 5 GiB. */
export function partSizeFor(base: number, n: number): number {
  return Math.min(MAX_PART, base * 2 ** Math.floor((n - 1) / PARTS_PER_SIZE));
}

/** Part size for a server-side copy of `size` bytes in parts: at least `base`, at most 10,000 parts. */
function copyPartSize(base: number, size: number): number {
  return Math.min(MAX_PART, Math.max(base, Math.ceil(size / MAX_PARTS)));
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Runs `fn` over `items` with at most `limit` at once; the first failure rejects (after all started ones settle). */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (e) {
        if (!failed) failure = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failure;
}

class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const wake = this.waiting.shift();
      if (wake !== undefined) wake();
      else this.free++;
    }
  }
}

function asReadable(out: GetObjectCommandOutput): Readable {
  const body = out.Body;
  if (body instanceof Readable) return body;
  if (body === undefined) return Readable.from([]);
  throw new Error('storage: the S3 client returned a body that is not a Node stream');
}

/** Resolves on 'drain'; rejects when `dest` closes or fails first. */
function drained(dest: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      dest.off('drain', onDrain);
      dest.off('close', onClose);
      dest.off('error', onError);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('destination closed'));
    const onError = (e: Error): void => done(e);
    dest.on('drain', onDrain);
    dest.on('close', onClose);
    dest.on('error', onError);
  });
}

/** The ETag S3 gives an object completed from `parts` (MD5 of the parts' MD5s), when the parts' ETags are MD5s. */
function multipartEtag(parts: readonly CompletedPart[]): string | null {
  const md5 = createHash('md5');
  for (const p of parts) {
    const hex = (p.ETag ?? '').replace(/"/g, '');
    if (!/^[0-9a-f]{32}$/i.test(hex)) return null;
    md5.update(Buffer.from(hex, 'hex'));
  }
  return `${md5.digest('hex')}-${parts.length}`;
}

// ---- the bucket ---------------------------------------------------------------------------------

interface Head {
  size: number;
  modifiedAt: number;
  etag: string | undefined;
}

/** Requests on full keys (prefix included), shared by the driver and its writers. */
class Bucket {
  readonly client: S3Client;
  readonly name: string;
  readonly partSize: number;
  /** Parameters of every request that creates an object (PutObject, CreateMultipartUpload, CopyObject). */
  readonly createParams: { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string; StorageClass?: StorageClass };

  constructor(client: S3Client, name: string, partSize: number, opts: S3DriverOptions) {
    this.client = client;
    this.name = name;
    this.partSize = partSize;
    this.createParams = {
      ...(opts.serverSideEncryption !== undefined ? { ServerSideEncryption: opts.serverSideEncryption } : {}),
      ...(opts.sseKmsKeyId !== undefined ? { SSEKMSKeyId: opts.sseKmsKeyId } : {}),
      ...(opts.storageClass !== undefined ? { StorageClass: opts.storageClass as StorageClass } : {}),
    };
  }

  copySource(key: string): string {
    return `${this.name}/${encodeKey(key)}`;
  }

  async head(key: string): Promise<Head | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return { size: out.ContentLength ?? 0, modifiedAt: out.LastModified?.getTime() ?? Date.now(), etag: out.ETag };
    } catch (e) {
      if (isMissingObject(e)) return null;
      throw e;
    }
  }

  /** GetObject; NotFoundError (naming `name`) when absent. */
  async get(key: string, name: string, range?: ByteRange, ifMatch?: string): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.name,
          Key: key,
          ...(range !== undefined ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          ...(ifMatch !== undefined ? { IfMatch: ifMatch } : {}),
        }),
      );
      return asReadable(out);
    } catch (e) {
      if (isMissingObject(e)) throw new NotFoundError(name);
      if (ifMatch !== undefined && isPreconditionFailed(e)) throw new Error(`storage: ${name} changed while it was being copied`, { cause: e });
      throw e;
    }
  }

  /** Reads bytes start..end (inclusive) of an object into `buf` at `offset`. */
  async readInto(key: string, name: string, etag: string | undefined, start: number, end: number, buf: Buffer, offset: number): Promise<void> {
    const body = await this.get(key, name, { start, end }, etag);
    const want = end - start + 1;
    let got = 0;
    for await (const c of body) {
      const chunk = c as Buffer;
      if (got + chunk.length > want) {
        body.destroy();
        throw new Error(`storage: ${name} returned more bytes than the range ${start}-${end}`);
      }
      chunk.copy(buf, offset + got);
      got += chunk.length;
    }
    if (got !== want) throw new Error(`storage: ${name} returned ${got} bytes for the range ${start}-${end}`);
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, ContentLength: body.length, ...this.createParams }));
  }

  async createUpload(key: string): Promise<string> {
    const out = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: key, ...this.createParams }));
    if (out.UploadId === undefined) throw new Error(`storage: CreateMultipartUpload for ${key} returned no upload id`);
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, abortSignal?: AbortSignal): Promise<CompletedPart> {
    const out = await this.client.send(
      new UploadPartCommand({ Bucket: this.name, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }),
      abortSignal !== undefined ? { abortSignal } : {},
    );
    if (out.ETag === undefined) throw new Error(`storage: UploadPart ${partNumber} of ${key} returned no ETag`);
    return { PartNumber: partNumber, ETag: out.ETag };
  }

  /** UploadPartCopy of bytes start..end (inclusive) of `source`; NotFoundError (naming `name`) when it is gone. */
  async copyPart(key: string, uploadId: string, partNumber: number, source: string, name: string, etag: string | undefined, start: number, end: number): Promise<CompletedPart> {
    try {
      const out = await this.client.send(
        new UploadPartCopyCommand({
          Bucket: this.name,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: this.copySource(source),
          CopySourceRange: `bytes=${start}-${end}`,
          ...(etag !== undefined ? { CopySourceIfMatch: etag } : {}),
        }),
      );
      const tag = out.CopyPartResult?.ETag;
      if (tag === undefined) throw new Error(`storage: UploadPartCopy ${partNumber} of ${key} returned no ETag`);
      return { PartNumber: partNumber, ETag: tag };
    } catch (e) {
      if (isMissingObject(e)) throw new NotFoundError(name);
      if (isPreconditionFailed(e)) throw new Error(`storage: ${name} changed while it was being copied`, { cause: e });
      throw e;
    }
  }

  /**
   * CompleteMultipartUpload. Its answer's ETag is not used (Ceph RGW returns an empty one). If a retry
   * finds the upload gone because a first attempt completed it but its answer was lost, the object's
   * ETag tells whether it is ours.
   */
  async complete(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const sorted = [...parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    try {
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId, MultipartUpload: { Parts: sorted } }));
    } catch (e) {
      if (isNoSuchUpload(e)) {
        const expected = multipartEtag(sorted);
        const head = expected === null ? null : await this.head(key);
        if (head !== null && head.etag?.replace(/"/g, '') === expected) return;
      }
      throw e;
    }
  }

  /** Best effort: a failure leaves an incomplete upload for the bucket's lifecycle rule to remove. */
  async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }));
    } catch {
      // NoSuchUpload: already gone. Anything else: nothing more can be done here.
    }
  }

  /**
   * Copies `source` (whose size and ETag are known) to `dest`: one CopyObject, or over 5 GiB a
   * multipart upload of UploadPartCopy parts of the part size, each only from that same version.
   */
  async copy(source: string, name: string, head: Head, dest: string): Promise<void> {
    if (head.size <= MAX_PART) {
      try {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.name,
            Key: dest,
            CopySource: this.copySource(source),
            ...this.createParams,
          }),
        );
      } catch (e) {
        if (isMissingObject(e)) throw new NotFoundError(name);
        throw e;
      }
      return;
    }
    const step = copyPartSize(this.partSize, head.size);
    const ranges: Array<[number, number]> = [];
    for (let off = 0; off < head.size; off += step) ranges.push([off, Math.min(off + step, head.size) - 1]);
    await this.multipart(dest, async (uploadId) => {
      const parts: CompletedPart[] = [];
      await forEachLimit(ranges, COPY_CONCURRENCY, async ([start, end], i) => {
        parts.push(await this.copyPart(dest, uploadId, i + 1, source, name, head.etag, start, end));
      });
      return parts;
    });
  }

  /** A multipart upload to `key` whose parts `fill` uploads; completed at the end, aborted on any error. */
  async multipart(key: string, fill: (uploadId: string) => Promise<CompletedPart[]>): Promise<void> {
    const uploadId = await this.createUpload(key);
    try {
      const parts = await fill(uploadId);
      await this.complete(key, uploadId, parts);
    } catch (e) {
      await this.abort(key, uploadId);
      throw e;
    }
  }

  async *listKeys(prefix: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ...(token !== undefined ? { ContinuationToken: token } : {}) }));
      for (const o of out.Contents ?? []) if (o.Key !== undefined) yield o.Key;
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async deleteKeys(keys: string[]): Promise<void> {
    const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (errors.length > 0) {
      const first = errors[0];
      throw new Error(`storage: deleting ${errors.length} of ${keys.length} objects failed, first ${first?.Key}: ${first?.Code} ${first?.Message}`);
    }
  }

  /**
   * Aborts the incomplete multipart uploads of keys under `prefix` (writers that died, or were cut
   * off by a delete), or only those started before `before` (epoch ms). Returns how many.
   */
  async abortUploadsUnder(prefix: string, before?: number): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const out = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.name,
          Prefix: prefix,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
          ...(idMarker !== undefined ? { UploadIdMarker: idMarker } : {}),
        }),
      );
      for (const u of out.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        if (before !== undefined && (u.Initiated === undefined || u.Initiated.getTime() >= before)) continue;
        await this.abort(u.Key, u.UploadId);
        aborted++;
      }
      const more = out.IsTruncated === true && (out.NextKeyMarker !== undefined || out.NextUploadIdMarker !== undefined);
      keyMarker = more ? out.NextKeyMarker : undefined;
      idMarker = more ? out.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined || idMarker !== undefined);
    return aborted;
  }
}

// ---- the writer ---------------------------------------------------------------------------------

type WriterState = 'open' | 'committing' | 'committed' | 'failed' | 'discarded';

/**
 * Bytes are copied into a part buffer; a full buffer is uploaded as the next part of a multipart
 * upload (created with the first part) while the next one fills, at most two uploads in flight, so a
 * writer holds at most three part buffers. The write callback waits when both slots are taken: that
 * is the backpressure. An object smaller than one part never starts a multipart upload: commit()
 * sends it with one PutObject.
 */
class S3Writer extends Writable implements ObjectWriter {
  private readonly bucket: Bucket;
  private readonly key: string;
  private buf: Buffer | null = null;
  private fill = 0;
  private written = 0;
  private partCount = 0;
  private readonly spare: Buffer[] = [];
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private uploadId: Promise<string> | null = null;
  private failure: Error | null = null;
  private readonly requests = new AbortController();
  private state: WriterState = 'open';
  private committing: Promise<void> | null = null;
  private discarding: Promise<void> | null = null;

  constructor(bucket: Bucket, key: string) {
    // Not destroyed at 'finish': ending the stream (as pipeline() does) must not discard the upload.
    super({ highWaterMark: MiB, autoDestroy: false });
    this.bucket = bucket;
    this.key = key;
  }

  get size(): number {
    return this.written;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.take(chunk).then(
      () => cb(),
      (e: unknown) => cb(e as Error),
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finishParts().then(
      () => cb(),
      (e: unknown) => cb(e as Error),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A destroyed writer can never commit: what it uploaded goes now.
    if (this.state === 'open' || this.state === 'failed') void this.discard();
    cb(err);
  }

  private async take(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.failure !== null) throw this.failure;
      if (this.state !== 'open' && this.state !== 'committing') throw new Error('writer cancelled');
      if (this.buf === null) {
        const size = partSizeFor(this.bucket.partSize, this.partCount + 1);
        this.buf = this.spare.pop() ?? Buffer.allocUnsafe(size);
        if (this.buf.length !== size) this.buf = Buffer.allocUnsafe(size);
      }
      const n = chunk.copy(this.buf, this.fill, off);
      this.fill += n;
      this.written += n;
      off += n;
      if (this.fill === this.buf.length) await this.sendBuffered();
    }
  }

  /** Uploads the buffered bytes as the next part, once a slot is free. */
  private async sendBuffered(): Promise<void> {
    const buf = this.buf;
    const len = this.fill;
    if (buf === null || len === 0) return;
    while (this.inFlight.size >= WRITER_PARTS_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure !== null) throw this.failure;
    if (this.state === 'discarded') throw new Error('writer cancelled');
    this.buf = null;
    this.fill = 0;
    const partNumber = ++this.partCount;
    if (partNumber > MAX_PARTS) throw new Error(`storage: ${this.key} needs more than ${MAX_PARTS} parts`);
    if (this.uploadId === null) {
      this.uploadId = this.bucket.createUpload(this.key);
      this.uploadId.catch(() => undefined);
    }
    const uploadId = this.uploadId;
    // Never rejects: a failure is kept and reported by the next write, the end, or commit().
    const sending = (async (): Promise<void> => {
      try {
        const part = await this.bucket.uploadPart(this.key, await uploadId, partNumber, buf.subarray(0, len), this.requests.signal);
        this.parts.push(part);
        if (this.spare.length < WRITER_PARTS_IN_FLIGHT) this.spare.push(buf);
      } catch (e) {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      }
    })();
    this.inFlight.add(sending);
    void sending.then(() => this.inFlight.delete(sending));
  }

  /** At the end of the stream: a multipart upload sends its last part and waits for all of them. */
  private async finishParts(): Promise<void> {
    if (this.partCount > 0) {
      await this.sendBuffered();
      while (this.inFlight.size > 0) await Promise.race(this.inFlight);
      this.spare.length = 0;
    }
    if (this.failure !== null) throw this.failure;
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new Error('writer already committed or cancelled');
    this.state = 'committing';
    this.committing = this.doCommit();
    try {
      await this.committing;
      this.state = 'committed';
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
  }

  private async doCommit(): Promise<void> {
    if (!this.writableFinished) {
      await new Promise<void>((resolve, reject) => {
        if (this.destroyed || this.errored !== null) {
          reject(this.failure ?? this.errored ?? new Error('writer destroyed'));
          return;
        }
        // The failure is this promise's: the 'error' event that also comes (maybe later) is not uncaught.
        this.on('error', () => undefined);
        this.end((err?: Error | null) => (err === null || err === undefined ? resolve() : reject(err)));
      });
    }
    if (this.uploadId === null) {
      await this.bucket.put(this.key, this.buf === null ? Buffer.alloc(0) : this.buf.subarray(0, this.fill));
    } else {
      await this.bucket.complete(this.key, await this.uploadId, this.parts);
    }
    this.buf = null;
  }

  async cancel(): Promise<void> {
    if (this.state === 'committing') await this.committing?.catch(() => undefined);
    if (this.state === 'committed') return;
    await this.discard();
  }

  /** Stops the part uploads in flight and aborts the multipart upload. Idempotent. */
  private discard(): Promise<void> {
    this.discarding ??= (async () => {
      this.state = 'discarded';
      this.requests.abort();
      if (!this.destroyed) this.destroy();
      while (this.inFlight.size > 0) await Promise.race(this.inFlight);
      this.buf = null;
      this.spare.length = 0;
      if (this.uploadId !== null) {
        const id = await this.uploadId.catch(() => null);
        if (id !== null) await this.bucket.abort(this.key, id);
      }
    })();
    return this.discarding;
  }
}

// ---- concat planning ----------------------------------------------------------------------------

/** Bytes start..end (inclusive) of source `index`. */
export interface Piece {
  index: number;
  start: number;
  end: number;
}

/** A part copied server side from one source, or a part whose bytes are read from small pieces. */
export type PlannedPart = { copy: Piece } | { data: Piece[]; size: number };

/**
 * Plans the concatenation of sources of the given sizes as multipart parts. A source of at least
 * 5 MiB is copied server side (in even parts of at most `maxCopyPart` bytes when larger). Runs of
 * smaller ones are read and uploaded together until they reach 5 MiB, taking the start of a following
 * large source when the rest of it is still 5 MiB (or all of it when not), so that every part but the
 * last is at least 5 MiB. A data part is smaller than 10 MiB.
 */
export function planConcat(sizes: readonly number[], maxCopyPart = MAX_PART): PlannedPart[] {
  const parts: PlannedPart[] = [];
  let pending: Piece[] = [];
  let pendingSize = 0;
  const add = (p: Piece): void => {
    pending.push(p);
    pendingSize += p.end - p.start + 1;
    if (pendingSize >= MIN_PART) {
      parts.push({ data: pending, size: pendingSize });
      pending = [];
      pendingSize = 0;
    }
  };
  sizes.forEach((size, index) => {
    if (size === 0) return;
    let start = 0;
    if (pendingSize > 0 && size >= MIN_PART) {
      const need = MIN_PART - pendingSize;
      if (size - need < MIN_PART) {
        add({ index, start: 0, end: size - 1 });
        return;
      }
      add({ index, start: 0, end: need - 1 });
      start = need;
    }
    const left = size - start;
    if (left < MIN_PART) {
      add({ index, start, end: size - 1 });
      return;
    }
    const step = Math.ceil(left / Math.ceil(left / maxCopyPart));
    for (let off = start; off < size; off += step) parts.push({ copy: { index, start: off, end: Math.min(off + step, size) - 1 } });
  });
  if (pendingSize > 0) parts.push({ data: pending, size: pendingSize });
  return parts;
}

// ---- the driver ---------------------------------------------------------------------------------

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly appendable = false;
  readonly bucketName: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly bucket: Bucket;
  private readonly dataParts = new Semaphore(DATA_PARTS_IN_FLIGHT);

  constructor(opts: S3DriverOptions) {
    if (opts.prefix !== '' && (!opts.prefix.endsWith('/') || opts.prefix.startsWith('/'))) throw new Error(`storage: S3 prefix ${opts.prefix} must be empty or end in / without a leading /`);
    if (!(opts.partSize >= MIN_PART && opts.partSize <= MAX_PART)) throw new Error(`storage: S3 part size ${opts.partSize} must be between 5 MiB and 5 GiB`);
    if (!(Number.isInteger(opts.maxAttempts) && opts.maxAttempts >= 1)) throw new Error(`storage: S3 maxAttempts ${opts.maxAttempts} must be a positive integer`);
    this.bucketName = opts.bucket;
    this.prefix = opts.prefix;
    this.client = new S3Client({
      region: opts.region,
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle,
      // Static keys when configured, else the SDK's default chain (environment, profile, IMDS, ...).
      ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
      maxAttempts: opts.maxAttempts,
      retryStrategy: new BackoffRetryStrategy(opts.maxAttempts),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Bodies are buffers sent at once; keep-alive connections are reused for parts too.
      expectContinueHeader: false,
      requestHandler: {
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 256 }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
        connectionTimeout: 10_000,
        // Inactivity on a connection, including a download paused by a slow client.
        socketTimeout: 300_000,
      },
    });
    this.bucket = new Bucket(this.client, opts.bucket, opts.partSize, opts);
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.client.destroy();
  }

  async close(): Promise<void> {
    this.destroy();
  }

  /** Aborts multipart uploads started before `before` whose writer never finished (a process died). */
  async purgeIncomplete(before: number): Promise<number> {
    return await this.bucket.abortUploadsUnder(this.prefix, before);
  }

  /** The full key of a driver key; the same rules as the filesystem driver. */
  private key(key: string): string {
    if (key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.')) throw new Error(`invalid storage key ${key}`);
    return this.prefix + key;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const head = await this.bucket.head(this.key(key));
    return head === null ? null : { size: head.size, modifiedAt: head.modifiedAt };
  }

  async reader(key: string, range?: ByteRange): Promise<Readable> {
    return await this.bucket.get(this.key(key), key, range);
  }

  async copyTo(key: string, dest: Writable, range?: ByteRange, onOpen?: () => void): Promise<void> {
    const body = await this.bucket.get(this.key(key), key, range);
    onOpen?.();
    // Write callbacks not run yet, the first write error, and who waits for the last callback.
    const writes: { pending: number; failed: Error | null; settled: (() => void) | null } = { pending: 0, failed: null, settled: null };
    const written = (err?: Error | null): void => {
      writes.pending--;
      if (err !== null && err !== undefined) writes.failed ??= err;
      if (writes.pending === 0) writes.settled?.();
    };
    try {
      for await (const chunk of body) {
        if (writes.failed !== null) throw writes.failed;
        if (dest.destroyed) throw new Error('destination closed');
        writes.pending++;
        dest.write(chunk as Buffer, written);
        if (dest.writableNeedDrain) await drained(dest);
      }
      if (writes.pending > 0) {
        if (dest.destroyed) throw new Error('destination closed');
        await new Promise<void>((resolve, reject) => {
          const onClose = (): void => reject(new Error('destination closed'));
          writes.settled = () => {
            dest.off('close', onClose);
            resolve();
          };
          dest.once('close', onClose);
        });
      }
      if (writes.failed !== null) throw writes.failed;
    } finally {
      if (!body.destroyed) body.destroy();
    }
  }

  async writer(key: string, opts: { append?: boolean } = {}): Promise<ObjectWriter> {
    const full = this.key(key);
    if (opts.append === true) throw new Error('storage: the s3 driver cannot append to objects (appendable is false; use concat)');
    return new S3Writer(this.bucket, full);
  }

  async get(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await this.bucket.get(this.key(key), key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.bucket.put(this.key(key), Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  async concat(sources: readonly string[], dest: string): Promise<void> {
    const destKey = this.key(dest);
    const fullKeys = sources.map((s) => this.key(s));
    // Every source is looked at before anything is created: an absent one fails here.
    const heads = new Map<string, Promise<Head>>();
    for (const [i, full] of fullKeys.entries()) {
      if (heads.has(full)) continue;
      const name = sources[i] as string;
      const p = this.bucket.head(full).then((h) => {
        if (h === null) throw new NotFoundError(name);
        return h;
      });
      p.catch(() => undefined);
      heads.set(full, p);
    }
    const infos: Head[] = [];
    for (const full of fullKeys) infos.push(await (heads.get(full) as Promise<Head>));

    const nonEmpty = infos.map((h, i) => ({ h, i })).filter(({ h }) => h.size > 0);
    if (nonEmpty.length === 0) return await this.bucket.put(destKey, Buffer.alloc(0));
    if (nonEmpty.length === 1) {
      const { h, i } = nonEmpty[0] as { h: Head; i: number };
      if (fullKeys[i] === destKey) return;
      return await this.bucket.copy(fullKeys[i] as string, sources[i] as string, h, destKey);
    }

    const plan = planConcat(infos.map((h) => h.size));
    if (plan.length > MAX_PARTS) throw new Error(`storage: concatenating ${sources.length} objects into ${dest} needs ${plan.length} parts, more than ${MAX_PARTS}`);
    const readData = async (pieces: Piece[], size: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(size);
      let off = 0;
      for (const p of pieces) {
        const h = infos[p.index] as Head;
        await this.bucket.readInto(fullKeys[p.index] as string, sources[p.index] as string, h.etag, p.start, p.end, buf, off);
        off += p.end - p.start + 1;
      }
      return buf;
    };
    const only = plan[0];
    if (plan.length === 1 && only !== undefined && 'data' in only) {
      // All of it fits one part: read it and write it at once.
      return await this.dataParts.run(async () => await this.bucket.put(destKey, await readData(only.data, only.size)));
    }
    await this.bucket.multipart(destKey, async (uploadId) => {
      const parts: CompletedPart[] = [];
      await forEachLimit(plan, COPY_CONCURRENCY, async (part, i) => {
        if ('copy' in part) {
          const { index, start, end } = part.copy;
          const h = infos[index] as Head;
          parts.push(await this.bucket.copyPart(destKey, uploadId, i + 1, fullKeys[index] as string, sources[index] as string, h.etag, start, end));
        } else {
          // At most a few data parts (each below 10 MiB) are held in memory at once, across the driver.
          parts.push(await this.dataParts.run(async () => await this.bucket.uploadPart(destKey, uploadId, i + 1, await readData(part.data, part.size))));
        }
      });
      return parts;
    });
  }

  async move(from: string, to: string): Promise<void> {
    const src = this.key(from);
    const dst = this.key(to);
    const head = await this.bucket.head(src);
    if (head === null) throw new NotFoundError(from);
    if (src === dst) return;
    await this.bucket.copy(src, from, head, dst);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucketName, Key: src }));
  }

  async delete(key: string): Promise<void> {
    const full = this.key(key);
    if (key.endsWith('/')) {
      let batch: string[] = [];
      for await (const k of this.bucket.listKeys(full)) {
        batch.push(k);
        if (batch.length === DELETE_BATCH) {
          await this.bucket.deleteKeys(batch);
          batch = [];
        }
      }
      if (batch.length > 0) await this.bucket.deleteKeys(batch);
      await this.bucket.abortUploadsUnder(full);
      return;
    }
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucketName, Key: full }));
    } catch (e) {
      if (!isMissingObject(e)) throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const full = this.key(prefix);
    for await (const k of this.bucket.listKeys(full)) yield k.slice(this.prefix.length);
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string | null> {
    return await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucketName, Key: this.key(key) }), { expiresIn: expiresInSeconds });
  }

  /** The bucket answers and takes a write and a delete. Never lists: start-up does not grow with the data. */
  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucketName }));
    const probe = this.key(`.berth-check-${randomBytes(6).toString('hex')}`);
    await this.bucket.put(probe, Buffer.from(String(Date.now())));
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucketName, Key: probe }));
  }
}
