// The one registry client the benchmark uses against every server: node:http with a keep-alive
// agent, streaming request bodies from the content generator (never a whole blob in memory), and
// streaming response bodies through an optional sha256. Given several base URLs (the processes of
// one scale-out registry), it sends each request to the next one in turn, so the requests of one
// upload land on different processes; blob GETs follow redirects to another host (a presigned
// object-store URL) without the registry's credentials.
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { BLOCK, fillBlob, type BlobSpec } from './content.ts';

export interface ClientOptions {
  /**
   * `http://host:port` of the registry, or of each process of one registry: then every request (not
   * every connection or upload) goes to the next base URL, round-robin.
   */
  baseUrl: string | readonly string[];
  /** Maximum number of sockets per host (= the case's concurrency). */
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

/** Where a request goes: a path (+ query) on the registry, sent to the next base URL; or an absolute URL elsewhere. */
type Target = string | URL;

interface Reply {
  /** The base URL (registry) or origin (elsewhere) that answered. */
  origin: URL;
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

/** Request latencies in milliseconds by kind (POST, PATCH, PUT, GET, `GET (store)` for followed redirects, ...). */
export type RequestLatencies = Map<string, number[]>;

/** Where the requests went, since the last `takeRouting()`. */
export interface Routing {
  /** Requests by `host:port` (registry processes and, for followed redirects, the store). */
  requestsByHost: Record<string, number>;
  /** Blob pushes whose requests did not all go to the same registry process. */
  pushesAcrossHosts: number;
  /** Blob pulls answered with a redirect that the client followed to another host. */
  redirectsFollowed: number;
}

export class RegistryClient {
  readonly #agent: Agent;
  readonly #concurrency: number;
  #httpsAgent: HttpsAgent | undefined;
  readonly #bases: readonly URL[];
  #next = 0;
  readonly #auth: string | undefined;
  readonly #idleTimeoutMs: number;
  readonly #freeRings: Buffer[][] = [];
  #latencies: RequestLatencies = new Map();
  #routing: Routing = emptyRouting();

  constructor(opts: ClientOptions) {
    const urls = typeof opts.baseUrl === 'string' ? [opts.baseUrl] : [...opts.baseUrl];
    if (urls.length === 0) throw new Error('RegistryClient: no base URL');
    this.#bases = urls.map((u) => {
      const url = new URL(u);
      if (url.protocol !== 'http:') throw new Error(`RegistryClient: only http:// registries, got ${u}`);
      return url;
    });
    this.#concurrency = opts.concurrency;
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

  /** Where the requests went since the last call, and reset. */
  takeRouting(): Routing {
    const r = this.#routing;
    this.#routing = emptyRouting();
    return r;
  }

  close(): void {
    this.#agent.destroy();
    this.#httpsAgent?.destroy();
  }

  /** Monolithic upload: POST to open a session, then one PUT ?digest= with the whole body. */
  async pushMonolithic(repo: string, blob: BlobSpec, digest: string): Promise<void> {
    const { location, origin } = await this.#startUpload(repo);
    const res = await this.#send(
      'PUT',
      withDigest(location, digest),
      { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      { kind: 'blob', blob, offset: 0, length: blob.size },
    );
    expectStatus(res, 201, `PUT blob ${digest} to ${repo}`);
    if (res.origin.host !== origin.host) this.#routing.pushesAcrossHosts++;
  }

  /** Chunked upload: POST, one PATCH (with Content-Range) per chunk, then an empty PUT ?digest=. */
  async pushChunked(repo: string, blob: BlobSpec, digest: string, chunkSize: number): Promise<void> {
    const started = await this.#startUpload(repo);
    let location = started.location;
    const hosts = new Set<string>([started.origin.host]);
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
      hosts.add(res.origin.host);
      location = this.#uploadLocation(res) ?? location;
    }
    const res = await this.#send('PUT', withDigest(location, digest), { 'content-length': '0' }, undefined);
    expectStatus(res, 201, `PUT (close) blob ${digest} to ${repo}`);
    hosts.add(res.origin.host);
    if (hosts.size > 1) this.#routing.pushesAcrossHosts++;
  }

