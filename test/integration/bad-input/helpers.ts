// Helpers for the bad-input tests of /v2/: state snapshots ("nothing stored, nothing lost"), OCI
// error assertions, raw HTTP for paths that fetch would normalise, and small push/pull helpers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative, sep } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { TestApp } from '../../helpers/app.ts';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: string | Uint8Array): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

/** A syntactically valid sha256 digest of nothing stored anywhere. */
export function unknownDigest(): string {
  return sha256(randomBytes(32));
}

// ---------------------------------------------------------------------------------------------
// Responses

/** A response with its body read (so HEAD bodies can be checked to be empty). */
export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
}

export interface CallOptions {
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** `null` sends no Authorization header at all; a string replaces the root credentials. */
  auth?: string | null;
}

async function toReply(res: Response): Promise<Reply> {
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

/** fetch against the app (root credentials unless `auth` says otherwise). */
export async function call(t: TestApp, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const headers = new Headers(opts.headers);
  if (opts.auth === null) headers.delete('authorization');
  else headers.set('authorization', opts.auth ?? t.auth);
  const init: RequestInit = { method, headers, redirect: 'manual' };
  if (opts.body !== undefined) init.body = opts.body;
  return await toReply(await fetch(`${t.url}${path}`, init));
}

export interface RawOptions extends CallOptions {
  /**
   * Write these bytes and keep the request open (no end) until the response arrives: for requests
   * that declare a Content-Length larger than what is sent.
   */
  partialBody?: Uint8Array;
}

/**
 * A request through node:http with the path sent byte for byte: fetch (WHATWG URL) would resolve
 * `..`, `%2e%2e` and similar before sending. Resolves with the response even when the server
 * answers before the request body is complete.
 */
export async function rawCall(t: TestApp, method: string, path: string, opts: RawOptions = {}): Promise<Reply> {
  const u = new URL(t.url);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth !== null) headers.authorization = opts.auth ?? t.auth;
  return await new Promise<Reply>((resolve, reject) => {
    let settled = false;
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => {
        if (!settled) reject(e);
      });
      res.on('end', () => {
        settled = true;
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined) continue;
          if (Array.isArray(v)) for (const x of v) h.append(k, x);
          else h.set(k, v);
        }
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: h, body, text: body.toString('utf8') });
        req.destroy();
      });
    });
    req.on('error', (e) => {
      // EPIPE / ECONNRESET while a refused body is still being written: the response, if one
      // arrives, decides; otherwise the error does.
      if (settled) return;
      setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(e);
      }, 1000);
    });
    if (opts.partialBody !== undefined) {
      req.write(opts.partialBody);
      return;
    }
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export interface OciErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

export interface ExpectedError {
  status: number;
  code: string;
  /** The message must name the problem. */
  message: RegExp;
  /** HEAD: the response must have no body (status and headers still checked). */
  head?: boolean;
}

/**
 * Asserts an OCI error response: exact status, `Content-Type: application/json`, a body of exactly
 * `{"errors":[{"code","message","detail"?}]}` with the exact code and a message naming the problem.
 */
export function expectOciError(r: Reply, e: ExpectedError): OciErrorBody {
  const context = `response ${r.status} ${r.text.slice(0, 500)}`;
  assert.equal(r.status, e.status, `status: ${context}`);
  const ct = r.headers.get('content-type') ?? '';
  assert.equal(ct.split(';')[0]?.trim().toLowerCase(), 'application/json', `Content-Type is "${ct}": ${context}`);
  if (e.head === true) {
    assert.equal(r.body.length, 0, `a HEAD response has no body: ${context}`);
    return { code: e.code, message: '' };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(r.text);
  } catch {
    assert.fail(`body is not JSON: ${context}`);
  }
  assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), `body is not a JSON object: ${context}`);
  const errors = (doc as { errors?: unknown }).errors;
  assert.deepEqual(Object.keys(doc), ['errors'], `body has only "errors": ${context}`);
  assert.ok(Array.isArray(errors) && errors.length === 1, `exactly one error: ${context}`);
  const err = errors[0] as Record<string, unknown>;
  for (const k of Object.keys(err)) assert.ok(['code', 'message', 'detail'].includes(k), `unexpected key "${k}" in error: ${context}`);
  assert.equal(err.code, e.code, `code: ${context}`);
  assert.equal(typeof err.message, 'string', `message is a string: ${context}`);
  assert.match(err.message as string, e.message, `message: ${context}`);
  return err as unknown as OciErrorBody;
}

// ---------------------------------------------------------------------------------------------
// State snapshots

export const TABLES = ['repositories', 'blobs', 'repository_blobs', 'manifests', 'manifest_references', 'tags', 'uploads', 'events'] as const;
export type Table = (typeof TABLES)[number];

/** Columns that legitimately change on reads (the last-pull time is written after a pull). */
const VOLATILE_COLUMNS: Partial<Record<Table, readonly string[]>> = { manifests: ['last_pulled_at'] };

export interface TableState {
  count: number;
  /** sha256 of the sorted rows. */
  hash: string;
  rows: string[];
}

