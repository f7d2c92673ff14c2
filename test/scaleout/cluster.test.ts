// Scale-out mode: three berth processes over one PostgreSQL database and one S3 store (Ceph RGW in
// CI) behave as one registry, through process deaths and concurrent writers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import pg from 'pg';
import { CLUSTER_SKIP_REASON, clusterAvailable, startBalancer, startCluster, type Cluster } from '../helpers/cluster.ts';
import type { RunningServer } from '../helpers/server.ts';

const skip = clusterAvailable() ? false : CLUSTER_SKIP_REASON;

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function auth(s: RunningServer): string {
  return `Basic ${Buffer.from(`${s.accessKeyId}:${s.secretAccessKey}`).toString('base64')}`;
}

async function call(s: RunningServer, method: string, path: string, init: { body?: Buffer; headers?: Record<string, string> } = {}): Promise<Response> {
  return await fetch(`${s.url}${path}`, { method, body: init.body, headers: { authorization: auth(s), ...init.headers }, redirect: 'manual' });
}

async function pushBlob(s: RunningServer, repo: string, data: Buffer): Promise<string> {
  const d = sha256(data);
  const r = await call(s, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return d;
}

function manifestFor(config: { digest: string; size: number }, layers: Array<{ digest: string; size: number }>, note = ''): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
      annotations: { note },
    }),
  );
}