  /**
   * GET a blob, read the whole body, check its size and (when `verify`) its sha256. A redirect is
   * followed (at most 3 hops): to the registry as any other request, to another host (a presigned
   * object-store URL) with no header of ours, in particular without the registry's Authorization.
   */
  async pull(repo: string, digest: string, size: number, verify: boolean): Promise<void> {
    let target: Target = `/v2/${repo}/blobs/${digest}`;
    let external = false;
    for (let hop = 0; ; hop++) {
      const res = await this.#send('GET', target, {}, undefined, verify);
      if (res.status >= 300 && res.status < 400 && hop < 3) {
        const next = this.#redirectTarget(res);
        if (next === undefined) throw new HttpError(`GET blob ${digest}: ${res.status} without Location`, res.status);
        target = next;
        if (typeof next !== 'string' && !external) {
          external = true;
          this.#routing.redirectsFollowed++;
        }
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
    const { location } = await this.#startUpload(repo);
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

  async #startUpload(repo: string): Promise<{ location: string; origin: URL }> {
    const res = await this.#send('POST', `/v2/${repo}/blobs/uploads/`, { 'content-length': '0' }, undefined);
    expectStatus(res, 202, `POST upload to ${repo}`);
    const location = this.#uploadLocation(res);
    if (location === undefined) throw new HttpError(`POST upload to ${repo}: 202 without Location`, res.status);
    return { location, origin: res.origin };
  }

  /**
   * The Location header, resolved against the URL that answered: a path (+ query) when it is on one
   * of the registry's base URLs (the next request goes to the next base URL, whichever process named
   * it), the absolute URL otherwise.
   */
  #redirectTarget(res: Reply): Target | undefined {
    const loc = res.headers.location;
    if (loc === undefined || loc === '') return undefined;
    const u = new URL(loc, res.origin);
    if (this.#bases.some((b) => b.host === u.host && b.protocol === u.protocol)) return u.pathname + u.search;
    return u;
  }

  /** An upload's Location: it must stay on the registry. */
  #uploadLocation(res: Reply): string | undefined {
    const t = this.#redirectTarget(res);
    if (t !== undefined && typeof t !== 'string') throw new Error(`Location points to another host: ${res.headers.location}`);
    return t;
  }

  #nextBase(): URL {
    const base = this.#bases[this.#next % this.#bases.length];
    this.#next = (this.#next + 1) % this.#bases.length;
    if (base === undefined) throw new Error('no base URL');
    return base;
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
    target: Target,
    headers: Record<string, string>,
    body: Body | undefined,
    hashBody = false,
  ): Promise<Reply> {
    const started = performance.now();
    const ring = body?.kind === 'blob' && body.length > BLOCK ? this.#takeRing() : undefined;
    const origin = typeof target === 'string' ? this.#nextBase() : target;
    const counts = this.#routing.requestsByHost;
    counts[origin.host] = (counts[origin.host] ?? 0) + 1;
    try {
      const reply = await this.#exchange(method, target, origin, headers, body, hashBody, ring);
      this.#record(typeof target === 'string' ? method : `${method} (store)`, performance.now() - started);
      return reply;
    } finally {
      // Only reached once every write callback has fired (or the request is dead), so the ring is free.
      if (ring !== undefined) this.#freeRings.push(ring);
    }
  }

  #takeRing(): Buffer[] {
    return this.#freeRings.pop() ?? Array.from({ length: RING }, () => Buffer.allocUnsafeSlow(BLOCK));
  }

  #httpsAgentFor(): HttpsAgent {
    this.#httpsAgent ??= new HttpsAgent({
      keepAlive: true,
      maxSockets: this.#concurrency,
      maxFreeSockets: this.#concurrency,
    });
    return this.#httpsAgent;
  }

  async #exchange(
    method: string,
    target: Target,
    origin: URL,
    headers: Record<string, string>,
    body: Body | undefined,
    hashBody: boolean,
    ring: Buffer[] | undefined,
  ): Promise<Reply> {
    const allHeaders: Record<string, string> = { ...headers };
    // Credentials only for the registry, never for a redirect target.
    if (this.#auth !== undefined && typeof target === 'string') allHeaders.authorization = this.#auth;
    const path = typeof target === 'string' ? target : target.pathname + target.search;
    const where = {
      host: origin.hostname,
      port: Number(origin.port || (origin.protocol === 'https:' ? 443 : 80)),
      method,
      path,
      headers: allHeaders,
    };
    let req: ClientRequest;
    if (origin.protocol === 'http:') req = httpRequest({ ...where, agent: this.#agent });
    else if (origin.protocol === 'https:') req = httpsRequest({ ...where, agent: this.#httpsAgentFor() });
    else throw new Error(`${method} ${origin.href}: unsupported protocol`);

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
            origin,
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

function emptyRouting(): Routing {
  return { requestsByHost: {}, pushesAcrossHosts: 0, redirectsFollowed: 0 };
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

function expectStatus(res: Reply, want: number, what: string): void {
  if (res.status === want) return;
  const text = res.body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 300);
  throw new HttpError(`${what}: HTTP ${res.status}, expected ${want}${text === '' ? '' : `: ${text}`}`, res.status);
}
