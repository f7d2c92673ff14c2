// Several berth processes over one PostgreSQL database and one S3 bucket prefix, as scale-out mode
// runs them, plus the network tools the fault tests need: a per-request round-robin HTTP balancer
// and a TCP proxy that can refuse or cut connections.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { S3Client, ListObjectsV2Command, DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { createTempPostgresDatabase, POSTGRES_TEST_URL, type TempPostgresDatabase } from './postgres.ts';
import { startServer, type RunningServer } from './server.ts';

export interface S3Env {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** The S3 store the tests may use (what `ceph-rgw.sh env` exports), or undefined. */
export function s3Env(): S3Env | undefined {
  const e = process.env;
  if (e.S3_ENDPOINT === undefined || e.S3_ENDPOINT === '') return undefined;
  return {
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION ?? 'us-east-1',
    accessKeyId: e.S3_ACCESS_KEY ?? e.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: e.S3_SECRET_KEY ?? e.AWS_SECRET_ACCESS_KEY ?? '',
    bucket: e.S3_BUCKET ?? 'registry',
  };
}

export const CLUSTER_SKIP_REASON =
  'scale-out tests need PostgreSQL and an S3 store: set BERTH_TEST_POSTGRES_URL and run /work/shared/tools/ceph-rgw.sh start; eval "$(/work/shared/tools/ceph-rgw.sh env)"';

export function clusterAvailable(): boolean {
  return POSTGRES_TEST_URL !== undefined && s3Env() !== undefined;
}

/** BERTH_* settings for PostgreSQL + S3. */
export function scaleOutEnv(pgUrl: string, s3: S3Env, prefix: string, s3Endpoint = s3.endpoint): Record<string, string> {
  return {
    BERTH_DATABASE_DRIVER: 'postgres',
    BERTH_DATABASE_POSTGRES_URL: pgUrl,
    BERTH_STORAGE_DRIVER: 's3',
    BERTH_STORAGE_S3_ENDPOINT: s3Endpoint,
    BERTH_STORAGE_S3_REGION: s3.region,
    BERTH_STORAGE_S3_BUCKET: s3.bucket,
    BERTH_STORAGE_S3_PREFIX: prefix,
    BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
    BERTH_STORAGE_S3_ACCESS_KEY_ID: s3.accessKeyId,
    BERTH_STORAGE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    BERTH_STORAGE_S3_PART_SIZE: String(5 * 1024 * 1024),
  };
}

export async function deleteS3Prefix(s3: S3Env, prefix: string): Promise<void> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key ?? '' })).filter((k) => k.Key !== '');
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: keys, Quiet: true } }));
    }
  } finally {
    client.destroy();
  }
}

export interface Cluster {
  processes: RunningServer[];
  db: TempPostgresDatabase;
  s3: S3Env;
  prefix: string;
  env: Record<string, string>;
  /** Starts one more process (or restarts a stopped one, by index) with the cluster's settings. */
  start(extraEnv?: Record<string, string>): Promise<RunningServer>;
  close(): Promise<void>;
}

export async function startCluster(
  n: number,
  opts: { env?: Record<string, string>; s3Endpoint?: string; databaseUrl?: (url: string) => string; /** Another PostgreSQL server to create the database on. */ adminUrl?: string } = {},
): Promise<Cluster> {
  const s3 = s3Env();
  if (s3 === undefined) throw new Error(CLUSTER_SKIP_REASON);
  const db = await createTempPostgresDatabase(opts.adminUrl);
  const prefix = `test-cluster-${randomBytes(5).toString('hex')}/`;
  const env = { ...scaleOutEnv(opts.databaseUrl?.(db.url) ?? db.url, s3, prefix, opts.s3Endpoint), ...opts.env };
  const processes: RunningServer[] = [];
  const start = async (extraEnv: Record<string, string> = {}): Promise<RunningServer> => {
    const p = await startServer({ env: { ...env, ...extraEnv } });
    processes.push(p);
    return p;
  };
  try {
    // Started together: migrations, the default account and the root key race as they would.
    await Promise.all(Array.from({ length: n }, () => start()));
  } catch (e) {
    await Promise.all(processes.map((p) => p.kill()));
    await db.drop();
    throw e;
  }
  return {
    processes,
    db,
    s3,
    prefix,
    env,
    start,
    async close() {
      await Promise.all(processes.map((p) => p.kill()));
      for (const p of processes) p.cleanup();
      await db.drop().catch(() => undefined);
      await deleteS3Prefix(s3, prefix).catch(() => undefined);
    },
  };
}

/**
 * A per-request round-robin HTTP load balancer: every request (not every connection) goes to the
 * next backend, so a client's keep-alive connection still spreads its requests. Bodies stream.
 */
export async function startBalancer(backends: () => string[]): Promise<{ url: string; host: string; close(): Promise<void>; counts: Map<string, number> }> {
  let next = 0;
  const counts = new Map<string, number>();
  const server: HttpServer = createHttpServer((req, res) => {
    const list = backends();
    const target = new URL(list[next++ % list.length] ?? '');
    counts.set(target.host, (counts.get(target.host) ?? 0) + 1);
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNKNOWN","message":"balancer: backend unreachable"}]}');
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP proxy to `target` that can go down (its port refuses connections and open ones are cut, as
 * when the server behind it stops) and come back on the same port.
 */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<{ port: number; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    const upstream = connect(targetPort, targetHost);
    open.add(client);
    open.add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  let listening = true;
  const cut = (): void => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port,
    async down() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cut();
      await closed;
    },
    async up() {
      if (listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      listening = true;
    },
    async close() {
      cut();
      if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      listening = false;
    },
  };
}
