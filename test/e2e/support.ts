// Shared helpers for the end-to-end tests: running real clients (skopeo, podman) in a controlled
// environment, checking pulled image layouts against the fixtures, looking at the server's storage,
// raw HTTP with streamed bodies, and a deterministic byte generator for large uploads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensureFixture, type Fixture, type FixtureName } from '../fixtures/build.ts';
import { childEnv, type RunningServer } from '../helpers/server.ts';

// ---------------------------------------------------------------------------------------------
// Tools, temporary directories, cleanup

/** Absolute path of `name` on the PATH children get, or undefined. */
export function findTool(name: string): string | undefined {
  for (const dir of (childEnv().PATH ?? '').split(':')) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A skip message naming the Debian package of the first missing tool, or undefined when all are there. */
export function missingTools(tools: ReadonlyArray<readonly [tool: string, debianPackage: string]>): string | undefined {
  for (const [tool, pkg] of tools) {
    if (findTool(tool) === undefined) return `SKIP: ${tool} not found on PATH (install the Debian package '${pkg}')`;
  }
  return undefined;
}

/** The fixtures, or the `SKIP:` message of the first one that cannot be built here. */
export async function loadFixtures<N extends FixtureName>(names: readonly N[]): Promise<{ fixtures: Record<N, Fixture> } | { skip: string }> {
  const fixtures = {} as Record<N, Fixture>;
  for (const n of names) {
    try {
      fixtures[n] = await ensureFixture(n);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('SKIP:')) return { skip: err.message };
      throw err;
    }
  }
  return { fixtures };
}

export async function makeTempDir(prefix: string): Promise<string> {
  return await mkdtemp(join(tmpdir(), `berth-e2e-${prefix}-`));
}

/** Cleanup actions run in reverse order; every action runs even when an earlier one fails. */
export class Cleanup {
  private readonly actions: Array<() => Promise<unknown>> = [];

  add(fn: () => Promise<unknown>): void {
    this.actions.push(fn);
  }

  dir(path: string): void {
    this.add(() => rm(path, { recursive: true, force: true }));
  }

  /** Stops the server (SIGKILL if SIGTERM takes too long) and removes its data directory. */
  server(s: RunningServer): void {
    this.add(async () => {
      try {
        await withTimeout(s.stop(), 15_000, 'server stop');
      } catch {
        await s.kill();
      }
      await rm(s.dataDir, { recursive: true, force: true });
    });
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.actions.length > 0) {
      const fn = this.actions.pop();
      if (fn === undefined) break;
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** The command line, for assertion messages. */
  command: string;
}

/**
 * Runs a command with exactly `env` as its environment, feeding `input` on stdin. Never throws on a
 * non-zero exit; kills the child (by its pid) when it outlives `timeoutMs`.
 */
export async function run(cmd: string, args: readonly string[], opts: { env: Record<string, string>; input?: string; timeoutMs?: number }): Promise<RunResult> {
  const command = [cmd, ...args].join(' ');
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    if (child.stdout === null || child.stderr === null) throw new Error('spawn without pipes');
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-64 * 1024);
    });
    if (opts.input !== undefined && child.stdin !== null) child.stdin.end(opts.input);
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 120_000} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal !== null ? 128 : 1), stdout: Buffer.concat(out), stderr, command });
    });
  });
}

export function describeRun(r: RunResult): string {
  return `${r.command}\nexit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout.toString('utf8').slice(0, 4000)}`;
}

