// `berth copy`: a source deployment (SQLite + filesystem) populated through the registry API is
// copied into a destination (SQLite + filesystem; PostgreSQL + filesystem when
// BERTH_TEST_POSTGRES_URL is set; PostgreSQL + S3 when an S3 store is also there), then a berth on
// the destination must serve everything byte-identically and accept new pushes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createTempPostgresDatabase, POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, type TempPostgresDatabase } from '../helpers/postgres.ts';
import { deleteS3Prefix, s3Env, scaleOutEnv } from '../helpers/cluster.ts';
import { loadConfig } from '../../src/config/index.ts';
import { openMeta, openStorage } from '../../src/app/stores.ts';
import { blobKey, type ByteRange, type ObjectInfo, type ObjectWriter, type StorageDriver } from '../../src/storage/index.ts';
import type { MetaStore } from '../../src/meta/index.ts';
import { COPY_PLAN, copyDeployment, CopyRefusedError, digestOfBlobKey, type CopyReport, type Stores } from '../../src/cli/copy.ts';
import { main } from '../../src/cli/main.ts';

const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
  sbom: 'application/vnd.example.sbom.v1+json',
};
const ACCEPT = [MT.manifest, MT.index, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

function sha256(b: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  artifactType?: string;
}

// -- pushing through the registry API ---------------------------------------------------------------

async function pushBlob(t: TestApp, repo: string, data: Buffer, mediaType = MT.layer): Promise<Desc> {
  const digest = sha256(data);
  const r = await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return { mediaType, digest, size: data.length };
}

async function startUpload(t: TestApp, repo: string): Promise<string> {
  const r = await t.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(r.status, 202, await r.text());
  const loc = r.headers.get('location');
  assert.ok(loc !== null);
  return loc;
}

async function patchChunk(t: TestApp, location: string, data: Buffer, start: number): Promise<string> {
  const r = await t.fetch(location, {
    method: 'PATCH',
    body: data,
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + data.length - 1}` },
  });
  assert.equal(r.status, 202, await r.text());
  return r.headers.get('location') ?? location;
}

/** A blob pushed in 1 MiB chunks (a chunked upload). */
async function pushChunked(t: TestApp, repo: string, data: Buffer): Promise<Desc> {
  let loc = await startUpload(t, repo);
  const chunk = 1024 * 1024;
  for (let off = 0; off < data.length; off += chunk) loc = await patchChunk(t, loc, data.subarray(off, off + chunk), off);
  const digest = sha256(data);
  const r = await t.fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
  assert.equal(r.status, 201, await r.text());
  return { mediaType: MT.layer, digest, size: data.length };
}

async function putManifest(t: TestApp, repo: string, ref: string, m: object, mediaType: string): Promise<Desc> {
  const body = Buffer.from(JSON.stringify(m));
  const r = await t.fetch(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  assert.equal(r.status, 201, `PUT ${repo}:${ref}: ${await r.text()}`);
  return { mediaType, digest: sha256(body), size: body.length };
}

async function pushImage(t: TestApp, repo: string, tag: string, opts: { arch?: string; layers?: Desc[] } = {}): Promise<Desc> {
  const config = await pushBlob(t, repo, Buffer.from(JSON.stringify({ architecture: opts.arch ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed: randomBytes(6).toString('hex') })), MT.config);
  const layers = opts.layers ?? [await pushBlob(t, repo, randomBytes(2000))];
  return await putManifest(t, repo, tag, { schemaVersion: 2, mediaType: MT.manifest, config, layers }, MT.manifest);
}

interface Populated {
  /** The upload left in progress in the source (its Location). */
  openUpload: string;
  largeLayer: Desc;
}

async function populate(t: TestApp): Promise<Populated> {
  const largeLayer = await pushChunked(t, 'app/web', randomBytes(6 * 1024 * 1024 + 12345));
  const shared = await pushBlob(t, 'app/web', randomBytes(5000));
  const v1 = await pushImage(t, 'app/web', 'v1', { layers: [shared, largeLayer] });
  await putManifest(t, 'app/web', 'latest', JSON.parse((await (await t.fetch(`/v2/app/web/manifests/${v1.digest}`, { headers: { accept: ACCEPT } })).text())) as object, MT.manifest);
  await pushImage(t, 'app/web', 'v2');
  await pushImage(t, 'tools/cli', '1.0');

  // A multi-arch index whose platform manifests are untagged.
  const amd = await pushImage(t, 'multi/app', 'sha-amd64-tmp', { arch: 'amd64' });
  const arm = await pushImage(t, 'multi/app', 'sha-arm64-tmp', { arch: 'arm64' });
  await putManifest(
    t,
    'multi/app',
    '2.0',
    {
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: [
        { ...amd, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    },
    MT.index,
  );
  for (const tag of ['sha-amd64-tmp', 'sha-arm64-tmp']) assert.equal((await t.fetch(`/v2/multi/app/manifests/${tag}`, { method: 'DELETE' })).status, 202);

  // A referrer (an SBOM) of v1.
  const empty = await pushBlob(t, 'app/web', Buffer.from('{}'), MT.empty);
  const sbom = await pushBlob(t, 'app/web', Buffer.from(JSON.stringify({ packages: ['libc', 'openssl'] })), MT.sbom);
  const subjectRef = { mediaType: MT.manifest, digest: v1.digest, size: v1.size };
  const referrerBody = { schemaVersion: 2, mediaType: MT.manifest, artifactType: MT.sbom, config: empty, layers: [sbom], subject: subjectRef, annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } };
  const referrer = await putManifest(t, 'app/web', sha256(Buffer.from(JSON.stringify(referrerBody))), referrerBody, MT.manifest);
  assert.ok(referrer.digest.startsWith('sha256:'));

  // An upload in progress: not copied.
  const loc = await startUpload(t, 'app/web');
  const openUpload = await patchChunk(t, loc, randomBytes(1000), 0);
  return { openUpload, largeLayer };
}

// -- what a deployment serves -----------------------------------------------------------------------

async function getJson(t: TestApp, path: string): Promise<Record<string, unknown>> {
  const r = await t.fetch(path);
  assert.equal(r.status, 200, `GET ${path}: ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}

/**
 * Everything a client can see, as strings: the catalog, tag lists, every manifest reachable from a
 * tag or a referrer (by tag and by digest: media type, digest, hash of the body), every blob they
 * name (size and hash of the bytes, checked against the digest) and every referrers list.
 */
async function viewOf(t: TestApp): Promise<Record<string, string>> {
  const v: Record<string, string> = {};
  const catalog = await getJson(t, '/v2/_catalog?n=1000');
  v.catalog = JSON.stringify(catalog);
  for (const repo of catalog.repositories as string[]) {
    const tags = await getJson(t, `/v2/${repo}/tags/list?n=1000`);
    v[`${repo} tags`] = JSON.stringify(tags);
    const todo = [...((tags.tags as string[] | null) ?? [])];
    const seen = new Set<string>();
    while (todo.length > 0) {
      const ref = todo.shift() as string;
      const r = await t.fetch(`/v2/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
      assert.equal(r.status, 200, `GET ${repo}:${ref}: ${r.status}`);
      const body = Buffer.from(await r.arrayBuffer());
      const digest = r.headers.get('docker-content-digest') ?? '';
      assert.equal(sha256(body), digest);
      v[`${repo} manifest ${ref}`] = `${r.headers.get('content-type')} ${digest} ${body.length}`;
      if (seen.has(digest)) continue;
      seen.add(digest);
      if (ref !== digest) todo.push(digest);
      const m = JSON.parse(body.toString()) as { manifests?: Desc[]; config?: Desc; layers?: Desc[] };
      for (const child of m.manifests ?? []) todo.push(child.digest);
      for (const b of [...(m.config === undefined ? [] : [m.config]), ...(m.layers ?? [])]) {
        const br = await t.fetch(`/v2/${repo}/blobs/${b.digest}`);
        assert.equal(br.status, 200, `GET blob ${repo}@${b.digest}: ${br.status}`);
        const bytes = Buffer.from(await br.arrayBuffer());
        assert.equal(sha256(bytes), b.digest, `blob ${b.digest} is byte-identical`);
        v[`${repo} blob ${b.digest}`] = `${bytes.length}`;
      }
      const refs = await getJson(t, `/v2/${repo}/referrers/${digest}`);
      v[`${repo} referrers ${digest}`] = JSON.stringify(refs);
      for (const d of (refs.manifests as Desc[] | undefined) ?? []) todo.push(d.digest);
    }
  }
  return v;
}

// -- stores -----------------------------------------------------------------------------------------

async function openStores(env: Record<string, string>): Promise<Stores> {
  const config = loadConfig({ env: { BERTH_LOG_LEVEL: 'silent', ...env } });
  mkdirSync(config.dataDir, { recursive: true });
  const meta = await openMeta(config);
  try {
    const storage = await openStorage(config);
    await storage.check();
    return { meta, storage };
  } catch (e) {
    await meta.close();
    throw e;
  }
}

async function listKeys(s: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of s.list(prefix)) out.push(k);
  return out.sort();
}

async function maxId(meta: MetaStore, table: 'repositories' | 'events'): Promise<number> {
  const r = await meta.db.selectFrom(table).select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow();
  return Number(r.m ?? 0);
}

function totals(r: CopyReport): { inserted: number; updated: number; unchanged: number; skipped: number } {
  const t = { inserted: 0, updated: 0, unchanged: 0, skipped: 0 };
  for (const x of r.tables) {
    t.inserted += x.inserted;
    t.updated += x.updated;
    t.unchanged += x.unchanged;
    t.skipped += x.skipped;
  }
  return t;
}

/** A driver that fails every write after the first `okWrites`: an interrupted copy. */
class FailingWrites implements StorageDriver {
  readonly name: string;
  readonly appendable: boolean;
  private readonly inner: StorageDriver;
  private left: number;
  constructor(inner: StorageDriver, okWrites: number) {
    this.inner = inner;
    this.name = inner.name;
    this.appendable = inner.appendable;
    this.left = okWrites;
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.inner.stat(key);
  }
  reader(key: string, range?: ByteRange): Promise<Readable> {
    return this.inner.reader(key, range);
  }
  async writer(key: string, opts?: { append?: boolean }): Promise<ObjectWriter> {
    if (this.left-- <= 0) throw new Error('simulated outage: connection refused');
    return await this.inner.writer(key, opts);
  }
  copyTo(key: string, dest: Writable, range?: ByteRange, onOpen?: () => void): Promise<void> {
    return this.inner.copyTo(key, dest, range, onOpen);
  }
  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }
  put(key: string, data: Uint8Array): Promise<void> {
    return this.inner.put(key, data);
  }
  concat(sources: readonly string[], dest: string): Promise<void> {
    return this.inner.concat(sources, dest);
  }
  move(from: string, to: string): Promise<void> {
    return this.inner.move(from, to);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(prefix: string): AsyncIterable<string> {
    return this.inner.list(prefix);
  }
  check(): Promise<void> {
    return this.inner.check();
  }
}

// -- the source, shared by every case ---------------------------------------------------------------

const root = mkdtempSync(join(tmpdir(), 'berth-copy-'));
const srcDir = join(root, 'source');
const srcEnv = { BERTH_DATA_DIR: srcDir };
let populated: Populated;
let sourceView: Record<string, string>;
let sourceBlobKeys: string[];
let sourceAccount: string;
let sourceMaxRepoId: number;
let sourceMaxEventId: number;

before(async () => {
  const src = await startTestApp({ dataDir: srcDir, database: 'sqlite' });
  try {
    populated = await populate(src);
    sourceView = await viewOf(src);
    sourceAccount = src.app.boot.accountId;
  } finally {
    // Stopped, as an operator stops the source before the final copy.
    await src.close();
  }
  const s = await openStores(srcEnv);
  try {
    sourceBlobKeys = await listKeys(s.storage, 'blobs/');
    sourceMaxRepoId = await maxId(s.meta, 'repositories');
    sourceMaxEventId = await maxId(s.meta, 'events');
    assert.equal((await s.meta.db.selectFrom('uploads').select('id').execute()).length, 1, 'the source has one upload in progress');
  } finally {
    await s.meta.close();
  }
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

/**
 * Copies the source into the destination `dstEnv` describes, twice (the second run changes nothing),
 * then starts berth on the destination and checks what it serves.
 */
async function copyAndCheck(dstEnv: Record<string, string>, opts: { interrupt?: boolean } = {}): Promise<void> {
  const lines: string[] = [];
  const log = (l: string): void => {
    lines.push(l);
  };
  const src = await openStores(srcEnv);
  const dst = await openStores(dstEnv);
  try {
    if (opts.interrupt === true) {
      // Interrupted in the blob pass after three blobs: run again, it finishes.
      await assert.rejects(copyDeployment(src, { meta: dst.meta, storage: new FailingWrites(dst.storage, 3) }, { log, concurrency: 1 }), /simulated outage/);
      assert.equal((await listKeys(dst.storage, 'blobs/')).length, 3);
    }
    const first = await copyDeployment(src, dst, { log, concurrency: 3 });
    assert.equal(first.ok, true, lines.join('\n'));
    assert.equal(first.sourceAccount, sourceAccount);
    assert.equal(first.blobs.copied + first.blobs.skipped, sourceBlobKeys.length);
    assert.equal(first.blobs.skipped, opts.interrupt === true ? 3 : 0);
    assert.deepEqual(first.blobs.corrupt, []);
    assert.deepEqual(first.missing, []);
    assert.deepEqual(
      first.tables.map((x) => x.table),
      COPY_PLAN.filter((p) => !('notCopied' in p)).map((p) => p.name),
    );
    const byTable = Object.fromEntries(first.tables.map((x) => [x.table, x]));
    assert.equal(byTable.repositories?.inserted, 3);
    assert.equal(byTable.tags?.inserted, 5);
    assert.equal(byTable.manifests?.inserted, 7);
    assert.ok((byTable.events?.inserted ?? 0) > 0);
    assert.deepEqual(
      first.notCopied.map((n) => n.table),
      ['sts_sessions', 'uploads', 'leases'],
    );
    assert.equal(first.notCopied.find((n) => n.table === 'uploads')?.rows, 1);
    assert.ok(lines.some((l) => /uploads: 1 row not copied \(upload sessions in progress are not copied/.test(l)));
    assert.ok(lines.some((l) => l.startsWith('summary')));
    assert.deepEqual(await listKeys(dst.storage, 'blobs/'), sourceBlobKeys);
    assert.deepEqual(await listKeys(dst.storage, 'uploads/'), []);
    if (dst.meta.dialect === 'postgres') {
      assert.deepEqual(
        first.sequences.map((s) => s.column),
        ['events.id', 'jobs.id', 'repositories.id'],
      );
      assert.equal(first.sequences.find((s) => s.column === 'repositories.id')?.next, sourceMaxRepoId + 1);
    }

    // Again: nothing changes.
    const second = await copyDeployment(src, dst, { log, concurrency: 3 });
    assert.equal(second.ok, true);
    assert.equal(second.blobs.copied, 0);
    assert.equal(second.blobs.skipped, sourceBlobKeys.length);
    const t2 = totals(second);
    assert.equal(t2.inserted, 0);
    assert.equal(t2.updated, 0);
    assert.equal(t2.unchanged, totals(first).inserted + totals(first).unchanged);

    // A destination that lost rows (a copy interrupted in the metadata pass) and has a tag moved
    // is brought back to the source's state.
    const webId = (await dst.meta.repositories.get(sourceAccount, 'app/web'))?.id ?? -1;
    const v2 = await dst.meta.tags.get(webId, 'v2');
    assert.ok(v2 !== undefined);
    await dst.meta.tags.put(webId, 'latest', v2, Date.now());
    await dst.meta.db.deleteFrom('tags').where('repository_id', '=', webId).where('tag', '=', 'v1').execute();
    const deleted = await dst.meta.db.deleteFrom('events').where('id', '>', 3).executeTakeFirst();
    const third = await copyDeployment(src, dst, { log });
    assert.equal(third.ok, true);
    const byTable3 = Object.fromEntries(third.tables.map((x) => [x.table, x]));
    assert.deepEqual([byTable3.tags?.inserted, byTable3.tags?.updated], [1, 1]);
    assert.equal(byTable3.events?.inserted, Number(deleted.numDeletedRows));
    assert.ok(Number(deleted.numDeletedRows) > 0);
  } finally {
    await src.meta.close();
    await dst.meta.close();
  }

  // berth on the destination serves the same registry.
  const dataDir = dstEnv.BERTH_DATA_DIR ?? '';
  const t = await startTestApp({ dataDir, database: 'sqlite', env: dstEnv });
  try {
    assert.equal(t.app.boot.accountId, sourceAccount);
    assert.deepEqual(await viewOf(t), sourceView);
    // The upload in progress was not copied.
    assert.equal((await t.fetch(populated.openUpload)).status, 404);
    // New pushes work: new ids do not collide with copied ones.
    const fresh = await pushImage(t, 'fresh/repo', 'new');
    await pushImage(t, 'app/web', 'v3', { layers: [populated.largeLayer] });
    const r = await t.fetch(`/v2/fresh/repo/manifests/${fresh.digest}`, { headers: { accept: ACCEPT } });
    assert.equal(r.status, 200);
    assert.equal((await t.app.meta.repositories.get(sourceAccount, 'fresh/repo'))?.id, sourceMaxRepoId + 1);
    const events = await t.app.meta.events.list(sourceMaxEventId, 100);
    assert.ok(events.length >= 2 && events.every((e) => e.id > sourceMaxEventId));
    assert.deepEqual(await getJson(t, '/v2/app/web/tags/list'), { name: 'app/web', tags: ['latest', 'v1', 'v2', 'v3'] });
  } finally {
    await t.close();
  }
}

let corruptSrc: string | undefined;

/** A copy of the source whose large layer has 8 bytes overwritten (same size, wrong digest). */
function corruptSource(): string {
  if (corruptSrc !== undefined) return corruptSrc;
  const dir = join(root, 'corrupt-source');
  cpSync(srcDir, dir, { recursive: true });
  const fd = openSync(join(dir, 'storage', blobKey(populated.largeLayer.digest)), 'r+');
  try {
    writeSync(fd, Buffer.from('garbage!'), 0, 8, 1_000_000);
  } finally {
    closeSync(fd);
  }
  // And a stray file that names no blob: ignored with a warning.
  mkdirSync(join(dir, 'storage', 'blobs', 'sha256', 'zz'), { recursive: true });
  writeFileSync(join(dir, 'storage', 'blobs', 'sha256', 'zz', 'stray'), 'not a blob');
  corruptSrc = dir;
  return dir;
}

async function corruptCase(dstEnv: Record<string, string>): Promise<void> {
  const key = blobKey(populated.largeLayer.digest);
  const src = await openStores({ BERTH_DATA_DIR: corruptSource() });
  const dst = await openStores(dstEnv);
  const lines: string[] = [];
  try {
    const r = await copyDeployment(src, dst, { log: (l) => lines.push(l) });
    assert.equal(r.ok, false);
    assert.equal(r.blobs.corrupt.length, 1);
    assert.equal(r.blobs.corrupt[0]?.digest, populated.largeLayer.digest);
    assert.match(r.blobs.corrupt[0]?.reason ?? '', new RegExp(`its ${populated.largeLayer.size} bytes have digest sha256:[0-9a-f]{64}`));
    assert.equal(r.blobs.copied, sourceBlobKeys.length - 1);
    assert.deepEqual(r.blobs.unrecognised, ['blobs/sha256/zz/stray']);
    assert.ok(lines.some((l) => l.includes('ignored, not a blob key: blobs/sha256/zz/stray')));
    assert.equal(await dst.storage.stat(key), null, 'the corrupt blob is not in the destination');
    assert.deepEqual(await listKeys(dst.storage, 'blobs/'), sourceBlobKeys.filter((k) => k !== key));
    assert.ok(lines.some((l) => l.includes(`CORRUPT in the source, not copied: ${populated.largeLayer.digest}`)));
    assert.ok(lines.some((l) => l.includes('finished WITH PROBLEMS')));
  } finally {
    await src.meta.close();
    await dst.meta.close();
  }
}

describe('berth copy', () => {
  test('the copy plan names every table of the metadata database, in foreign-key order', async () => {
    const dir = join(root, 'plan');
    const s = await openStores({ BERTH_DATA_DIR: dir });
    try {
      const tables = await s.meta.db.introspection.getTables();
      assert.deepEqual(
        COPY_PLAN.map((p) => p.name).sort(),
        tables.map((x) => x.name).filter((n) => !n.startsWith('berth_migrations')).sort(),
      );
    } finally {
      await s.meta.close();
    }
    const order = COPY_PLAN.map((p) => p.name);
    for (const [child, parent] of [
      ['access_keys', 'accounts'],
      ['repositories', 'accounts'],
      ['repository_blobs', 'blobs'],
      ['repository_blobs', 'repositories'],
      ['manifests', 'repositories'],
      ['manifest_references', 'manifests'],
      ['tags', 'manifests'],
    ] as const) {
      assert.ok(order.indexOf(parent) < order.indexOf(child), `${parent} before ${child}`);
    }
  });

  test('blob keys: only blobs/<algorithm>/<two hex>/<hex> names a blob', () => {
    const d = sha256('x');
    assert.equal(digestOfBlobKey(blobKey(d))?.digest, d);
    assert.equal(digestOfBlobKey(`blobs/sha256/00/${d.slice(7)}`), null);
    assert.equal(digestOfBlobKey('blobs/md5/ab/abcdef'), null);
    assert.equal(digestOfBlobKey(`${blobKey(d)}.tmp-0123456789ab`), null);
  });

  test('SQLite + filesystem to SQLite + filesystem, interrupted once and run again', async () => {
    await copyAndCheck({ BERTH_DATA_DIR: join(root, 'dst-sqlite') }, { interrupt: true });
  });

  describe('to PostgreSQL', { skip: POSTGRES_TEST_URL === undefined ? POSTGRES_SKIP_REASON : false }, () => {
    let db: TempPostgresDatabase;
    before(async () => {
      db = await createTempPostgresDatabase();
    });
    after(async () => {
      await db.drop();
    });

    const pgEnv = (): Record<string, string> => ({ BERTH_DATA_DIR: join(root, 'dst-pg'), BERTH_DATABASE_DRIVER: 'postgres', BERTH_DATABASE_POSTGRES_URL: db.url });

    test('SQLite + filesystem to PostgreSQL + filesystem', async () => {
      await copyAndCheck(pgEnv());
    });

    test('and back: PostgreSQL + filesystem (a snapshot of it) to SQLite + filesystem', async () => {
      const onPg = await startTestApp({ dataDir: join(root, 'dst-pg'), database: 'sqlite', env: pgEnv() });
      let expected: Record<string, string>;
      try {
        expected = await viewOf(onPg);
      } finally {
        await onPg.close();
      }
      const backEnv = { BERTH_DATA_DIR: join(root, 'back-to-sqlite') };
      const src = await openStores(pgEnv());
      const dst = await openStores(backEnv);
      try {
        const r = await copyDeployment(src, dst);
        assert.equal(r.ok, true);
        assert.equal(totals(r).updated, 0);
        assert.deepEqual(r.sequences, []);
      } finally {
        await src.meta.close();
        await dst.meta.close();
      }
      const back = await startTestApp({ dataDir: backEnv.BERTH_DATA_DIR, database: 'sqlite', env: backEnv });
      try {
        assert.deepEqual(await viewOf(back), expected);
      } finally {
        await back.close();
      }
    });
  });

  const s3 = s3Env();
  const s3Skip = POSTGRES_TEST_URL === undefined ? POSTGRES_SKIP_REASON : s3 === undefined ? 'S3_ENDPOINT is unset: run eval "$(/work/shared/tools/ceph-rgw.sh env)"' : false;
  describe('to PostgreSQL + S3', { skip: s3Skip }, () => {
    let db: TempPostgresDatabase;
    const prefix = `berth-copy-test-${randomBytes(6).toString('hex')}/`;
    before(async () => {
      db = await createTempPostgresDatabase();
    });
    after(async () => {
      await db.drop();
      if (s3 !== undefined) await deleteS3Prefix(s3, prefix);
    });

    test('SQLite + filesystem to PostgreSQL + Ceph RGW', async () => {
      assert.ok(s3 !== undefined);
      await copyAndCheck({ ...scaleOutEnv(db.url, s3, prefix), BERTH_DATA_DIR: join(root, 'dst-s3') }, { interrupt: true });
    });

    test('a corrupt source blob is not stored in S3 (its multipart upload is aborted)', async () => {
      assert.ok(s3 !== undefined);
      const other = await createTempPostgresDatabase();
      try {
        await corruptCase({ ...scaleOutEnv(other.url, s3, `${prefix}corrupt/`), BERTH_DATA_DIR: join(root, 'dst-s3-corrupt') });
      } finally {
        await other.drop();
      }
    });
  });

  test('a corrupt source blob is reported and not copied; the rest is', async () => {
    await corruptCase({ BERTH_DATA_DIR: join(root, 'dst-corrupt') });
  });

  test('refused when the destination has another default account; nothing is written', async () => {
    const dstEnv = { BERTH_DATA_DIR: join(root, 'dst-other-account') };
    const dst = await openStores(dstEnv);
    await dst.meta.settings.set('default_account_id', '999999999999');
    const src = await openStores(srcEnv);
    try {
      await assert.rejects(copyDeployment(src, dst), (e: unknown) => {
        assert.ok(e instanceof CopyRefusedError);
        assert.match(e.message, new RegExp(`destination's default account is 999999999999 but the source's is ${sourceAccount}`));
        return true;
      });
      assert.deepEqual(await listKeys(dst.storage, 'blobs/'), []);
      assert.equal((await dst.meta.db.selectFrom('repositories').select('id').execute()).length, 0);
    } finally {
      await src.meta.close();
      await dst.meta.close();
    }
  });

  describe('the command', () => {
    interface Run {
      code: number;
      out: string;
      err: string;
    }
    async function berth(args: string[], env: Record<string, string> = {}): Promise<Run> {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
      return { code, out: out.join('\n'), err: err.join('\n') };
    }
    function yaml(name: string, body: string): string {
      const f = join(root, name);
      writeFileSync(f, body);
      return f;
    }

    test('berth copy --from --to: copies, prints progress and a summary, and is a no-op the second time', async () => {
      const from = yaml('from.yaml', `dataDir: ${srcDir}\nlog:\n  level: silent\n`);
      const to = yaml('to.yaml', `dataDir: ${join(root, 'dst-cli')}\n`);
      const a = await berth(['copy', '--from', from, '--to', to]);
      assert.equal(a.code, 0, a.err + a.out);
      assert.match(a.out, /^from: sqlite .*source\/berth\.db, filesystem .*source\/storage$/m);
      assert.match(a.out, new RegExp(`blobs: ${sourceBlobKeys.length} copied \\(\\d+\\.\\d MiB\\), 0 already there`));
      assert.match(a.out, /uploads: 1 row not copied \(upload sessions in progress are not copied/);
      assert.match(a.out, /^ {2}manifests +\d+ +0 +0 +0$/m);
      assert.match(a.out, /done: the destination holds everything the source held/);

      // BERTH_FROM_* variables configure the source, BERTH_* ones the destination.
      const wrong = yaml('from-wrong.yaml', `dataDir: ${join(root, 'nowhere')}\n`);
      const b = await berth(['copy', '--from', wrong, '--to', yaml('to-elsewhere.yaml', 'dataDir: /nonexistent\n')], { BERTH_FROM_DATA_DIR: srcDir, BERTH_DATA_DIR: join(root, 'dst-cli') });
      assert.equal(b.code, 0, b.err + b.out);
      assert.match(b.out, new RegExp(`blobs: 0 copied \\(0 B\\), ${sourceBlobKeys.length} already there`));
      assert.match(b.out, /^ {2}manifests +0 +0 +\d+ +0$/m);
    });

    test('berth copy refuses what it cannot do', async () => {
      const from = yaml('from2.yaml', `dataDir: ${srcDir}\n`);
      const same = await berth(['copy', '--from', from, '--to', from]);
      assert.equal(same.code, 2);
      assert.match(same.err, /name the same database/);

      const missing = await berth(['copy', '--from', yaml('from-missing.yaml', `dataDir: ${join(root, 'missing')}\n`), '--to', yaml('to2.yaml', `dataDir: ${join(root, 'dst-x')}\n`)]);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /source database .*missing\/berth\.db does not exist/);

      const otherAccount = await berth(['copy', '--from', from, '--to', yaml('to3.yaml', `dataDir: ${join(root, 'dst-y')}\naccountId: "999999999999"\n`)]);
      assert.equal(otherAccount.code, 2);
      assert.match(otherAccount.err, new RegExp(`sets accountId 999999999999 but the source's default account is ${sourceAccount}`));

      const usage = await berth(['copy', '--from', from]);
      assert.equal(usage.code, 2);
      assert.match(usage.err, /usage: berth copy --from FROM\.yaml --to TO\.yaml/);

      const invalid = await berth(['copy', '--from', yaml('from-bad.yaml', 'storage:\n  driver: floppy\n'), '--to', from]);
      assert.equal(invalid.code, 2);
      assert.match(invalid.err, /storage\.driver/);
    });

    test('berth --help lists copy and migrate', async () => {
      const r = await berth(['--help']);
      assert.equal(r.code, 0);
      assert.match(r.out, /berth migrate \[flags\]/);
      assert.match(r.out, /berth copy --from FROM\.yaml --to TO\.yaml/);
    });
  });
});

