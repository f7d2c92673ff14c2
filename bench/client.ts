// The one registry client the benchmark uses against every server: node:http with a keep-alive
// agent, streaming request bodies from the content generator (never a whole blob in memory), and
// streaming response bodies through an optional sha256.
import { createHash } from 'node:crypto';
import { Agent, request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BLOCK, fillBlob, type BlobSpec } from './content.ts';

export interface ClientOptions {
  /** `http://host:port` of the registry. */
  baseUrl: string;
  /** Maximum number of sockets (= the case's concurrency). */
  concurrency: number;
  /** HTTP Basic credentials sent with every request; none when omitted. */
  basicAuth?: { user: string; password: string };
  /** Abort a request after this long without socket activity. */
  idleTimeoutMs?: number;
}

export class HttpError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

type Body = { kind: 'buffer'; data: Buffer } | { kind: 'blob'; blob: BlobSpec; offset: number; length: number };

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, kept only for error statuses and small replies (first 64 KiB). */
  body: Buffer;
  /** Number of body bytes received. */
  bytes: number;
  /** `sha256:<hex>` of the body, when asked for. */
  digest: string | undefined;
}

const KEEP_LIMIT = 64 * 1024;
/** How many 1 MiB buffers one request may have in flight to the socket. */
const RING = 4;

/** Request latencies in milliseconds by kind (POST, PATCH, PUT, GET, ...). */
export type RequestLatencies = Map<string, number[]>;

export class RegistryClient {
  readonly #agent: Agent;
  readonly #host: string;
  readonly #port: number;
  readonly #base: URL;
  readonly #auth: string | undefined;
  readonly #idleTimeoutMs: number;
  readonly #freeRings: Buffer[][] = [];
  #latencies: RequestLatencies = new Map();

  constructor(opts: ClientOptions) {
    this.#base = new URL(opts.baseUrl);
    this.#host = this.#base.hostname;
    this.#port = Number(this.#base.port || 80);
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: opts.concurrency,
      maxFreeSockets: opts.concurrency,
    });
    this.#auth =
      opts.basicAuth === undefined
        ? undefined
        : `Basic ${Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`).toString('base64')}`;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
  }

  /** Per-request latencies recorded since the last call, and reset. */
  takeLatencies(): RequestLatencies {
    const l = this.#latencies;
    this.#latencies = new Map();
    return l;
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Monolithic upload: POST to open a session, then one PUT ?digest= with the whole body. */
  async pushMonolithic(repo: string, blob: BlobSpec, digest: string): Promise<void> {
    const location = await this.#startUpload(repo);
    const res = await this.#send(
      'PUT',
      withDigest(location, digest),
      { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      { kind: 'blob', blob, offset: 0, length: blob.size },
    );
    expectStatus(res, 201, `PUT blob ${digest} to ${repo}`);
  }

  /** Chunked upload: POST, one PATCH (with Content-Range) per chunk, then an empty PUT ?digest=. */
  async pushChunked(repo: string, blob: BlobSpec, digest: string, chunkSize: number): Promise<void> {
    let location = await this.#startUpload(repo);
    for (let off = 0; off < blob.size; off += chunkSize) {
      const n = Math.min(chunkSize, blob.size - off);
      const res = await this.#send(
        'PATCH',
        location,
        {
          'content-type': 'application/octet-stream',
          'content-length': String(n),
          'content-range': `${off}-${off + n - 1}`,
        },
        { kind: 'blob', blob, offset: off, length: n },
      );
      expectStatus(res, 202, `PATCH chunk ${off}-${off + n - 1} of ${digest} to ${repo}`);
      location = this.#location(res) ?? location;
    }
    const res = await this.#send('PUT', withDigest(location, digest), { 'content-length': '0' }, undefined);
    expectStatus(res, 201, `PUT (close) blob ${digest} to ${repo}`);
  }

  /** GET a blob, read the whole body, check its size and (when `verify`) its sha256. */
  async pull(repo: string, digest: string, size: number, verify: boolean): Promise<void> {
    let path = `/v2/${repo}/blobs/${digest}`;
    for (let hop = 0; ; hop++) {
      const res = await this.#send('GET', path, {}, undefined, verify);
      if (res.status >= 300 && res.status < 400 && hop < 3) {
        const next = this.#location(res);
        if (next === undefined) throw new HttpError(`GET blob ${digest}: ${res.status} without Location`, res.status);
        path = next;
        continue;
      }
      expectStatus(res, 200, `GET blob ${digest} from ${repo}`);
      if (res.bytes !== size) throw new Error(`GET blob ${digest}: got ${res.bytes} bytes, expected ${size}`);
      const cl = res.headers['content-length'];
      if (cl !== undefined && Number(cl) !== size) {
        throw new Error(`GET blob ${digest}: Content-Length ${cl}, expected ${size}`);
      }
      if (verify && res.digest !== digest) throw new Error(`GET blob ${digest}: body hashes to ${res.digest}`);
      return;
    }
  }

  /** Push a small in-memory blob (e.g. an image config). */
  async pushBuffer(repo: string, data: Buffer): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const location = await this.#startUpload(repo);
    const res = await this.#send(
      'PUT',
      withDigest(location, digest),
      { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      { kind: 'buffer', data },
    );
    expectStatus(res, 201, `PUT blob ${digest} to ${repo}`);
    return digest;
  }

  async putManifest(repo: string, reference: string, mediaType: string, data: Buffer): Promise<void> {
    const res = await this.#send(
      'PUT',
      `/v2/${repo}/manifests/${reference}`,
      { 'content-type': mediaType, 'content-length': String(data.length) },
      { kind: 'buffer', data },
    );
    expectStatus(res, 201, `PUT manifest ${repo}:${reference}`);
  }

  async #startUpload(repo: string): Promise<string> {
    const res = await this.#send('POST', `/v2/${repo}/blobs/uploads/`, { 'content-length': '0' }, undefined);
    expectStatus(res, 202, `POST upload to ${repo}`);
    const location = this.#location(res);
    if (location === undefined) throw new HttpError(`POST upload to ${repo}: 202 without Location`, res.status);
    return location;
  }

  /** The Location header as a path (+ query) on this server. */
  #location(res: Reply): string | undefined {
    const loc = res.headers.location;
    if (loc === undefined || loc === '') return undefined;
    const u = new URL(loc, this.#base);
    if (u.host !== this.#base.host) throw new Error(`Location points to another host: ${loc}`);
    return u.pathname + u.search;
  }

  #record(kind: string, ms: number): void {
    let list = this.#latencies.get(kind);
    if (list === undefined) {
      list = [];
      this.#latencies.set(kind, list);
    }
    list.push(ms);
  }

  async #send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Body | undefined,
    hashBody = false,
  ): Promise<Reply> {
    const started = performance.now();
    const ring = body?.kind === 'blob' && body.length > BLOCK ? this.#takeRing() : undefined;
    try {
      const reply = await this.#exchange(method, path, headers, body, hashBody, ring);
      this.#record(method, performance.now() - started);
      return reply;
    } finally {
      // Only reached once every write callback has fired (or the request is dead), so the ring is free.
      if (ring !== undefined) this.#freeRings.push(ring);
    }
  }

  #takeRing(): Buffer[] {
    return this.#freeRings.pop() ?? Array.from({ length: RING }, () => Buffer.allocUnsafeSlow(BLOCK));
  }

  async #exchange(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Body | undefined,
    hashBody: boolean,
    ring: Buffer[] | undefined,
  ): Promise<Reply> {
    const allHeaders: Record<string, string> = { ...headers };
    if (this.#auth !== undefined) allHeaders.authorization = this.#auth;
    const req = request({ agent: this.#agent, host: this.#host, port: this.#port, method, path, headers: allHeaders });

    let failed: Error | undefined;
    let rejectReply: (err: Error) => void = () => undefined;
    const fail = (err: Error): void => {
      if (failed !== undefined) return;
      failed = err;
      rejectReply(err);
      req.destroy(err);
    };
    req.setTimeout(this.#idleTimeoutMs, () => fail(new Error(`${method} ${path}: no activity for ${this.#idleTimeoutMs} ms`)));
    req.on('error', fail);

    const reply = new Promise<Reply>((resolve, reject) => {
      rejectReply = reject;
      req.on('response', (res) => {
        const hash = hashBody && res.statusCode === 200 ? createHash('sha256') : undefined;
        const keep = method !== 'GET' || (res.statusCode ?? 0) >= 300;
        const parts: Buffer[] = [];
        let kept = 0;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash?.update(chunk);
          if (keep && kept < KEEP_LIMIT) {
            parts.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error(`${method} ${path}: connection closed after ${bytes} body bytes`));
        });
        res.on('end', () => {
          if (failed !== undefined) return;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
            bytes,
            digest: hash === undefined ? undefined : `sha256:${hash.digest('hex')}`,
          });
        });
      });
    });
    // Avoid an unhandled rejection if the body write fails first; the rejection is still observed below.
    reply.catch(() => undefined);

    try {
      await writeBody(req, body, ring);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
    return await reply;
  }
}

