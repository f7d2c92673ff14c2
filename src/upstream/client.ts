// berth's client of other registries (OCI distribution-spec v1.1 "Pull", "Push", "Content Discovery";
// Docker Registry HTTP API V2 for what Docker Hub and older registries still do), shared by the
// pull-through cache and replication. Every request: authentication as the registry challenges
// (auth.ts), an idle timeout, retries with exponential backoff and jitter on network errors, 5xx and
// 429 for requests that can be repeated (honouring Retry-After), redirects followed by hand so that
// credentials never go to another origin (an S3 presigned URL, a `Link` to elsewhere). Content is
// never trusted: manifests are checked against the digest asked for and Docker-Content-Digest, blobs
// stream through a digest check, both in and out.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, parseDigest, tryParseDigest, type ParsedDigest } from '../core/digest.ts';
import { MAX_MANIFEST_BYTES, parseManifest, type Descriptor } from '../core/manifest.ts';
import { MT, stripParameters } from '../core/media-types.ts';
import { parseReference, validateRepositoryName, type Reference } from '../core/names.ts';
import { Authenticator, repositoryScope, type Credentials } from './auth.ts';
import { VerifiedBlobStream, readAll, transferError } from './blob-stream.ts';
import { UpstreamError, kindOfStatus, redactUrl } from './errors.ts';
import { nextLink, parseRetryAfter } from './headers.ts';
import { Semaphore } from './semaphore.ts';

export interface RegistryClientOptions {
  /** `https://registry-1.docker.io`, `http://127.0.0.1:5001` (no path, no credentials). */
  baseUrl: string;
  credentials?: Credentials | undefined;
  userAgent?: string;
  /** The longest wait for response headers or for the next bytes of a body (default 30 s). */
  timeoutMs?: number;
  /** How many times a failed request that can be repeated is tried again (default 3). */
  retries?: number;
  /** The first backoff delay; it doubles with each retry, with jitter (default 500 ms). */
  retryDelayMs?: number;
  /** No single wait is longer: a Retry-After beyond it fails at once, with `retryAfterMs` set (default 30 s). */
  maxRetryDelayMs?: number;
  /** Blob transfers (GET and upload) running at once through this client (default 4). */
  maxConcurrent?: number;
  fetch?: typeof fetch;
  /** The clock for token lifetimes and HTTP dates (tests). */
  now?: () => number;
}

export interface Manifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

export interface ManifestHead {
  digest: string;
  mediaType: string | undefined;
  size: number | undefined;
}

export interface BlobStat {
  digest: string;
  size: number | undefined;
}

/**
 * Content to upload: bytes, a stream (sent once, never retried), or a function opening a new stream
 * for each attempt (so a failed upload can start over).
 */
export type BlobSource = Buffer | Readable | (() => Readable | Promise<Readable>);

/** Every manifest type berth stores, in the Accept header of manifest requests. */
export const MANIFEST_ACCEPT = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerManifestList].join(', ');

const ERROR_BODY_LIMIT = 64 * 1024;
const TOKEN_BODY_LIMIT = 1024 * 1024;
const TAG_LIST_LIMIT = 16 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Content types that say nothing about which manifest this is. */
const GENERIC_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/octet-stream', 'text/plain']);

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

interface Call {
  method: Method;
  url: string;
  /** Token scopes the request needs; undefined for requests outside the registry (token endpoints). */
  scopes?: readonly string[];
  /** For requests outside the registry: their own Authorization header, sent to their origin only. */
  authorization?: string | undefined;
  headers?: Record<string, string>;
  /** A Readable body is sent once: neither retried nor sent again after a 401. */
  body?: Buffer | Readable;
  /** Whether the request may be repeated after a network error, 5xx or 429. */
  retry: boolean;
}

interface Sent {
  res: Response;
  /** The URL that answered (after redirects). */
  url: string;
  method: Method;
  abort: (reason?: unknown) => void;
}

