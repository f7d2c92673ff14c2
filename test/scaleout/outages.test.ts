// Backing stores going away under load: PostgreSQL restarting (its connections cut and refused for a
// few seconds) and the S3 endpoint refusing connections. Requests fail cleanly with a retryable 503
// or succeed; nothing is half-written or corrupt; the processes recover without a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { CLUSTER_SKIP_REASON, clusterAvailable, s3Env, startCluster, startTcpProxy, type Cluster } from '../helpers/cluster.ts';
import { POSTGRES_TEST_URL } from '../helpers/postgres.ts';
import type { RunningServer } from '../helpers/server.ts';
import { pgInstanceUnavailable, startPgInstance, type PgInstance } from '../helpers/pg-instance.ts';

const skip = clusterAvailable() ? false : CLUSTER_SKIP_REASON;

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function call(s: RunningServer, method: string, path: string, init: { body?: Buffer; headers?: Record<string, string> } = {}): Promise<Response> {
  const authorization = `Basic ${Buffer.from(`${s.accessKeyId}:${s.secretAccessKey}`).toString('base64')}`;
  return await fetch(`${s.url}${path}`, { method, body: init.body, headers: { authorization, ...init.headers }, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
}

interface Attempt {
  status: number;
  digest: string;
  data: Buffer;
  code?: string;
}

/** Pushes one blob (POST then PUT) and one manifest using it; returns what each step answered. */
async function pushOnce(s: RunningServer, repo: string, i: number): Promise<Attempt[]> {
  const data = randomBytes(256 * 1024 + i);
  const digest = sha256(data);
  const out: Attempt[] = [];
  const record = async (r: Response, d: string, body: Buffer): Promise<void> => {
    const a: Attempt = { status: r.status, digest: d, data: body };
    if (r.status >= 400) a.code = ((await r.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;
    out.push(a);
  };
  try {
    const post = await call(s, 'POST', `/v2/${repo}/blobs/uploads/`);
    if (post.status !== 202) {
      await record(post, digest, data);
      return out;
    }
    const put = await call(s, 'PUT', `${post.headers.get('location') ?? ''}?digest=${digest}`, { body: data, headers: { 'content-type': 'application/octet-stream' } });
    await record(put, digest, data);
    if (put.status !== 201) return out;
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: data.length }, layers: [] }));
    const mp = await call(s, 'PUT', `/v2/${repo}/manifests/t${i}`, { body: m, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    await record(mp, sha256(m), m);
  } catch (e) {
    out.push({ status: 0, digest, data, code: String(e) });
  }
  return out;
}

/** Everything the registry says it has is whole: each stored blob and manifest pulls byte-identical. */
async function assertConsistent(s: RunningServer, repo: string, attempts: Attempt[]): Promise<void> {
  for (const a of attempts) {
    if (a.status !== 201) continue;
    const isManifest = a.data.subarray(0, 1).toString() === '{' && a.data.includes('schemaVersion');
    const path = isManifest ? `/v2/${repo}/manifests/${a.digest}` : `/v2/${repo}/blobs/${a.digest}`;
    const g = await call(s, 'GET', path, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(g.status, 200, `${path} was acknowledged with 201`);
    assert.equal(sha256(Buffer.from(await g.arrayBuffer())), a.digest, `${path} is whole`);
  }
}

async function dbConsistent(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const dangling = await c.query(
      "select r.parent_digest, r.child_digest from manifest_references r where r.kind = 'blob' and not exists (select 1 from repository_blobs b where b.repository_id = r.repository_id and b.digest = r.child_digest)",
    );
    assert.deepEqual(dangling.rows, [], 'every manifest references blobs its repository holds');
    const orphans = await c.query('select digest from repository_blobs rb where not exists (select 1 from blobs b where b.digest = rb.digest)');
    assert.deepEqual(orphans.rows, []);
  } finally {
    await c.end();
  }
}

describe('PostgreSQL restarting during pushes', { skip }, () => {
  let cluster: Cluster;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  before(async () => {
    const admin = new URL(POSTGRES_TEST_URL ?? '');
    proxy = await startTcpProxy(admin.hostname, Number(admin.port || '5432'));
    cluster = await startCluster(2, {
      databaseUrl: (u) => {
        const x = new URL(u);
        x.hostname = '127.0.0.1';
        x.port = String(proxy.port);
        return x.toString();
      },
      env: { BERTH_DATABASE_POSTGRES_STATEMENT_TIMEOUT: '5s' },
    });
  });
  after(async () => {
    await proxy?.up().catch(() => undefined);
    await cluster?.close();
    await proxy?.close();
  });

  test('requests fail with 503 and Retry-After while it is down, succeed again after, and nothing is half-written', async () => {
    const [a, b] = cluster.processes as [RunningServer, RunningServer];
    const repo = 'outage/db';
    const before1 = await pushOnce(a, repo, 0);
    assert.ok(before1.every((x) => x.status === 201), JSON.stringify(before1.map((x) => x.status)));
    const attempts: Attempt[] = [...before1];
    let i = 1;
    const pushing = (async () => {
      const end = Date.now() + 6000;
      while (Date.now() < end) attempts.push(...(await pushOnce(i % 2 === 0 ? a : b, repo, i++)));
    })();
    await new Promise((r) => setTimeout(r, 800));
    await proxy.down();
    // While down: a clean, retryable error in the OCI format.
    const during = await call(a, 'GET', `/v2/${repo}/tags/list`);
    assert.equal(during.status, 503);
    assert.equal(during.headers.get('retry-after'), '2');
    assert.equal(((await during.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNKNOWN');
    assert.equal((await fetch(`${a.url}/readyz`)).status, 503);
    await new Promise((r) => setTimeout(r, 3000));
    await proxy.up();
    await pushing;
    const statuses = new Set(attempts.map((x) => x.status));
    for (const st of statuses) assert.ok([201, 503].includes(st), `only 201 or 503, saw ${st}: ${JSON.stringify(attempts.filter((x) => x.status === st).map((x) => x.code))}`);
    assert.ok(attempts.some((x) => x.status === 503), 'some requests met the outage');
    // Both processes recover by themselves.
    for (const s of [a, b]) {
      let ok = false;
      for (let t = 0; t < 50 && !ok; t++) {
        ok = (await pushOnce(s, repo, 1000 + t)).every((x) => x.status === 201);
        if (!ok) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ok, `${s.host} works again without a restart`);
      assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
    }
    await assertConsistent(a, repo, attempts);
    await dbConsistent(cluster.db.url);
  });
});

describe('the S3 endpoint refusing connections', { skip }, () => {
  let cluster: Cluster;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  before(async () => {
    const s3 = s3Env();
    const endpoint = new URL(s3?.endpoint ?? 'http://127.0.0.1:7480');
    proxy = await startTcpProxy(endpoint.hostname, Number(endpoint.port || '80'));
    cluster = await startCluster(2, { s3Endpoint: `http://127.0.0.1:${proxy.port}` });
  });
  after(async () => {
    await proxy?.up().catch(() => undefined);
    await cluster?.close();
    await proxy?.close();
  });

  test('a short outage is ridden out by retries; a long one gives a clean 503; never a corrupt blob', async () => {
    const [a, b] = cluster.processes as [RunningServer, RunningServer];
    const repo = 'outage/s3';
    const attempts: Attempt[] = [...(await pushOnce(a, repo, 0))];
    assert.ok(attempts.every((x) => x.status === 201));
    // Short: under the SDK's retry budget.
    await proxy.down();
    const short = pushOnce(b, repo, 1);
    await new Promise((r) => setTimeout(r, 700));
    await proxy.up();
    const shortResult = await short;
    attempts.push(...shortResult);
    assert.ok(shortResult.every((x) => x.status === 201), `retried through a 0.7 s outage: ${JSON.stringify(shortResult.map((x) => [x.status, x.code]))}`);
    // Long: the retries run out and the client gets a retryable error.
    await proxy.down();
    const long = await pushOnce(a, repo, 2);
    attempts.push(...long);
    assert.ok(long.some((x) => x.status === 503), `a 503 after the retries: ${JSON.stringify(long.map((x) => [x.status, x.code]))}`);
    const blobGet = await call(a, 'GET', `/v2/${repo}/blobs/${attempts[0]?.digest ?? ''}`);
    assert.equal(blobGet.status, 503, 'a pull while the store is down is a 503 too');
    await proxy.up();
    const after1 = await pushOnce(b, repo, 3);
    attempts.push(...after1);
    assert.ok(after1.every((x) => x.status === 201));
    await assertConsistent(b, repo, attempts);
    await dbConsistent(cluster.db.url);
  });
});

describe('a real PostgreSQL restart (pg_ctl restart) during pushes', { skip: skip || (pgInstanceUnavailable() ?? false) }, () => {
  let cluster: Cluster;
  let pgi: PgInstance;
  before(async () => {
    pgi = await startPgInstance();
    cluster = await startCluster(2, { adminUrl: pgi.url, env: { BERTH_DATABASE_POSTGRES_STATEMENT_TIMEOUT: '5s' } });
  });
  after(async () => {
    await cluster?.close();
    pgi?.destroy();
  });

  test('pushes around the restart get 201 or a retryable 503, the processes reconnect on their own, nothing is half-written', async () => {
    const [a, b] = cluster.processes as [RunningServer, RunningServer];
    const repo = 'outage/restart';
    const attempts: Attempt[] = [...(await pushOnce(a, repo, 0))];
    let i = 1;
    let stop = false;
    const pushing = (async () => {
      while (!stop) attempts.push(...(await pushOnce(i % 2 === 0 ? a : b, repo, i++)));
    })();
    const startedAt = async (): Promise<string> => {
      const c = new pg.Client({ connectionString: pgi.url });
      await c.connect();
      try {
        return String((await c.query<{ t: Date }>('select pg_postmaster_start_time() as t')).rows[0]?.t.toISOString());
      } finally {
        await c.end();
      }
    };
    const before1 = await startedAt();
    await new Promise((r) => setTimeout(r, 500));
    pgi.restart();
    assert.notEqual(await startedAt(), before1, 'the server really restarted');
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await pushing;
    for (const x of attempts) assert.ok([201, 503].includes(x.status), `only 201 or 503, saw ${x.status} ${x.code ?? ''}`);
    for (const s of [a, b]) {
      let ok = false;
      for (let t = 0; t < 50 && !ok; t++) {
        ok = (await pushOnce(s, repo, 1000 + t)).every((x) => x.status === 201);
        if (!ok) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ok, `${s.host} works again without a restart of its own`);
    }
    await assertConsistent(a, repo, attempts);
    await dbConsistent(cluster.db.url);
  });
});