/** Asserts a zero exit status, with the command's output in the message. */
export function assertOk(r: RunResult, server?: RunningServer): RunResult {
  assert.equal(r.code, 0, `${describeRun(r)}${server === undefined ? '' : `\nserver output:\n${server.output().slice(-8000)}`}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// skopeo

export interface Skopeo {
  /** Runs `skopeo --insecure-policy <args>` in the isolated environment. */
  run(args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** Same, asserting success. */
  ok(args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** `docker://<host>/<repo>` */
  ref(repoAndTag: string): string;
  /** Push a fixture (all images of an index) to `repoAndTag`, keeping every digest. */
  push(f: Fixture, repoAndTag: string): Promise<RunResult>;
  /** Pull `repoAndTag` into a fresh `oci:` layout under `dir` with tag `ref`. */
  pullOci(repoAndTag: string, layout: string, ref: string): Promise<RunResult>;
  /** Pull `repoAndTag` into a `dir:` directory. */
  pullDir(repoAndTag: string, dir: string): Promise<RunResult>;
}

/**
 * skopeo against `server`, with HOME, XDG_RUNTIME_DIR and REGISTRY_AUTH_FILE inside `home` so the
 * machine's configuration and credentials are neither read nor written; the trust policy is not
 * consulted (`--insecure-policy`).
 */
export function skopeo(server: RunningServer, home: string): Skopeo {
  const env = childEnv({ HOME: home, XDG_RUNTIME_DIR: home, REGISTRY_AUTH_FILE: join(home, 'auth.json'), TMPDIR: home });
  const creds = `${server.accessKeyId}:${server.secretAccessKey}`;
  const s: Skopeo = {
    run: async (args, timeoutMs) => await run('skopeo', ['--insecure-policy', ...args], { env, timeoutMs: timeoutMs ?? 180_000 }),
    ok: async (args, timeoutMs) => assertOk(await s.run(args, timeoutMs), server),
    ref: (repoAndTag) => `docker://${server.host}/${repoAndTag}`,
    push: async (f, repoAndTag) =>
      await s.ok(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds, f.source, s.ref(repoAndTag)]),
    pullOci: async (repoAndTag, layout, ref) =>
      await s.ok(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-creds', creds, s.ref(repoAndTag), `oci:${layout}:${ref}`]),
    pullDir: async (repoAndTag, dir) =>
      await s.ok(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-creds', creds, s.ref(repoAndTag), `dir:${dir}`]),
  };
  return s;
}

// ---------------------------------------------------------------------------------------------
// Digests and layouts

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h);
  return `sha256:${h.digest('hex')}`;
}

function hexOf(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  assert.ok(m !== null, `not a sha256 digest: ${digest}`);
  return m[1] as string;
}

/** Path of a blob (manifest, config or layer) in a fixture's layout. */
export function fixtureBlobPath(f: Fixture, digest: string): string {
  if (f.transport === 'dir') return digest === f.manifestDigest ? join(f.layout, 'manifest.json') : join(f.layout, hexOf(digest));
  return join(f.layout, 'blobs', 'sha256', hexOf(digest));
}

export async function fixtureManifest(f: Fixture): Promise<Buffer> {
  return await readFile(fixtureBlobPath(f, f.manifestDigest));
}

/** The config blob of a single-image fixture, raw. */
export async function fixtureConfig(f: Fixture): Promise<Buffer> {
  const m = JSON.parse((await fixtureManifest(f)).toString('utf8')) as { config?: { digest: string } };
  assert.ok(m.config !== undefined, `${f.name} is not a single image`);
  return await readFile(fixtureBlobPath(f, m.config.digest));
}

/**
 * A layout skopeo pulled into `oci:<layout>:<ref>` holds exactly the fixture: the tag names the
 * fixture's manifest digest, the blob set equals the fixture's, and every blob hashes to its name.
 */
export async function assertOciLayoutMatches(layout: string, ref: string, f: Fixture): Promise<void> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType?: string; annotations?: Record<string, string> }> };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  assert.ok(entry !== undefined, `tag ${ref} missing from ${layout}/index.json: ${JSON.stringify(index)}`);
  assert.equal(entry.digest, f.manifestDigest, `pulled ${f.name}: manifest digest`);
  assert.equal(entry.mediaType, f.mediaType, `pulled ${f.name}: media type`);
  const dir = join(layout, 'blobs', 'sha256');
  const names = (await readdir(dir)).sort();
  assert.deepEqual(names.map((n) => `sha256:${n}`), [...f.blobs].sort(), `pulled ${f.name}: blob set`);
  for (const n of names) {
    assert.equal(await sha256File(join(dir, n)), `sha256:${n}`, `pulled ${f.name}: blob ${n} content`);
    assert.equal(await sha256File(join(dir, n)), await sha256File(fixtureBlobPath(f, `sha256:${n}`)));
  }
}

/** A `dir:` pull of a single image: manifest.json is the fixture's manifest and every blob matches. */
export async function assertDirMatches(dir: string, f: Fixture): Promise<void> {
  assert.equal(await sha256File(join(dir, 'manifest.json')), f.manifestDigest, `pulled ${f.name}: manifest.json digest`);
  const blobs = (await readdir(dir)).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
  assert.deepEqual(blobs.map((n) => `sha256:${n}`), f.blobs.filter((d) => d !== f.manifestDigest).sort(), `pulled ${f.name}: blob set`);
  for (const n of blobs) assert.equal(await sha256File(join(dir, n)), `sha256:${n}`, `pulled ${f.name}: blob ${n} content`);
}