/**
 * Stream `body` into `req`. Large blobs go through a ring of 1 MiB buffers: a buffer is refilled only
 * after the socket has taken the previous write from it, which is also the backpressure.
 */
async function writeBody(req: ClientRequest, body: Body | undefined, ring: Buffer[] | undefined): Promise<void> {
  if (body === undefined) {
    req.end();
    return;
  }
  if (body.kind === 'buffer') {
    req.end(body.data);
    return;
  }
  if (ring === undefined) {
    const buf = Buffer.allocUnsafe(body.length);
    fillBlob(buf, body.blob, body.offset, body.length);
    req.end(buf);
    return;
  }
  const pending: Array<Promise<void> | undefined> = new Array<Promise<void> | undefined>(ring.length);
  let done = 0;
  try {
    for (let i = 0; done < body.length; i++) {
      const slot = i % ring.length;
      await pending[slot];
      if (req.destroyed) throw new Error('request was destroyed while sending the body');
      const buf = ring[slot];
      if (buf === undefined) throw new Error('ring buffer missing');
      const n = Math.min(buf.length, body.length - done);
      fillBlob(buf, body.blob, body.offset + done, n);
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      pending[slot] = new Promise<void>((resolve, reject) => {
        req.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
      done += n;
    }
    req.end();
  } finally {
    // Do not hand the ring back while a write may still read from it.
    await Promise.allSettled(pending.filter((p) => p !== undefined));
  }
  await Promise.all(pending.filter((p) => p !== undefined));
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

function expectStatus(res: Reply, want: number, what: string): void {
  if (res.status === want) return;
  const text = res.body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 300);
  throw new HttpError(`${what}: HTTP ${res.status}, expected ${want}${text === '' ? '' : `: ${text}`}`, res.status);
}