export interface Snapshot {
  tables: Record<Table, TableState>;
  /** `path size` of every file under storage/blobs. */
  blobFiles: string[];
  /** `path size` of every file under storage/uploads. */
  uploadFiles: string[];
  /** Every other file under the data directory (outside storage/blobs and storage/uploads), except the database files. */
  otherFiles: string[];
}

function cell(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${createHash('sha256').update(v).digest('hex')}:${v.length}`;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function rowKey(row: Record<string, unknown>, skip: readonly string[]): string {
  const keys = Object.keys(row)
    .filter((k) => !skip.includes(k))
    .sort();
  return JSON.stringify(keys.map((k) => [k, cell(row[k])]));
}

function listFiles(root: string, base: string = root): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const d of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!d.isFile()) continue;
    const p = join(d.parentPath, d.name);
    out.push(`${relative(base, p).split(sep).join('/')} ${statSync(p).size}`);
  }
  return out.sort();
}

export function snapshot(t: TestApp): Snapshot {
  const db = new DatabaseSync(join(t.dataDir, 'berth.db'), { readOnly: true });
  try {
    const tables = {} as Record<Table, TableState>;
    for (const table of TABLES) {
      const rows = db
        .prepare(`SELECT * FROM ${table}`)
        .all()
        .map((r) => rowKey(r as Record<string, unknown>, VOLATILE_COLUMNS[table] ?? []))
        .sort();
      tables[table] = { count: rows.length, hash: createHash('sha256').update(rows.join('\n')).digest('hex'), rows };
    }
    const storage = join(t.dataDir, 'storage');
    return {
      tables,
      blobFiles: listFiles(join(storage, 'blobs'), storage),
      uploadFiles: listFiles(join(storage, 'uploads'), storage),
      otherFiles: listFiles(t.dataDir).filter((f) => !/^berth\.db(-wal|-shm|-journal)? /.test(f) && !/^storage\/(blobs|uploads)\//.test(f)),
    };
  } finally {
    db.close();
  }
}

export type Part = Table | 'blobFiles' | 'uploadFiles' | 'otherFiles';

export interface UnchangedOptions {
  /** Parts whose change is legitimately expected (e.g. `uploads` when a session is created). */
  allow?: readonly Part[];
  /** What was done, for the failure message. */
  after?: string;
}

/** Asserts that nothing was stored or lost since `before` (only the parts in `allow` may differ). */
export function assertUnchanged(t: TestApp, before: Snapshot, opts: UnchangedOptions = {}): Snapshot {
  const now = snapshot(t);
  const allow = new Set<Part>(opts.allow ?? []);
  const what = opts.after === undefined ? '' : ` after ${opts.after}`;
  const problems: string[] = [];
  for (const table of TABLES) {
    if (allow.has(table)) continue;
    const a = before.tables[table];
    const b = now.tables[table];
    if (a.hash === b.hash) continue;
    const added = b.rows.filter((r) => !a.rows.includes(r));
    const removed = a.rows.filter((r) => !b.rows.includes(r));
    problems.push(`table ${table}: ${a.count} -> ${b.count} rows; added ${JSON.stringify(added).slice(0, 600)}; removed ${JSON.stringify(removed).slice(0, 600)}`);
  }
  for (const part of ['blobFiles', 'uploadFiles', 'otherFiles'] as const) {
    if (allow.has(part)) continue;
    const a = before[part];
    const b = now[part];
    if (a.join('\n') === b.join('\n')) continue;
    problems.push(`${part}: added ${JSON.stringify(b.filter((f) => !a.includes(f)))}; removed ${JSON.stringify(a.filter((f) => !b.includes(f)))}`);
  }
  assert.deepEqual(problems, [], `state changed${what}:\n${problems.join('\n')}`);
  return now;
}

export function countRows(t: TestApp, table: Table, where = '1 = 1', ...params: Array<string | number>): number {
  const db = new DatabaseSync(join(t.dataDir, 'berth.db'), { readOnly: true });
  try {
    const r = db.prepare(`SELECT count(*) AS c FROM ${table} WHERE ${where}`).get(...params) as { c: number | bigint };
    return Number(r.c);
  } finally {
    db.close();
  }
}

export function blobFilePath(t: TestApp, digest: string): string {
  const [alg = '', hex = ''] = digest.split(':');
  return join(t.dataDir, 'storage', 'blobs', alg, hex.slice(0, 2), hex);
}

export function blobFileExists(t: TestApp, digest: string): boolean {
  return existsSync(blobFilePath(t, digest));
}

// ---------------------------------------------------------------------------------------------
// Pushing and pulling

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [k: string]: unknown;
}

export interface Blob {
  digest: string;
  data: Buffer;
}

export interface Image {
  repo: string;
  tag: string;
  digest: string;
  body: Buffer;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  blobs: Blob[];
}

export interface UploadSession {
  /** Path (with the upload id) to PATCH / PUT / GET / DELETE. */
  location: string;
  id: string;
}

export async function startUpload(t: TestApp, repo: string): Promise<UploadSession> {
  const r = await call(t, 'POST', `/v2/${repo}/blobs/uploads/`);
  assert.equal(r.status, 202, `POST /v2/${repo}/blobs/uploads/: ${r.status} ${r.text}`);
  const location = r.headers.get('location');
  assert.ok(location !== null, 'upload Location');
  const id = location.split('/').pop() ?? '';
  return { location: new URL(location, t.url).pathname, id };
}

/** The upload's current size from GET <location> (the Range header). */
export async function uploadSize(t: TestApp, location: string): Promise<number> {
  const r = await call(t, 'GET', location);
  assert.equal(r.status, 204, `GET ${location}: ${r.status} ${r.text}`);
  return rangeEnd(r.headers.get('range'));
}

/** `0-<end>` -> number of bytes. `0-0` is read as 0 (no bytes yet), per the convention of the spec's examples. */
export function rangeEnd(range: string | null): number {
  const m = /^0-(\d+)$/.exec(range ?? '');
  assert.ok(m !== null, `Range header "${range}"`);
  const end = Number(m[1]);
  return end === 0 ? 0 : end + 1;
}

export function withQuery(location: string, query: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}${query}`;
}

