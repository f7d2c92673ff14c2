// The `berth serve` process: first-start bootstrap, the banner, flags and environment, TLS,
// health endpoints, and configuration errors.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, freePort, repoRoot, startServer } from '../helpers/server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-serve-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

describe('first start', () => {
  test('generates root credentials, prints them once, stores them with mode 0600, and they work', async () => {
    const dataDir = join(tmp, 'gen');
    const s1 = await startServer({ dataDir, env: { BERTH_ROOT_ACCESS_KEY_ID: '', BERTH_ROOT_SECRET_ACCESS_KEY: '' } });
    try {
      const file = join(dataDir, 'root-credentials.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const creds = JSON.parse(readFileSync(file, 'utf8')) as { accountId: string; accessKeyId: string; secretAccessKey: string };
      assert.match(creds.accountId, /^[1-9]\d{11}$/);
      assert.match(creds.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
      assert.equal(creds.secretAccessKey.length, 40);
      const out = s1.output();
      assert.ok(out.includes(creds.secretAccessKey), 'the banner shows the generated secret once');
      assert.ok(out.includes(`account:   ${creds.accountId}`));
      assert.ok(out.includes('region:    us-east-1'));
      assert.match(out, new RegExp(`podman login --tls-verify=false --username ${creds.accessKeyId} 127\\.0\\.0\\.1:${s1.port}`));
      const ok = await fetch(`${s1.url}/v2/`, { headers: { authorization: basic(creds.accessKeyId, creds.secretAccessKey) } });
      assert.equal(ok.status, 200);
      const bad = await fetch(`${s1.url}/v2/`, { headers: { authorization: basic(creds.accessKeyId, `${creds.secretAccessKey}x`) } });
      assert.equal(bad.status, 401);
      assert.equal(await s1.stop(), 0);

      const s2 = await startServer({ dataDir, env: { BERTH_ROOT_ACCESS_KEY_ID: '', BERTH_ROOT_SECRET_ACCESS_KEY: '' } });
      try {
        assert.ok(!s2.output().includes(creds.secretAccessKey), 'a later start does not print the secret again');
        assert.ok(s2.output().includes(`account:   ${creds.accountId}`), 'the account stays the same');
        const again = await fetch(`${s2.url}/v2/`, { headers: { authorization: basic(creds.accessKeyId, creds.secretAccessKey) } });
        assert.equal(again.status, 200);
      } finally {
        await s2.stop();
      }
    } finally {
      await s1.stop();
    }
  });

  test('BERTH_ACCOUNT_ID and root credentials from the environment; a different account id later is refused', async () => {
    const dataDir = join(tmp, 'env');
    const s = await startServer({ dataDir, env: { BERTH_ACCOUNT_ID: '123456789012', BERTH_REGION: 'eu-west-2' } });
    try {
      assert.ok(s.output().includes('account:   123456789012'));
      assert.ok(s.output().includes('region:    eu-west-2'));
      assert.ok(!s.output().includes(s.secretAccessKey), 'a secret that came from the environment is not printed');
      const r = await fetch(`${s.url}/v2/`, { headers: { authorization: basic(s.accessKeyId, s.secretAccessKey) } });
      assert.equal(r.status, 200);
    } finally {
      await s.stop();
    }
    const port = await freePort();
    const r = spawnSync(process.execPath, [join(repoRoot, 'src/main.ts'), 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
      env: childEnv({ BERTH_ACCOUNT_ID: '210987654321', BERTH_LOG_LEVEL: 'warn' }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /accountId is configured as 210987654321 but this data directory's default account is 123456789012/);
  });
});

describe('configuration errors', () => {
  test('an invalid environment value stops the start with a message naming the key and variable', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'src/main.ts'), 'serve', '--data-dir', join(tmp, 'bad')], {
      env: childEnv({ BERTH_UPLOADS_PURGE_AFTER: 'soon', BERTH_LISTEN: '127.0.0.1:1' }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /uploads\.purgeAfter \(BERTH_UPLOADS_PURGE_AFTER\): invalid duration "soon"/);
  });

  test('berth config validate accepts a good file and rejects a bad one', () => {
    const good = join(tmp, 'good.yaml');
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(good, 'listen: 127.0.0.1:5000\nstorage:\n  filesystem:\n    fsync: true\nuploads:\n  purgeAfter: 12h\n');
    writeFileSync(bad, 'listen: 127.0.0.1:5000\nstorage:\n  filesystem:\n    fsink: true\n');
    const ok = spawnSync(process.execPath, [join(repoRoot, 'src/main.ts'), 'config', 'validate', good], { env: childEnv(), encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /valid/);
    const no = spawnSync(process.execPath, [join(repoRoot, 'src/main.ts'), 'config', 'validate', bad], { env: childEnv(), encoding: 'utf8' });
    assert.equal(no.status, 2);
    assert.match(no.stderr, /storage\.filesystem/);
    assert.match(no.stderr, /fsink/);
  });

  test('berth --help names the commands and flags', () => {
    const out = execFileSync(process.execPath, [join(repoRoot, 'src/main.ts'), '--help'], { env: childEnv(), encoding: 'utf8' });
    for (const s of ['berth serve', 'berth config validate FILE', '--listen', '--data-dir', '--config', '--tls-cert', '--tls-key', 'BERTH_ROOT_ACCESS_KEY_ID']) assert.ok(out.includes(s), s);
  });

  test('a config file given with --config is read, and flags win over it', async () => {
    const file = join(tmp, 'serve.yaml');
    writeFileSync(file, 'region: ap-south-1\nlisten: 127.0.0.1:1\n');
    const s = await startServer({ dataDir: join(tmp, 'cfg'), args: ['--config', file] });
    try {
      assert.ok(s.output().includes('region:    ap-south-1'));
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'the --listen flag won over the file');
    } finally {
      await s.stop();
    }
  });
});

describe('health and TLS', () => {
  test('/healthz and /readyz answer without credentials', async () => {
    const s = await startServer({ dataDir: join(tmp, 'health') });
    try {
      const h = await fetch(`${s.url}/healthz`);
      assert.equal(h.status, 200);
      assert.deepEqual(await h.json(), { status: 'ok' });
      const r = await fetch(`${s.url}/readyz`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { status: 'ready' });
      assert.match(h.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      const echoed = await fetch(`${s.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
      assert.equal(echoed.headers.get('x-request-id'), 'trace-123');
    } finally {
      await s.stop();
    }
  });

  test('--tls-cert and --tls-key serve HTTPS', async () => {
    const dir = join(tmp, 'tls');
    const key = join(tmp, 'key.pem');
    const cert = join(tmp, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    // startServer polls http://; start and poll over https ourselves.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [join(repoRoot, 'src/main.ts'), 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, '--tls-cert', cert, '--tls-key', key], {
      env: childEnv({ BERTH_ROOT_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', BERTH_ROOT_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', BERTH_LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const ca = readFileSync(cert);
    const get = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, ca, headers: { authorization: basic('AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY') } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      let status = 0;
      for (let i = 0; i < 300 && status !== 200; i++) {
        try {
          status = (await get('/healthz')).status;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(status, 200, out);
      const v2 = await get('/v2/');
      assert.equal(v2.status, 200);
      assert.match(out, /registry: {2}https:\/\/127\.0\.0\.1:/);
      assert.match(out, /podman login --username/, 'no --tls-verify=false over HTTPS');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