describe('berth copy and sealed secrets', () => {
  test('sealed secrets are opened with the source keyring and sealed again with the destination one; a second run changes nothing', async () => {
    const { openSqlite } = await import('../../src/meta/index.ts');
    const { Keyring } = await import('../../src/auth/index.ts');
    const { MemoryDriver } = await import('../../src/storage/index.ts');
    const a = new Keyring(Keyring.generate());
    const b = new Keyring(Keyring.generate());
    const srcMeta = await openSqlite({ path: ':memory:' });
    const dstMeta = await openSqlite({ path: ':memory:' });
    try {
      await srcMeta.settings.set('default_account_id', '111122223333');
      await srcMeta.settings.set('master_key', 'not to be copied');
      await srcMeta.accounts.ensure('111122223333', 1);
      await srcMeta.accessKeys.put({ accessKeyId: 'AKIAEXAMPLEEXAMPLE01', accountId: '111122223333', userName: 'ci', secretHash: 'scrypt$x', secretEnc: a.encrypt('the-secret'), status: 'Active', createdAt: 1 });
      const upstreamArn = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:ecr-pullthroughcache/hub-abcdef';
      await srcMeta.secrets.put('111122223333', 'ecr-pullthroughcache/hub', upstreamArn, a.encrypt('{"username":"u","accessToken":"t"}'), 1);
      const src = { meta: srcMeta, storage: new MemoryDriver(), keyring: a };
      const dst = { meta: dstMeta, storage: new MemoryDriver(), keyring: b };
      await copyDeployment(src, dst);
      const copied = await dstMeta.accessKeys.get('AKIAEXAMPLEEXAMPLE01');
      assert.equal(b.decrypt(copied?.secretEnc ?? ''), 'the-secret', 'readable with the destination keyring');
      assert.throws(() => a.decrypt(copied?.secretEnc ?? ''), 'not with the source one');
      assert.equal(await dstMeta.settings.get('master_key'), undefined, 'the master key is not copied');
      const upstream = await dstMeta.secrets.byArn(upstreamArn);
      assert.equal(b.decrypt(upstream?.valueEnc ?? ''), '{"username":"u","accessToken":"t"}', 'upstream credentials are re-sealed too');
      const second = await copyDeployment(src, dst);
      const keys = second.tables.find((t) => t.table === 'access_keys');
      assert.equal(keys?.updated, 0);
      assert.equal((await dstMeta.accessKeys.get('AKIAEXAMPLEEXAMPLE01'))?.secretEnc, copied?.secretEnc);
      assert.equal(second.tables.find((t) => t.table === 'secrets')?.updated, 0);
    } finally {
      await srcMeta.close();
      await dstMeta.close();
    }
  });
});