export async function pushBlob(t: TestApp, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const { location } = await startUpload(t, repo);
  const r = await call(t, 'PUT', withQuery(location, `digest=${digest}`), { body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, `PUT blob: ${r.status} ${r.text}`);
  return digest;
}

export async function pushManifest(t: TestApp, repo: string, reference: string, body: Buffer | object, mediaType: string): Promise<{ digest: string; body: Buffer }> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const r = await call(t, 'PUT', `/v2/${repo}/manifests/${reference}`, { body: bytes, headers: { 'content-type': mediaType } });
  assert.equal(r.status, 201, `PUT manifest ${repo}:${reference}: ${r.status} ${r.text}`);
  const digest = sha256(bytes);
  assert.equal(r.headers.get('docker-content-digest'), digest);
  return { digest, body: bytes };
}

export function imageManifest(config: Descriptor, layers: Descriptor[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MT.ociManifest, config, layers, ...extra };
}

/** Pushes a small image (config + one layer) and tags it. */
export async function pushImage(t: TestApp, repo: string, tag: string): Promise<Image> {
  const configData = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed: randomBytes(8).toString('hex') }));
  const layerData = randomBytes(1500);
  const configDigest = await pushBlob(t, repo, configData);
  const layerDigest = await pushBlob(t, repo, layerData);
  const config: Descriptor = { mediaType: MT.ociConfig, digest: configDigest, size: configData.length };
  const layers: Descriptor[] = [{ mediaType: MT.ociLayerGzip, digest: layerDigest, size: layerData.length }];
  const { digest, body } = await pushManifest(t, repo, tag, imageManifest(config, layers), MT.ociManifest);
  return {
    repo,
    tag,
    digest,
    body,
    mediaType: MT.ociManifest,
    config,
    layers,
    blobs: [
      { digest: configDigest, data: configData },
      { digest: layerDigest, data: layerData },
    ],
  };
}

/** "Nothing lost": the image is still pullable, byte-identical, by tag and by digest. */
export async function assertPullable(t: TestApp, image: Image): Promise<void> {
  for (const ref of [image.tag, image.digest]) {
    const r = await call(t, 'GET', `/v2/${image.repo}/manifests/${ref}`, { headers: { accept: `${MT.ociManifest}, ${MT.ociIndex}, ${MT.dockerManifest}` } });
    assert.equal(r.status, 200, `GET manifest ${image.repo}:${ref}: ${r.status} ${r.text}`);
    assert.ok(r.body.equals(image.body), `manifest ${image.repo}:${ref} is byte-identical`);
    assert.equal(r.headers.get('docker-content-digest'), image.digest);
    assert.equal(r.headers.get('content-type'), image.mediaType);
  }
  for (const b of image.blobs) await assertBlobPullable(t, image.repo, b);
}

export async function assertBlobPullable(t: TestApp, repo: string, blob: Blob): Promise<void> {
  const r = await call(t, 'GET', `/v2/${repo}/blobs/${blob.digest}`);
  assert.equal(r.status, 200, `GET blob ${repo}@${blob.digest}: ${r.status} ${r.text}`);
  assert.ok(r.body.equals(blob.data), `blob ${blob.digest} in ${repo} is byte-identical`);
  assert.ok(blobFileExists(t, blob.digest), `blob file of ${blob.digest} exists`);
}

export interface RefusedCase {
  /** Sends the bad request. */
  send: () => Promise<Reply>;
  error: ExpectedError;
  /** Images pushed before that must still be pullable afterwards, byte-identical. */
  keep?: readonly Image[];
  /** Parts of the state that may legitimately change. */
  allow?: readonly Part[];
  /** For messages. */
  what?: string;
}

/** The core assertion of this suite: the exact error, nothing stored, nothing lost. */
export async function expectRefused(t: TestApp, c: RefusedCase): Promise<OciErrorBody> {
  const before = snapshot(t);
  const r = await c.send();
  const err = expectOciError(r, c.error);
  assertUnchanged(t, before, { allow: c.allow ?? [], after: c.what ?? `a refused request (${r.status})` });
  for (const image of c.keep ?? []) await assertPullable(t, image);
  return err;
}