describe('three processes over PostgreSQL and S3', { skip }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3);
  });
  after(async () => {
    await cluster?.close();
  });

  test('a chunked upload whose PATCHes go to three processes completes with the right digest', async () => {
    const [a, b, c] = cluster.processes as [RunningServer, RunningServer, RunningServer];
    const repo = 'scale/chunked';
    const chunks = [randomBytes(6 * 1024 * 1024), randomBytes(3 * 1024 * 1024 + 17), randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    const whole = Buffer.concat(chunks);
    const start = await call(a, 'POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(start.status, 202);
    let location = start.headers.get('location') ?? '';
    const order = [b, c, a, b];
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      const s = order[i] as RunningServer;
      const r = await call(s, 'PATCH', location, { body: chunk, headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` } });
      assert.equal(r.status, 202, `PATCH ${i} on ${s.host}: ${await r.text()}`);
      offset += chunk.length;
      assert.equal(r.headers.get('range'), `0-${offset - 1}`);
      location = r.headers.get('location') ?? location;
    }
    // The status is the same from every process.
    for (const s of cluster.processes) {
      const st = await call(s, 'GET', location);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), `0-${whole.length - 1}`);
    }
    const digest = sha256(whole);
    const done = await call(c, 'PUT', `${location}?digest=${digest}`);
    assert.equal(done.status, 201, await done.text());
    for (const s of cluster.processes) {
      const g = await call(s, 'GET', `/v2/${repo}/blobs/${digest}`);
      assert.equal(g.status, 200);
      assert.equal(sha256(Buffer.from(await g.arrayBuffer())), digest, `pulled from ${s.host}`);
    }
  });

  test('an image pushed through one process is pulled byte-identical from each other one, tags and referrers agree', async () => {
    const [a, b, c] = cluster.processes as [RunningServer, RunningServer, RunningServer];
    const repo = 'scale/image';
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(8 * 1024 * 1024 + 3);
    const cd = await pushBlob(a, repo, config);
    const ld = await pushBlob(b, repo, layer);
    const m = manifestFor({ digest: cd, size: config.length }, [{ digest: ld, size: layer.length }]);
    const put = await call(c, 'PUT', `/v2/${repo}/manifests/v1`, { body: m, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 201, await put.text());
    for (const s of cluster.processes) {
      const g = await call(s, 'GET', `/v2/${repo}/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(g.status, 200);
      assert.ok(Buffer.from(await g.arrayBuffer()).equals(m));
      const l = await call(s, 'GET', `/v2/${repo}/blobs/${ld}`, { headers: { range: 'bytes=100-199' } });
      assert.equal(l.status, 206);
      assert.ok(Buffer.from(await l.arrayBuffer()).equals(layer.subarray(100, 200)));
      const tags = await call(s, 'GET', `/v2/${repo}/tags/list`);
      assert.deepEqual(await tags.json(), { name: repo, tags: ['v1'] });
    }
  });

  test('a process killed in the middle of a PATCH: the client asks another for the offset and finishes there', async () => {
    const victim = await cluster.start();
    const other = cluster.processes[0] as RunningServer;
    const repo = 'scale/killed';
    const first = randomBytes(5 * 1024 * 1024);
    const rest = randomBytes(40 * 1024 * 1024);
    const start = await call(victim, 'POST', `/v2/${repo}/blobs/uploads/`);
    const location = start.headers.get('location') ?? '';
    const p1 = await call(victim, 'PATCH', location, { body: first, headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${first.length - 1}` } });
    assert.equal(p1.status, 202);
    // Stream the rest slowly to the victim and kill it half-way.
    const sent = await new Promise<number>((resolve) => {
      let n = 0;
      const req = request(`${victim.url}${location}`, { method: 'PATCH', headers: { authorization: auth(victim), 'content-type': 'application/octet-stream' } });
      req.on('error', () => resolve(n));
      req.on('response', () => resolve(n));
      const src = Readable.from(
        (async function* () {
          for (let i = 0; i < rest.length; i += 1024 * 1024) {
            yield rest.subarray(i, i + 1024 * 1024);
            n += 1024 * 1024;
            if (n === 20 * 1024 * 1024) void victim.kill();
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
      );
      src.pipe(req);
    });
    assert.ok(sent >= 20 * 1024 * 1024);
    // Another process knows the upload and where it stands: the killed chunk never counted.
    const st = await call(other, 'GET', location);
    assert.equal(st.status, 204);
    assert.equal(st.headers.get('range'), `0-${first.length - 1}`);
    const p2 = await call(other, 'PATCH', location, { body: rest, headers: { 'content-type': 'application/octet-stream', 'content-range': `${first.length}-${first.length + rest.length - 1}` } });
    assert.equal(p2.status, 202, await p2.text());
    const digest = sha256(Buffer.concat([first, rest]));
    const done = await call(other, 'PUT', `${location}?digest=${digest}`);
    assert.equal(done.status, 201, await done.text());
    const g = await call(cluster.processes[1] as RunningServer, 'GET', `/v2/${repo}/blobs/${digest}`);
    assert.equal(sha256(Buffer.from(await g.arrayBuffer())), digest);
  });

  test('concurrent pushes of one tag from different processes leave it at one manifest; the outbox records every move in order', async () => {
    const repo = 'scale/race';
    const live = cluster.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const cd = await pushBlob(live[0] as RunningServer, repo, config);
    const manifests = Array.from({ length: 9 }, (_, i) => manifestFor({ digest: cd, size: config.length }, [], `m${i}`));
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        manifests.map((m, i) => call(live[i % live.length] as RunningServer, 'PUT', `/v2/${repo}/manifests/latest`, { body: m, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } })),
      );
      for (const r of results) assert.equal(r.status, 201, await r.text());
      const heads = await Promise.all(live.map((s) => call(s, 'HEAD', `/v2/${repo}/manifests/latest`)));
      const digests = new Set(heads.map((h) => h.headers.get('docker-content-digest')));
      assert.equal(digests.size, 1, 'every process sees the same tag');
      assert.ok(manifests.some((m) => digests.has(sha256(m))));
    }
    const client = new pg.Client({ connectionString: cluster.db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ digest: string; detail: string }>("select digest, detail from events where repository = $1 and type = 'image.push' and tag = 'latest' order by id", [repo]);
      assert.ok(rows.length >= 3);
      for (let i = 1; i < rows.length; i++) {
        const detail = JSON.parse(rows[i]?.detail ?? '{}') as Record<string, string>;
        assert.equal(detail['previous-image-digest'], rows[i - 1]?.digest, `event ${i} names the digest the tag had before`);
      }
      const final = await call(live[0] as RunningServer, 'HEAD', `/v2/${repo}/manifests/latest`);
      assert.equal(final.headers.get('docker-content-digest'), rows[rows.length - 1]?.digest, 'the tag is where the last event says');
    } finally {
      await client.end();
    }
  });

  test('a per-request round-robin balancer over the processes serves chunked pushes and pulls', async () => {
    const lb = await startBalancer(() => cluster.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null).map((p) => p.url));
    try {
      const s = { ...(cluster.processes[0] as RunningServer), url: lb.url };
      const repo = 'scale/balanced';
      const data = randomBytes(12 * 1024 * 1024);
      const start = await call(s, 'POST', `/v2/${repo}/blobs/uploads/`);
      let location = start.headers.get('location') ?? '';
      for (let off = 0; off < data.length; off += 2 * 1024 * 1024) {
        const chunk = data.subarray(off, off + 2 * 1024 * 1024);
        const r = await call(s, 'PATCH', location, { body: chunk, headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${off + chunk.length - 1}` } });
        assert.equal(r.status, 202, await r.text());
        location = r.headers.get('location') ?? location;
      }
      const done = await call(s, 'PUT', `${location}?digest=${sha256(data)}`);
      assert.equal(done.status, 201, await done.text());
      const g = await call(s, 'GET', `/v2/${repo}/blobs/${sha256(data)}`);
      assert.equal(sha256(Buffer.from(await g.arrayBuffer())), sha256(data));
      assert.ok(lb.counts.size >= 2, `requests reached ${lb.counts.size} processes`);
    } finally {
      await lb.close();
    }
  });
});
