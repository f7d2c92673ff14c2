// Starts CNCF Distribution (`docker-registry serve <config>`, Debian package docker-registry) for
// tests: a free loopback port of its own (never the packaged service's :5000), filesystem storage in
// a temporary directory, and optionally authentication: htpasswd Basic (bcrypt hashes from hash-wasm,
// as Distribution reads only bcrypt) or Docker token authentication, with a token server in this
// process signing ES256 JWTs with a throwaway key whose self-signed certificate (from openssl) is
// Distribution's root certificate bundle; the certificate chain travels in the JWT's `x5c` header
// (distribution docs/spec/auth/jwt.md). `close()` kills the process and removes the directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bcrypt } from 'hash-wasm';
import { SignJWT, importPKCS8 } from 'jose';
import { stringify } from 'yaml';
import { freePort } from './server.ts';

export const DISTRIBUTION_BIN = process.env.BERTH_DOCKER_REGISTRY ?? '/usr/bin/docker-registry';
const TOKEN_SERVICE = 'berth-test-registry';
const TOKEN_ISSUER = 'berth-test-issuer';

/** `false` when Distribution can be started, else the reason to skip (for node:test's `skip`). */
export function distributionMissing(): false | string {
  return existsSync(DISTRIBUTION_BIN) ? false : `CNCF Distribution is not installed at ${DISTRIBUTION_BIN} (Debian package docker-registry; set BERTH_DOCKER_REGISTRY)`;
}

/** `false` when token authentication can be set up, else the reason to skip. */
export function tokenAuthMissing(): false | string {
  const missing = distributionMissing();
  if (missing !== false) return missing;
  return spawnSync('openssl', ['version']).status === 0 ? false : 'token authentication needs the openssl command to make a certificate';
}

export interface DistributionOptions {
  /** No authentication (default), htpasswd Basic, or Bearer tokens from a token server in this process. */
  auth?: 'none' | 'htpasswd' | 'token';
  /** Users and passwords for htpasswd or the token server. */
  users?: Record<string, string>;
}

export interface RunningDistribution {
  url: string;
  port: number;
  /** Requests the token server has answered (token auth only). */
  tokenRequests(): number;
  /** What Distribution has written to stdout and stderr. */
  output(): string;
  close(): Promise<void>;
}

export async function startDistribution(options: DistributionOptions = {}): Promise<RunningDistribution> {
  const missing = distributionMissing();
  if (missing !== false) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'berth-distribution-'));
  const port = await freePort();
  const users = options.users ?? {};
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
  };
  let tokenServer: TokenServer | undefined;
  try {
    if (options.auth === 'htpasswd') {
      const lines = await Promise.all(
        Object.entries(users).map(async ([user, password]) => `${user}:${await bcrypt({ password, salt: randomBytes(16), costFactor: 5, outputType: 'encoded' })}`),
      );
      writeFileSync(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
      config.auth = { htpasswd: { realm: 'berth-test', path: join(dir, 'htpasswd') } };
    } else if (options.auth === 'token') {
      tokenServer = await startTokenServer(dir, users);
      config.auth = { token: { realm: tokenServer.realm, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, rootcertbundle: tokenServer.certPath } };
    }
    writeFileSync(join(dir, 'config.yml'), stringify(config));
  } catch (e) {
    await tokenServer?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let output = '';
  const child = spawn(DISTRIBUTION_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const close = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    await stop(child, exited);
    await tokenServer?.close();
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(url, child, () => output);
  } catch (e) {
    await close();
    throw e;
  }
  return { url, port, tokenRequests: () => tokenServer?.requests() ?? 0, output: () => output, close };
}

async function waitUntilServing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not answer on ${url} within 20 s:\n${output()}`);
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

interface TokenServer {
  realm: string;
  certPath: string;
  requests(): number;
  close(): Promise<void>;
}

/**
 * Docker token authentication's token endpoint: GET /token?service=...&scope=..., Basic credentials
 * optional. Known users get every action they ask for; anonymous callers get a token granting
 * nothing (as public registries do for private repositories); wrong passwords get 401.
 */
async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=berth test token issuer'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl could not make the token certificate: ${made.stderr}`);
  const key = await importPKCS8(readFileSync(keyPath, 'utf8'), 'ES256');
  const certDer = readFileSync(certPath, 'utf8').replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  let requests = 0;

  const server: Server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://token');
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    let subject = '';
    if (basic?.[1] !== undefined) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const [user, password] = [decoded.slice(0, i), decoded.slice(i + 1)];
      if (i === -1 || users[user] === undefined || users[user] !== password) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
        return;
      }
      subject = user;
    }
    const access = subject === '' ? [] : url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).map(parseScope).filter((a) => a !== undefined);
    const now = Math.floor(Date.now() / 1000);
    new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [certDer] })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(subject)
      .setAudience(TOKEN_SERVICE)
      .setIssuedAt(now)
      .setNotBefore(now - 10)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key)
      .then(
        (token) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
        },
        (e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        },
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certPath,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}
