// Reading upstream bodies without trusting them: every read has an idle timeout (no bytes for
// idleMs is an error, however long the whole transfer takes), bodies read into memory have a size
// limit, and blobs stream through a Readable that hashes as it goes and ends with an error instead
// of 'end' when the bytes do not match the digest (OCI image-spec descriptor.md "Verification").
import { Readable } from 'node:stream';
import type { Hash } from 'node:crypto';
import { newHash, type ParsedDigest } from '../core/digest.ts';
import { UpstreamError } from './errors.ts';

/** The next chunk, or a timeout error when none comes within idleMs. */
export async function nextChunk(it: AsyncIterator<Uint8Array>, idleMs: number, url: string): Promise<IteratorResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UpstreamError('timeout', `no data for ${idleMs} ms`, { url })), idleMs);
  });
  try {
    return await Promise.race([it.next(), timeout]);
  } catch (e) {
    throw transferError(e, url);
  } finally {
    clearTimeout(timer);
  }
}

/** A failure while bytes were moving, as an UpstreamError (a dropped connection is `unavailable`). */
export function transferError(e: unknown, url: string): UpstreamError {
  if (e instanceof UpstreamError) return e;
  if (e instanceof Error && e.cause instanceof UpstreamError) return e.cause;
  const detail = e instanceof Error ? e.message : String(e);
  return new UpstreamError('unavailable', `transfer interrupted: ${detail}`, { url, cause: e });
}

/** Reads a whole body of at most `limit` bytes. */
export async function readAll(body: AsyncIterable<Uint8Array> | null, limit: number, idleMs: number, url: string): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  const it = body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (let r = await nextChunk(it, idleMs, url); r.done !== true; r = await nextChunk(it, idleMs, url)) {
      length += r.value.length;
      if (length > limit) throw new UpstreamError('invalid-response', `response body is larger than ${limit} bytes`, { url });
      chunks.push(r.value);
    }
  } catch (e) {
    void it.return?.()?.catch(() => undefined);
    throw e;
  }
  return Buffer.concat(chunks, length);
}

export interface VerifyOptions {
  digest: ParsedDigest;
  /** The exact size the content must have, when known. */
  size?: number | undefined;
  idleMs: number;
  url: string;
  /** Called once when the stream ends, fails or is destroyed (to abort the request and free its slot). */
  onClose?: () => void;
}

/** Blob content from `source`, checked against its digest (and size) before the stream ends. */
export class VerifiedBlobStream extends Readable {
  readonly digest: string;
  readonly size: number | undefined;
  private readonly source: AsyncIterator<Uint8Array>;
  private readonly opts: VerifyOptions;
  private readonly hash: Hash;
  private received = 0;

  constructor(source: AsyncIterable<Uint8Array>, opts: VerifyOptions) {
    super();
    this.source = source[Symbol.asyncIterator]();
    this.opts = opts;
    this.digest = opts.digest.digest;
    this.size = opts.size;
    this.hash = newHash(opts.digest.algorithm);
  }

  override _read(): void {
    nextChunk(this.source, this.opts.idleMs, this.opts.url).then(
      (r) => {
        if (r.done === true) {
          const problem = this.check();
          if (problem === undefined) this.push(null);
          else this.destroy(new UpstreamError('digest-mismatch', problem, { url: this.opts.url }));
          return;
        }
        this.received += r.value.length;
        if (this.size !== undefined && this.received > this.size) {
          this.destroy(new UpstreamError('digest-mismatch', `blob ${this.digest} is longer than its size ${this.size}`, { url: this.opts.url }));
          return;
        }
        this.hash.update(r.value);
        this.push(r.value);
      },
      (e: unknown) => this.destroy(transferError(e, this.opts.url)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.source.return?.()?.catch(() => undefined);
    this.opts.onClose?.();
    callback(error);
  }

  private check(): string | undefined {
    if (this.size !== undefined && this.received !== this.size) {
      return `blob ${this.digest} ended after ${this.received} bytes; its size is ${this.size}`;
    }
    const actual = `${this.opts.digest.algorithm}:${this.hash.digest('hex')}`;
    return actual === this.digest ? undefined : `blob content is ${actual}, expected ${this.digest}`;
  }
}
