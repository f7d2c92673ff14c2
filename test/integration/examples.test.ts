// The example configurations in examples/: each one is valid (validateConfig and `berth config
// validate`), says what its comments say, and the three-process layout's files agree with each
// other. With PostgreSQL and an S3 store at hand, the three processes are started as the README
// says and serve one registry.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, configFromArgs } from '../../src/cli/main.ts';
import { loadConfig, readConfigFile, validateConfig } from '../../src/config/index.ts';
import { childEnv, freePort, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../helpers/server.ts';
import { CLUSTER_SKIP_REASON, clusterAvailable, deleteS3Prefix, s3Env, scaleOutEnv } from '../helpers/cluster.ts';
import { createTempPostgresDatabase } from '../helpers/postgres.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const THREE = join(EXAMPLES, 'three-processes');

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

async function berth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The three processes as the README starts them: roles and listen address. */
function readmeProcesses(): Array<{ roles: string; listen: string }> {
  const readme = readFileSync(join(THREE, 'README.md'), 'utf8');
  const out = [...readme.matchAll(/^ {3}BERTH_ROLES=(\S+) berth serve --config examples\/three-processes\/berth\.yaml --listen (\S+)$/gm)].map((m) => ({ roles: m[1] ?? '', listen: m[2] ?? '' }));
  return out;
}

describe('examples/', () => {
  const files = yamlFiles(EXAMPLES);

  test('the examples are the ones listed here (a new one needs its checks below)', () => {
    assert.deepEqual(
      files.map((f) => relative(EXAMPLES, f)),
      ['embedded.yaml', 'postgres-aws-s3.yaml', 'postgres-ceph.yaml', 'three-processes/berth.yaml'],
    );
  });

  for (const f of files) {
    test(`${relative(EXAMPLES, f)} is valid: validateConfig and berth config validate`, async () => {
      validateConfig(readConfigFile(f), f);
      const r = await berth(['config', 'validate', f]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, `${f}: valid`);
    });
  }

  test('embedded.yaml spells out the defaults: filesystem + SQLite', () => {
    const c = validateConfig(readConfigFile(join(EXAMPLES, 'embedded.yaml')));
    assert.deepEqual(c, validateConfig({}));
    assert.equal(c.storage.driver, 'filesystem');
    assert.equal(c.database.driver, 'sqlite');
  });

  test('postgres-ceph.yaml: PostgreSQL + an S3 store that is not AWS, credentials overridden from the environment', () => {
    const file = join(EXAMPLES, 'postgres-ceph.yaml');
    const c = validateConfig(readConfigFile(file));
    assert.equal(c.database.driver, 'postgres');
    assert.equal(c.storage.driver, 's3');
    assert.match(c.storage.s3.endpoint ?? '', /^https?:\/\//);
    assert.equal(c.storage.s3.forcePathStyle, true);
    assert.equal(c.storage.s3.bucket, 'berth');
    assert.match(c.storage.s3.accessKeyId ?? '', /^REPLACE_WITH_/);
    assert.match(c.storage.s3.secretAccessKey ?? '', /^REPLACE_WITH_/);
    for (const v of ['BERTH_STORAGE_S3_ACCESS_KEY_ID', 'BERTH_STORAGE_S3_SECRET_ACCESS_KEY', 'BERTH_DATABASE_POSTGRES_URL']) {
      assert.ok(readFileSync(file, 'utf8').includes(v), `the comments name ${v}`);
    }
    const e = loadConfig({
      file,
      env: { BERTH_STORAGE_S3_ACCESS_KEY_ID: 'FROMENV', BERTH_STORAGE_S3_SECRET_ACCESS_KEY: 'secret-from-env', BERTH_DATABASE_POSTGRES_URL: 'postgres://berth:pw@db:5432/berth' },
    });
    assert.equal(e.storage.s3.accessKeyId, 'FROMENV');
    assert.equal(e.storage.s3.secretAccessKey, 'secret-from-env');
    assert.equal(e.database.postgres.url, 'postgres://berth:pw@db:5432/berth');
  });

  test("postgres-aws-s3.yaml: the SDK's default credential chain, server-side encryption, presigned redirects", () => {
    const c = validateConfig(readConfigFile(join(EXAMPLES, 'postgres-aws-s3.yaml')));
    assert.equal(c.database.driver, 'postgres');
    assert.equal(c.storage.driver, 's3');
    assert.equal(c.storage.s3.endpoint, undefined);
    assert.equal(c.storage.s3.accessKeyId, undefined);
    assert.equal(c.storage.s3.secretAccessKey, undefined);
    assert.equal(c.storage.s3.forcePathStyle, false);
    assert.equal(c.storage.s3.serverSideEncryption, 'aws:kms');
    assert.match(c.storage.s3.sseKmsKeyId ?? '', /^arn:aws:kms:/);
    assert.equal(c.storage.redirect.enabled, true);
    assert.equal(c.storage.redirect.expiry, 20 * 60);
  });

  test('three-processes: one berth.yaml, three processes with their own --listen and BERTH_ROLES, one load balancer over them', () => {
    const file = join(THREE, 'berth.yaml');
    const procs = readmeProcesses();
    assert.equal(procs.length, 3);
    assert.deepEqual(
      procs.map((p) => p.roles),
      ['all', 'all', 'api'],
    );
    for (const p of procs) {
      const c = configFromArgs(['--config', file, '--listen', p.listen], { BERTH_ROLES: p.roles });
      assert.equal(c.listen, p.listen);
      assert.equal(c.roles, p.roles);
      assert.equal(c.database.driver, 'postgres');
      assert.equal(c.storage.driver, 's3');
      assert.ok(c.publicUrl !== undefined, 'every process hands out the load balancer address');
    }
    const start = readFileSync(join(THREE, 'start.ts'), 'utf8');
    for (const p of procs) assert.ok(start.includes(`roles: '${p.roles}'`), `start.ts starts a process with roles ${p.roles}`);
    assert.ok(start.includes("default: '5001,5002,5003'"));

    const backends = procs.map((p) => p.listen).sort();
    const haproxy = readFileSync(join(THREE, 'haproxy.cfg'), 'utf8');
    assert.match(haproxy, /^\s+balance roundrobin$/m);
    assert.deepEqual([...haproxy.matchAll(/^\s+server berth-\d (\S+) check$/gm)].map((m) => m[1]).sort(), backends);
    for (const t of ['client', 'server']) assert.match(haproxy, new RegExp(`^\\s+timeout ${t} 15m$`, 'm'));
    assert.match(haproxy, /option httpchk GET \/readyz/);

    const nginx = readFileSync(join(THREE, 'nginx.conf'), 'utf8');
    assert.deepEqual([...nginx.matchAll(/^\s+server (\d+\.\d+\.\d+\.\d+:\d+) /gm)].map((m) => m[1]).sort(), backends);
    for (const d of ['client_max_body_size 0;', 'proxy_request_buffering off;', 'proxy_buffering off;', 'proxy_read_timeout 15m;', 'proxy_send_timeout 15m;', 'client_body_timeout 15m;']) {
      assert.ok(nginx.includes(d), `nginx.conf has ${d}`);
    }
  });

  const haproxy = spawnSync('haproxy', ['-v']).status === 0;
  test('haproxy -c accepts haproxy.cfg', { skip: haproxy ? false : 'haproxy is not installed' }, () => {
    const r = spawnSync('haproxy', ['-c', '-f', join(THREE, 'haproxy.cfg')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
  const nginx = spawnSync('nginx', ['-v']).status === 0;
  test('nginx -t accepts nginx.conf', { skip: nginx ? false : 'nginx is not installed' }, () => {
    const r = spawnSync('nginx', ['-t', '-c', join(THREE, 'nginx.conf')], { encoding: 'utf8' });
    assert.match(r.stdout + r.stderr, /syntax is ok/);
  });

  test('three-processes/start.ts: three processes over PostgreSQL and S3 serve one registry', { skip: clusterAvailable() ? false : CLUSTER_SKIP_REASON, timeout: 120_000 }, async () => {
    const s3 = s3Env();
    assert.ok(s3 !== undefined);
    const db = await createTempPostgresDatabase();
    const prefix = `berth-examples-test-${randomBytes(6).toString('hex')}/`;
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-examples-'));
    const ports = [await freePort(), await freePort(), await freePort()];
    const child = spawn(process.execPath, [join(THREE, 'start.ts'), '--ports', ports.join(',')], {
      env: childEnv({
        ...scaleOutEnv(db.url, s3, prefix),
        BERTH_DATA_DIR: dataDir,
        BERTH_ROOT_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
        BERTH_ROOT_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
        BERTH_LOG_LEVEL: 'warn',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const auth = `Basic ${Buffer.from(`${TEST_ACCESS_KEY_ID}:${TEST_SECRET_ACCESS_KEY}`).toString('base64')}`;
    const at = (i: number, path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`http://127.0.0.1:${ports[i] ?? 0}${path}`, { ...init, headers: { authorization: auth, ...(init.headers as Record<string, string> | undefined) }, redirect: 'manual' });
    try {
      for (let i = 0; i < 3; i++) {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const ok = await at(i, '/readyz').then(
            (r) => r.status === 200,
            () => false,
          );
          if (ok) break;
          assert.ok(Date.now() < deadline && child.exitCode === null, `process ${i + 1} did not become ready:\n${output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // One chunked upload spread over the three processes.
      const data = randomBytes(300_000);
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const post = await at(0, '/v2/example/app/blobs/uploads/', { method: 'POST' });
      assert.equal(post.status, 202, await post.text());
      let loc = post.headers.get('location') ?? '';
      for (const [i, [a, b]] of [
        [0, 100_000],
        [100_000, 200_000],
      ].entries()) {
        const r = await at(i + 1, loc, { method: 'PATCH', body: data.subarray(a, b), headers: { 'content-type': 'application/octet-stream', 'content-range': `${a}-${(b ?? 0) - 1}` } });
        assert.equal(r.status, 202, await r.text());
        loc = r.headers.get('location') ?? loc;
      }
      const put = await at(0, `${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT', body: data.subarray(200_000), headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(put.status, 201, await put.text());
      for (let i = 0; i < 3; i++) {
        const r = await at(i, `/v2/example/app/blobs/${digest}`);
        assert.equal(r.status, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
      }
      assert.match(output, /\[berth-3\] berth serve --listen 127\.0\.0\.1:\d+ with BERTH_ROLES=api/);
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      await db.drop();
      await deleteS3Prefix(s3, prefix);
      rmSync(dataDir, { recursive: true, force: true });
      assert.equal(code, 0, output);
    }
    assert.equal((output.match(/\] exited \(0\)/g) ?? []).length, 3, output);
  });
});