export class RegistryClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly slots: Semaphore;
  private readonly auth: Authenticator;
  private readonly gaveUp = new WeakSet<UpstreamError>();

  constructor(options: RegistryClientOptions) {
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`registry URL must be http or https: ${redactUrl(base)}`);
    if (base.username !== '' || base.password !== '') throw new TypeError('registry URL must not carry credentials; pass them as options.credentials');
    if (base.pathname !== '/' || base.search !== '') throw new TypeError(`registry URL must have no path or query: ${redactUrl(base)}`);
    this.origin = base.origin;
    this.baseUrl = base.origin;
    this.userAgent = options.userAgent ?? 'berth';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
    this.slots = new Semaphore(options.maxConcurrent ?? 4);
    this.auth = new Authenticator(options.credentials, (url, authorization) => this.tokenBody(url, authorization), this.now);
  }

  /**
   * Whether the registry answers its API and accepts the credentials (GET /v2/ through the
   * challenge flow); throws the UpstreamError otherwise.
   */
  async ping(): Promise<void> {
    const sent = await this.send({ method: 'GET', url: `${this.origin}/v2/`, scopes: [], retry: true });
    await this.expect(sent, [200]);
    await discard(sent);
  }

  // ---- manifests ----

  /** The manifest by tag or digest, checked against the digest asked for and the one the registry states. */
  async getManifest(repo: string, reference: string, accept: string = MANIFEST_ACCEPT): Promise<Manifest> {
    const ref = parseReference(reference);
    const sent = await this.send({ method: 'GET', url: this.url(repo, 'manifests', reference), scopes: [repositoryScope(repo)], headers: { accept }, retry: true });
    await this.expect(sent, [200]);
    const declared = contentLength(sent.res);
    if (declared !== undefined && declared > MAX_MANIFEST_BYTES) {
      sent.abort();
      throw new UpstreamError('invalid-response', `manifest is ${declared} bytes; the limit is ${MAX_MANIFEST_BYTES} bytes`, { url: sent.url, status: 200 });
    }
    const body = await this.read(sent, MAX_MANIFEST_BYTES);
    const digest = checkManifestDigest(body, ref, sent.res.headers.get('docker-content-digest'), sent.url);
    return { body, mediaType: manifestMediaType(body, sent.res.headers.get('content-type'), sent.url), digest };
  }

  /** Digest, media type and size of a manifest without its body; undefined when the registry has none. */
  async headManifest(repo: string, reference: string, accept: string = MANIFEST_ACCEPT): Promise<ManifestHead | undefined> {
    const ref = parseReference(reference);
    const sent = await this.send({ method: 'HEAD', url: this.url(repo, 'manifests', reference), scopes: [repositoryScope(repo)], headers: { accept }, retry: true });
    if (sent.res.status === 404) return undefined;
    await this.expect(sent, [200]);
    const stated = tryParseDigest(sent.res.headers.get('docker-content-digest') ?? '')?.digest;
    if (ref.kind === 'digest' && stated !== undefined && stated !== ref.digest.digest) {
      throw new UpstreamError('digest-mismatch', `the registry states ${stated} for manifest ${ref.digest.digest}`, { url: sent.url, status: 200 });
    }
    const digest = ref.kind === 'digest' ? ref.digest.digest : stated;
    if (digest === undefined) {
      // Without Docker-Content-Digest a tag's digest is only known from the bytes.
      const m = await this.getManifest(repo, reference, accept);
      return { digest: m.digest, mediaType: m.mediaType, size: m.body.length };
    }
    return { digest, mediaType: stripParameters(sent.res.headers.get('content-type') ?? undefined), size: contentLength(sent.res) };
  }

  /** Pushes a manifest (its blobs and child manifests must be there already); returns its digest. */
  async putManifest(repo: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
    const ref = parseReference(reference);
    const url = this.url(repo, 'manifests', reference);
    const digest = digestOf(body, ref.kind === 'digest' ? ref.digest.algorithm : 'sha256');
    if (ref.kind === 'digest' && digest !== ref.digest.digest) {
      throw new UpstreamError('digest-mismatch', `manifest content is ${digest}, not ${ref.digest.digest}`, { url });
    }
    const sent = await this.send({ method: 'PUT', url, scopes: [repositoryScope(repo, true)], headers: { 'content-type': mediaType }, body, retry: true });
    await this.expect(sent, [200, 201, 202]);
    await discard(sent);
    return digest;
  }

  // ---- blobs ----

  /**
   * The blob as a stream that ends only if the bytes match the digest; otherwise it fails with
   * `digest-mismatch` (or `timeout` when the upstream stalls for timeoutMs). Holds one transfer slot
   * until it ends or is destroyed.
   */
  async openBlob(repo: string, digest: string): Promise<VerifiedBlobStream> {
    const d = parseDigest(digest);
    const release = await this.slots.acquire();
    try {
      const sent = await this.send({ method: 'GET', url: this.url(repo, 'blobs', d.digest), scopes: [repositoryScope(repo)], retry: true });
      await this.expect(sent, [200]);
      // With a Content-Encoding the length is of the encoded bytes, not of the blob.
      const size = sent.res.headers.get('content-encoding') === null ? contentLength(sent.res) : undefined;
      return new VerifiedBlobStream(sent.res.body ?? emptyBody(), {
        digest: d,
        size,
        idleMs: this.timeoutMs,
        url: sent.url,
        onClose: () => {
          sent.abort();
          release();
        },
      });
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Size of a blob in the repository, or undefined when it is not there. */
  async statBlob(repo: string, digest: string): Promise<BlobStat | undefined> {
    const d = parseDigest(digest);
    const sent = await this.send({ method: 'HEAD', url: this.url(repo, 'blobs', d.digest), scopes: [repositoryScope(repo)], retry: true });
    if (sent.res.status === 404) return undefined;
    await this.expect(sent, [200]);
    return { digest: d.digest, size: contentLength(sent.res) };
  }

  async blobExists(repo: string, digest: string): Promise<boolean> {
    return (await this.statBlob(repo, digest)) !== undefined;
  }

  /**
   * Uploads a blob: POST to open a session, one PATCH streaming all the bytes (checked against digest
   * and size on the way, so a wrong source never completes), PUT with the digest to commit. A failed
   * attempt cancels its session; with a Buffer or a function as source the whole upload is retried.
   */
  async pushBlob(repo: string, digest: string, size: number, source: BlobSource): Promise<void> {
    const d = parseDigest(digest);
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`blob size must be a non-negative integer, got ${size}`);
    await this.retrying(() => this.uploadOnce(repo, d, size, source), !(source instanceof Readable));
  }

  /**
   * Cross-repository mount (distribution-spec "Mounting a blob from another repository"): true when
   * the registry linked the blob (201); false when it opened an upload session instead (202), which is
   * cancelled; the caller then pushes the blob.
   */
  async mountBlob(repo: string, digest: string, fromRepo: string): Promise<boolean> {
    const d = parseDigest(digest);
    validateRepositoryName(fromRepo);
    const url = `${this.url(repo, 'blobs', 'uploads/')}?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(fromRepo)}`;
    const sent = await this.send({ method: 'POST', url, scopes: [repositoryScope(repo, true), repositoryScope(fromRepo)], body: Buffer.alloc(0), retry: true });
    await this.expect(sent, [201, 202]);
    await discard(sent);
    if (sent.res.status === 201) return true;
    const location = sent.res.headers.get('location');
    if (location !== null) await this.cancelUpload(new URL(location, sent.url).toString(), repo);
    return false;
  }

  // ---- discovery ----

  /** Every tag of the repository, following `Link: <...>; rel="next"` pages. */
  async listTags(repo: string, pageSize?: number): Promise<string[]> {
    let url: string | undefined = this.url(repo, 'tags', 'list') + (pageSize === undefined ? '' : `?n=${pageSize}`);
    const tags: string[] = [];
    const seen = new Set<string>();
    while (url !== undefined) {
      seen.add(url);
      const sent = await this.send({ method: 'GET', url, scopes: [repositoryScope(repo)], headers: { accept: 'application/json' }, retry: true });
      await this.expect(sent, [200]);
      const page = parseJson(await this.read(sent, TAG_LIST_LIMIT), sent.url) as { tags?: unknown };
      if (page.tags !== null && page.tags !== undefined) {
        if (!Array.isArray(page.tags) || page.tags.some((t) => typeof t !== 'string')) {
          throw new UpstreamError('invalid-response', 'tag list "tags" is not an array of strings', { url: sent.url, status: 200 });
        }
        tags.push(...(page.tags as string[]));
      }
      url = nextLink(sent.res.headers.get('link'), sent.url);
      if (url !== undefined && seen.has(url)) throw new UpstreamError('invalid-response', 'tag list pages link in a circle', { url, status: 200 });
    }
    return tags;
  }

  /**
   * Manifests whose `subject` is `digest` (OCI 1.1 referrers API), optionally only those of one
   * artifact type. When the registry has no referrers API (404), the index pushed to the referrers tag
   * schema's tag (`sha256-<hex>`) is read instead; no valid index there means no referrers.
   */
  async getReferrers(repo: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const d = parseDigest(digest);
    const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
    let url: string | undefined = this.url(repo, 'referrers', d.digest) + query;
    const found: Descriptor[] = [];
    const seen = new Set<string>();
    while (url !== undefined) {
      seen.add(url);
      const sent = await this.send({ method: 'GET', url, scopes: [repositoryScope(repo)], headers: { accept: MT.ociIndex }, retry: true });
      if (sent.res.status === 404 && found.length === 0 && seen.size === 1) {
        await discard(sent);
        return this.referrersFromTag(repo, d, artifactType);
      }
      await this.expect(sent, [200]);
      const body = await this.read(sent, MAX_MANIFEST_BYTES);
      found.push(...indexEntries(body, sent.url));
      url = nextLink(sent.res.headers.get('link'), sent.url);
      if (url !== undefined && seen.has(url)) throw new UpstreamError('invalid-response', 'referrers pages link in a circle', { url, status: 200 });
    }
    // The registry may ignore the filter (it says so by leaving out OCI-Filters-Applied); applying it again is harmless.
    return found.filter((m) => artifactType === undefined || m.artifactType === artifactType);
  }

  private async referrersFromTag(repo: string, d: ParsedDigest, artifactType: string | undefined): Promise<Descriptor[]> {
    let index: Manifest;
    try {
      index = await this.getManifest(repo, referrersTag(d), MT.ociIndex);
    } catch (e) {
      if (e instanceof UpstreamError && e.kind === 'not-found') return [];
      throw e;
    }
    let entries: Descriptor[];
    try {
      entries = indexEntries(index.body, this.url(repo, 'manifests', referrersTag(d)));
    } catch {
      return [];
    }
    return entries.filter((m) => artifactType === undefined || m.artifactType === artifactType);
  }

  // ---- uploads ----

  private async uploadOnce(repo: string, d: ParsedDigest, size: number, source: BlobSource): Promise<void> {
    const scopes = [repositoryScope(repo, true)];
    const release = await this.slots.acquire();
    let session: string | undefined;
    let body: VerifiedBlobStream | undefined;
    try {
      const started = await this.send({ method: 'POST', url: this.url(repo, 'blobs', 'uploads/'), scopes, body: Buffer.alloc(0), retry: true });
      await this.expect(started, [202]);
      session = uploadLocation(started);
      await discard(started);
      const stream = Buffer.isBuffer(source) ? Readable.from([source]) : source instanceof Readable ? source : await source();
      body = new VerifiedBlobStream(stream, { digest: d, size, idleMs: this.timeoutMs, url: session });
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(size) };
      if (size > 0) headers['content-range'] = `0-${size - 1}`;
      const patched = await this.send({ method: 'PATCH', url: session, scopes, headers, body, retry: false });
      await this.expect(patched, [202]);
      session = uploadLocation(patched);
      await discard(patched);
      const committed = await this.send({ method: 'PUT', url: withQuery(session, 'digest', d.digest), scopes, body: Buffer.alloc(0), retry: true });
      await this.expect(committed, [201]);
      session = undefined;
      await discard(committed);
    } catch (e) {
      if (body !== undefined) body.destroy();
      else if (source instanceof Readable) source.destroy();
      if (session !== undefined) await this.cancelUpload(session, repo);
      throw e;
    } finally {
      release();
    }
  }

  /** Best effort: an abandoned session is purged by the registry anyway. */
  private async cancelUpload(location: string, repo: string): Promise<void> {
    try {
      const sent = await this.send({ method: 'DELETE', url: location, scopes: [repositoryScope(repo, true)], retry: false });
      await discard(sent);
    } catch {
      // ignored: see above
    }
  }

  // ---- requests ----

  private url(repo: string, kind: 'manifests' | 'blobs' | 'tags' | 'referrers', rest: string): string {
    validateRepositoryName(repo);
    return `${this.origin}/v2/${repo}/${kind}/${rest}`;
  }

  private async tokenBody(url: URL, authorization: string | undefined): Promise<Buffer> {
    const sent = await this.send({ method: 'GET', url: url.toString(), authorization, headers: { accept: 'application/json' }, retry: true });
    await this.expect(sent, [200]);
    return this.read(sent, TOKEN_BODY_LIMIT);
  }

  /**
   * `fn` again after retryable failures, waiting as Retry-After asks or with backoff and jitter. An
   * error some inner loop already gave up on (a request inside an upload) is not retried again.
   */
  private async retrying<T>(fn: () => Promise<T>, repeatable: boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof UpstreamError) || !repeatable || !e.retryable || this.gaveUp.has(e)) throw e;
        const backoff = this.retryDelayMs * 2 ** attempt;
        const wait = e.retryAfterMs ?? Math.min(this.maxRetryDelayMs, backoff / 2 + (Math.random() * backoff) / 2);
        if (attempt >= this.retries || wait > this.maxRetryDelayMs) {
          this.gaveUp.add(e);
          throw e;
        }
        await sleep(wait);
      }
    }
  }

  /** Sends `call`; 5xx and 429 answers become errors (retried when the call allows). */
  private async send(call: Call): Promise<Sent> {
    return this.retrying(async () => {
      const sent = await this.authorized(call);
      if (sent.res.status >= 500 || sent.res.status === 429) throw await this.errorOf(sent);
      return sent;
    }, call.retry);
  }

  private async authorized(call: Call): Promise<Sent> {
    if (call.scopes === undefined) return this.follow(call, call.authorization);
    const first = await this.auth.authorization(call.scopes);
    const sent = await this.follow(call, first);
    if (sent.res.status !== 401 || call.body instanceof Readable) return sent;
    const refused = await this.errorOf(sent);
    const wanted = this.auth.challenged(sent.res.headers.get('www-authenticate'), call.scopes, sent.url);
    const second = await this.auth.authorization(wanted);
    if (second === undefined || second === first) throw refused;
    return this.follow(call, second);
  }

  /**
   * Follows redirects of GET and HEAD. The Authorization header goes only to its own origin: the
   * registry's, or a token endpoint's.
   */
  private async follow(call: Call, authorization: string | undefined): Promise<Sent> {
    const home = call.scopes === undefined ? new URL(call.url).origin : this.origin;
    let url = call.url;
    for (let hop = 0; ; hop++) {
      const sent = await this.once(call, url, new URL(url).origin === home ? authorization : undefined);
      const location = sent.res.headers.get('location');
      if (!REDIRECT_STATUSES.has(sent.res.status) || location === null || (call.method !== 'GET' && call.method !== 'HEAD')) return sent;
      await discard(sent);
      if (hop >= MAX_REDIRECTS) throw new UpstreamError('invalid-response', `more than ${MAX_REDIRECTS} redirects`, { url, status: sent.res.status });
      url = new URL(location, url).toString();
    }
  }

  /** One HTTP exchange, aborted when the upstream is idle (no headers, no body read) for timeoutMs. */
  private async once(call: Call, url: string, authorization: string | undefined): Promise<Sent> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new UpstreamError('timeout', `${call.method} ${redactUrl(url)}: no response within ${this.timeoutMs} ms`, { url })), this.timeoutMs);
    };
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...call.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    const stream = call.body instanceof Readable ? call.body : undefined;
    touch();
    try {
      const res = await this.fetchImpl(url, {
        method: call.method,
        headers,
        body: stream !== undefined ? touching(stream, touch) : call.body,
        duplex: 'half',
        redirect: 'manual',
        signal: controller.signal,
      });
      return { res, url, method: call.method, abort: (reason?: unknown) => controller.abort(reason) };
    } catch (e) {
      if (stream?.errored instanceof UpstreamError) throw stream.errored;
      if (controller.signal.reason instanceof UpstreamError) throw controller.signal.reason;
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
      const code = (cause as { code?: unknown }).code;
      const detail = typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
      throw new UpstreamError('unavailable', `${call.method} ${redactUrl(url)}: ${detail}`, { url, cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Throws the registry's error unless the status is one of `ok`. */
  private async expect(sent: Sent, ok: readonly number[]): Promise<void> {
    if (!ok.includes(sent.res.status)) throw await this.errorOf(sent);
  }

  /** The error an answer stands for, with the registry's OCI error code and message when it sent them. */
  private async errorOf(sent: Sent): Promise<UpstreamError> {
    const { res, url, method } = sent;
    let code: string | undefined;
    let message: string | undefined;
    if (method !== 'HEAD') {
      try {
        const first = (parseJson(await this.read(sent, ERROR_BODY_LIMIT), url) as { errors?: { code?: unknown; message?: unknown }[] }).errors?.[0];
        if (typeof first?.code === 'string') code = first.code;
        if (typeof first?.message === 'string' && first.message !== '') message = first.message.slice(0, 300);
      } catch {
        // not an OCI error body: the status says enough
      }
    } else {
      await discard(sent);
    }
    const text = `${method} ${redactUrl(url)}: ${res.status}${code === undefined ? '' : ` ${code}`}${message === undefined ? '' : `: ${message}`}`;
    return new UpstreamError(kindOfStatus(res.status, code), text, {
      status: res.status,
      code,
      url,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), this.now()),
    });
  }

  /** A whole body of at most `limit` bytes; the request is aborted when reading fails. */
  private async read(sent: Sent, limit: number): Promise<Buffer> {
    try {
      return await readAll(sent.res.body, limit, this.timeoutMs, sent.url);
    } catch (e) {
      sent.abort();
      const err = transferError(e, sent.url);
      if (err.kind === 'invalid-response') {
        throw new UpstreamError('invalid-response', `${sent.method} ${redactUrl(sent.url)}: ${err.message}`, { url: sent.url, status: sent.res.status });
      }
      throw err;
    }
  }
}

