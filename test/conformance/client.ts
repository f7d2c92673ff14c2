// A tiny HTTP client for the conformance tests, in the role reggie plays for the Go suite.
// It is built on node:http rather than fetch so that the wire request is exactly what the test
// says: headers are sent as given, Content-Length is the body's length (Go's net/http, like here,
// sends `Content-Length: 0` on a POST, PUT or PATCH without a body), nothing is retried or
// redirected, and response headers such as Content-Length of a HEAD are seen as sent.
import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { startTestApp, type TestApp } from '../helpers/app.ts';

export interface RequestOptions {
  /** Query parameters added to those already in the path (reggie's SetQueryParam). */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface Response {
  method: string;
  /** Path and query as sent. */
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** A response header, the first value when repeated; undefined when absent. */
  header(name: string): string | undefined;
  text(): string;
  json(): unknown;
}

export class RegistryClient {
  readonly base: string;
  readonly auth: string;
  private readonly agent: Agent;

  constructor(base: string, auth: string) {
    this.base = base;
    this.auth = auth;
    this.agent = new Agent({ keepAlive: true, maxSockets: 4 });
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string> = { 'user-agent': 'distribution-spec-conformance-tests', authorization: this.auth };
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
    if (body !== undefined) headers['content-length'] = String(body.length);
    else if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers['content-length'] = '0';
    else delete headers['content-length'];
    const sentPath = `${url.pathname}${url.search}`;
    return await new Promise<Response>((resolve, reject) => {
      const req = httpRequest(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          const h = res.headers;
          resolve({
            method,
            path: sentPath,
            status: res.statusCode ?? 0,
            headers: h,
            body: buf,
            header(name: string): string | undefined {
              const v = h[name.toLowerCase()];
              return Array.isArray(v) ? v[0] : v;
            },
            text: () => buf.toString('utf8'),
            json: (): unknown => JSON.parse(buf.toString('utf8')),
          });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A registry started in-process for one test file, and a client for it. */
export interface Registry {
  app: TestApp;
  client: RegistryClient;
  close(): Promise<void>;
}

export async function startRegistry(): Promise<Registry> {
  const app = await startTestApp();
  const client = new RegistryClient(app.url, app.auth);
  return {
    app,
    client,
    async close() {
      client.close();
      await app.close();
    },
  };
}

/** reggie's GetRelativeLocation: the Location header's path and query. */
export function relativeLocation(res: Response): string {
  const loc = res.header('location');
  assert.ok(loc !== undefined && loc !== '', `${describeResponse(res)}: no Location header`);
  const u = new URL(loc, 'http://registry.invalid');
  return `${u.pathname}${u.search}`;
}

/** One line describing a response, for assertion messages. */
export function describeResponse(res: Response): string {
  const body = res.body.length > 0 && res.body.length < 2000 ? ` ${res.text()}` : res.body.length > 0 ? ` (${res.body.length} bytes)` : '';
  return `${res.method} ${res.path} -> ${res.status}${body}`;
}

export function expectStatus(res: Response, status: number): void {
  assert.equal(res.status, status, `expected ${status}: ${describeResponse(res)}`);
}

/** Whether the status is 2xx (the Go suite's BeNumerically(">=", 200), BeNumerically("<", 300)). */
export function expectSuccess(res: Response): void {
  assert.ok(res.status >= 200 && res.status < 300, `expected 2xx: ${describeResponse(res)}`);
}

export interface OciError {
  code: string;
  message?: string;
  detail?: unknown;
}

/** reggie's resp.Errors(): the `errors` array of an OCI error body. */
export function errorsOf(res: Response): OciError[] {
  const doc = res.json() as { errors?: unknown };
  assert.ok(Array.isArray(doc.errors), `${describeResponse(res)}: body has no "errors" array`);
  for (const e of doc.errors as unknown[]) {
    assert.ok(typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string', `${describeResponse(res)}: error without a string code`);
  }
  return doc.errors as OciError[];
}

export interface TagList {
  name: string;
  tags: string[];
}

/** getTagList of setup.go, but strict: the body must be a tag list. */
export function tagListOf(res: Response): TagList {
  const doc = res.json() as Partial<TagList>;
  assert.equal(typeof doc.name, 'string', `${describeResponse(res)}: tag list without name`);
  assert.ok(Array.isArray(doc.tags), `${describeResponse(res)}: tag list without tags array`);
  return doc as TagList;
}

/** The target of a `Link: <url>; rel="next"` header (RFC 5988), or undefined when absent. */
export function nextLink(res: Response): string | undefined {
  const link = res.header('link');
  if (link === undefined) return undefined;
  const m = /^<([^>]+)>;\s*rel="?next"?$/.exec(link.trim());
  assert.ok(m !== null, `${describeResponse(res)}: malformed Link header "${link}"`);
  return m[1];
}

export interface IndexDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: IndexDescriptor[];
}

/** An image index response body (referrers API). */
export function indexOf(res: Response): ImageIndex {
  const doc = res.json() as Partial<ImageIndex>;
  assert.equal(doc.schemaVersion, 2, `${describeResponse(res)}: schemaVersion is not 2`);
  assert.ok(Array.isArray(doc.manifests), `${describeResponse(res)}: index without manifests array`);
  return doc as ImageIndex;
}

/**
 * POST /v2/<name>/blobs/uploads/ then PUT <location>?digest=, as the suite's setup steps do.
 * Returns the PUT response; the POST must give a 202 session with a Location.
 */
export async function postThenPut(client: RegistryClient, name: string, blob: { content: Buffer; contentLength: string; digest: string }): Promise<Response> {
  const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
  expectStatus(post, 202);
  return await client.request('PUT', relativeLocation(post), {
    query: { digest: blob.digest },
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.contentLength },
    body: blob.content,
  });
}