/** Every file under `root`, as paths relative to it ('/'-separated); [] when root does not exist. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return;
      throw e;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(root, p).split('\\').join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

/** Files under `<dataDir>/storage/blobs`, relative to that directory. */
export async function storedBlobFiles(dataDir: string): Promise<string[]> {
  return await listFiles(join(dataDir, 'storage', 'blobs'));
}

/** How many files under storage/blobs are named by `digest`'s hex (any directory). */
export function countStored(files: readonly string[], digest: string): number {
  const hex = hexOf(digest);
  // A name that merely starts with the hex (a temporary file) counts too: it is a second copy.
  return files.filter((f) => (f.split('/').pop() ?? '').startsWith(hex)).length;
}

/**
 * Every file under storage/blobs is a complete, content-addressed blob: named by its digest's hex
 * and hashing to it (no temporary or partial files are visible there).
 */
export async function assertBlobStoreConsistent(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'storage', 'blobs');
  const files = await listFiles(root);
  const seen = new Set<string>();
  for (const f of files) {
    const m = /^sha256\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(f);
    assert.ok(m !== null, `unexpected file under storage/blobs: ${f}`);
    const hex = m[1] as string;
    assert.ok(!seen.has(hex), `blob ${hex} stored twice`);
    seen.add(hex);
    assert.equal(await sha256File(join(root, f)), `sha256:${hex}`, `storage/blobs/${f} does not hash to its name`);
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export function basicAuth(server: RunningServer): string {
  return `Basic ${Buffer.from(`${server.accessKeyId}:${server.secretAccessKey}`).toString('base64')}`;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function headerOf(r: HttpResult, name: string): string | undefined {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The first OCI error code of an error body, or undefined. */
export function ociErrorCode(r: HttpResult): string | undefined {
  try {
    const j = JSON.parse(r.body.toString('utf8')) as { errors?: Array<{ code?: string }> };
    return j.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

export function describeHttp(r: HttpResult): string {
  return `HTTP ${r.status} ${JSON.stringify(r.headers)} ${r.body.toString('utf8').slice(0, 2000)}`;
}

/**
 * One HTTP request, by default on its own connection (`Connection: close`, no pool shared with other
 * requests; pass a keep-alive `agent` to reuse connections as real clients do), the body streamed
 * from `body` with backpressure. Rejects when the connection fails.
 */
export async function http(
  url: string,
  opts: { method: string; headers?: Record<string, string>; body?: Readable | Buffer | string; sink?: (chunk: Buffer) => void; agent?: Agent },
): Promise<HttpResult> {
  return await new Promise<HttpResult>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const req = httpRequest(url, { method: opts.method, headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (opts.sink !== undefined) opts.sink(c);
        else chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', fail);
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      // A response may arrive (and the request end) before the body is fully sent; errors of the
      // body side are reported through the request's own error.
      pipeline(body, req).catch((e: unknown) => {
        req.destroy(e instanceof Error ? e : new Error(String(e)));
      });
    }
  });
}

/** A client for the /v2/ API of one server with the root credentials. */
export function v2(
  server: RunningServer,
  agent?: Agent,
): {
  req: (method: string, path: string, headers?: Record<string, string>, body?: Readable | Buffer | string) => Promise<HttpResult>;
} {
  return {
    req: async (method, path, headers = {}, body) =>
      await http(`${server.url}${path}`, { method, headers: { authorization: basicAuth(server), ...headers }, body, ...(agent === undefined ? {} : { agent }) }),
  };
}

/** Absolute path of an upload `Location` (berth answers with a path). */
export function locationPath(r: HttpResult): string {
  const loc = headerOf(r, 'location');
  assert.ok(loc !== undefined, `no Location header: ${describeHttp(r)}`);
  return loc.startsWith('http') ? new URL(loc).pathname + new URL(loc).search : loc;
}

/** Appends `digest=` to an upload location that may already carry a query. */
export function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

// ---------------------------------------------------------------------------------------------
// Deterministic bytes

export const MiB = 1024 * 1024;
const BLOCK = MiB;

/** A 1 MiB pseudo-random block (xorshift32 from `seed`); block i = this block with i in its first 8 bytes. */
function baseBlock(seed: number): Buffer {
  const b = Buffer.allocUnsafe(BLOCK);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

export interface PatternOptions {
  seed?: number;
  /** Stop producing at this absolute offset until `gate.open()` is called. */
  pauseAt?: number;
  gate?: Gate;
  /** Size of the chunks pushed (default 256 KiB). */
  chunk?: number;
}

/** A latch: `wait()` resolves once `open()` has been called. */
export class Gate {
  private opened = false;
  private readonly waiters: Array<() => void> = [];

  open(): void {
    this.opened = true;
    for (const w of this.waiters.splice(0)) w();
  }

  async wait(): Promise<void> {
    if (this.opened) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/**
 * Bytes [start, end) of a deterministic pseudo-random stream, generated on the fly (constant memory).
 * With `pauseAt` and `gate`, production stops at that offset until the gate opens.
 */
export function patternStream(start: number, end: number, opts: PatternOptions = {}): Readable {
  const base = baseBlock(opts.seed ?? 1);
  const chunk = opts.chunk ?? 256 * 1024;
  let pos = start;
  let block = -1;
  const cur = Buffer.from(base);
  const bytesAt = (offset: number, n: number): Buffer => {
    const bi = Math.floor(offset / BLOCK);
    if (bi !== block) {
      base.copy(cur);
      cur.writeBigUInt64LE(BigInt(bi), 0);
      block = bi;
    }
    const o = offset - bi * BLOCK;
    return Buffer.from(cur.subarray(o, Math.min(o + n, BLOCK)));
  };
  async function* gen(): AsyncGenerator<Buffer> {
    while (pos < end) {
      if (opts.pauseAt !== undefined && opts.gate !== undefined && pos >= opts.pauseAt) await opts.gate.wait();
      let n = Math.min(chunk, end - pos);
      if (opts.pauseAt !== undefined && pos < opts.pauseAt) n = Math.min(n, opts.pauseAt - pos);
      const b = bytesAt(pos, n);
      pos += b.length;
      yield b;
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 * MiB });
}

/** sha256 digest of bytes [0, size) of the pattern. */
export async function patternDigest(size: number, seed = 1): Promise<string> {
  const h = createHash('sha256');
  await pipeline(patternStream(0, size, { seed, chunk: MiB }), h);
  return `sha256:${h.digest('hex')}`;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** podman isolated in a work directory: its environment, global flags and auth file. */
export interface PodmanSandbox {
  env: Record<string, string>;
  flags: string[];
  authFile: string;
}

/**
 * Sets up podman in `work`: vfs storage, every configuration file (storage, engine, registries,
 * policy) and the auth file there, nothing from the machine's own setup.
 */
export async function podmanSandbox(work: string): Promise<PodmanSandbox> {
  for (const d of ['home', 'runtime', 'config', 'data', 'root', 'runroot', 'tmp']) await mkdir(join(work, d), { recursive: true, mode: 0o700 });
  await writeFile(join(work, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${join(work, 'root')}"\nrunroot = "${join(work, 'runroot')}"\n`);
  await writeFile(join(work, 'containers.conf'), '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  await writeFile(join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
  await writeFile(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const authFile = join(work, 'auth.json');
  const env = childEnv({
    HOME: join(work, 'home'),
    XDG_RUNTIME_DIR: join(work, 'runtime'),
    XDG_CONFIG_HOME: join(work, 'config'),
    XDG_DATA_HOME: join(work, 'data'),
    TMPDIR: join(work, 'tmp'),
    REGISTRY_AUTH_FILE: authFile,
    CONTAINERS_STORAGE_CONF: join(work, 'storage.conf'),
    CONTAINERS_CONF: join(work, 'containers.conf'),
    CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
  });
  const flags = ['--storage-driver', 'vfs', '--root', join(work, 'root'), '--runroot', join(work, 'runroot'), '--tmpdir', join(work, 'tmp'), '--cgroup-manager=cgroupfs', '--events-backend=file'];
  return { env, flags, authFile };
}

/**
 * The environment of the AWS CLI in a test: a home of its own under `work` with empty config and
 * credentials files (nothing from this machine's AWS setup), no pager, no instance metadata, and the
 * given credentials (none: requests are unsigned unless `extra` adds them).
 */
export async function awsCliEnv(work: string, credentials?: { accessKeyId: string; secretAccessKey: string }, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const home = join(work, 'aws-home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(join(home, 'config'), '');
  await writeFile(join(home, 'credentials'), '');
  return childEnv({
    HOME: home,
    ...(credentials !== undefined ? { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey } : {}),
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  });
}