/** The referrers tag schema's tag: algorithm (at most 32 characters), `-`, encoded part (at most 64). */
export function referrersTag(d: ParsedDigest): string {
  return `${d.algorithm.slice(0, 32)}-${d.hex.slice(0, 64)}`;
}

/** Every chunk `stream` gives, calling `touch` as each one is taken (the request is making progress). */
async function* touching(stream: Readable, touch: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    touch();
    yield chunk as Uint8Array;
  }
  touch();
}

async function discard(sent: Sent): Promise<void> {
  await sent.res.body?.cancel().catch(() => undefined);
}

function emptyBody(): AsyncIterable<Uint8Array> {
  return Readable.from([]);
}

function contentLength(res: Response): number | undefined {
  const v = res.headers.get('content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
}

function uploadLocation(sent: Sent): string {
  const location = sent.res.headers.get('location');
  if (location === null) throw new UpstreamError('invalid-response', `${sent.method} ${redactUrl(sent.url)}: no Location for the upload session`, { url: sent.url, status: sent.res.status });
  return new URL(location, sent.url).toString();
}

function withQuery(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

function parseJson(body: Buffer, url: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new UpstreamError('invalid-response', `${redactUrl(url)}: the answer is not JSON`, { url });
  }
}

function indexEntries(body: Buffer, url: string): Descriptor[] {
  try {
    return parseManifest(body, MT.ociIndex).manifests;
  } catch (e) {
    throw new UpstreamError('invalid-response', `${redactUrl(url)}: not a valid image index: ${(e as Error).message}`, { url, cause: e });
  }
}

/** The manifest's digest after checking the bytes against the digest asked for and the one stated. */
function checkManifestDigest(body: Buffer, ref: Reference, stated: string | null, url: string): string {
  if (ref.kind === 'digest') {
    const actual = digestOf(body, ref.digest.algorithm);
    if (actual !== ref.digest.digest) throw new UpstreamError('digest-mismatch', `manifest content is ${actual}, expected ${ref.digest.digest}`, { url, status: 200 });
  }
  const header = tryParseDigest(stated ?? '');
  if (header !== null) {
    const actual = digestOf(body, header.algorithm);
    if (actual !== header.digest) throw new UpstreamError('digest-mismatch', `manifest content is ${actual}; the registry states ${header.digest}`, { url, status: 200 });
  }
  return ref.kind === 'digest' ? ref.digest.digest : (header?.digest ?? digestOf(body));
}

/** Content-Type, or when that is missing or generic, the type the manifest declares or implies. */
function manifestMediaType(body: Buffer, contentType: string | null, url: string): string {
  const type = stripParameters(contentType ?? undefined);
  if (type !== undefined && !GENERIC_TYPES.has(type)) return type;
  try {
    return parseManifest(body, undefined).mediaType;
  } catch (e) {
    throw new UpstreamError('invalid-response', `${redactUrl(url)}: served as ${type ?? 'no type'} and not a manifest: ${(e as Error).message}`, { url, status: 200, cause: e });
  }
}
