// Composes a berth app in-process on a random loopback port, for integration tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose, type App } from '../../src/app/compose.ts';
import { loadConfig, type ConfigInput } from '../../src/config/index.ts';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/observability/logger.ts';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from './server.ts';
import { createTempPostgresDatabase } from './postgres.ts';

export interface TestApp {
  app: App;
  url: string;
  host: string;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `Basic ...` header value for the root credentials. */
  auth: string;
  /** fetch against the app (a path, or a whole URL it gave) with root credentials (unless headers.authorization is given). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Extra BERTH_* environment, as the server would read it. */
  env?: Record<string, string>;
  /** Reuse a data directory (restart tests); a fresh one otherwise, removed on close. */
  dataDir?: string;
  config?: Partial<ConfigInput>;
  /**
   * Metadata database: SQLite in the data directory, or a fresh PostgreSQL database (created on
   * BERTH_TEST_POSTGRES_URL's server, dropped on close). Defaults to BERTH_TEST_APP_DATABASE or sqlite.
   */
  database?: 'sqlite' | 'postgres';
  /** Where the app logs (at level info), for tests that read the log; silent otherwise. */
  logStream?: DestinationStream;
  /** The app's clock (tests that move time); the real one otherwise. */
  now?: () => number;
  /** `false`: the app listens but runs no background jobs (tests that run them themselves). */
  jobs?: boolean;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-it-'));
  const database = opts.database ?? (process.env.BERTH_TEST_APP_DATABASE === 'postgres' ? 'postgres' : 'sqlite');
  const pgdb = database === 'postgres' ? await createTempPostgresDatabase() : undefined;
  const config = loadConfig({
    env: {
      BERTH_LISTEN: '127.0.0.1:0',
      BERTH_DATA_DIR: dataDir,
      BERTH_ROOT_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
      BERTH_ROOT_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
      BERTH_LOG_LEVEL: process.env.BERTH_TEST_LOG_LEVEL ?? 'silent',
      // Tests push faster than ECR's quotas allow one account; the throttling tests turn it on.
      BERTH_THROTTLE_ENABLED: 'false',
      ...(pgdb !== undefined ? { BERTH_DATABASE_DRIVER: 'postgres', BERTH_DATABASE_POSTGRES_URL: pgdb.url } : {}),
      ...opts.env,
    },
    overrides: opts.config as Record<string, unknown> | undefined,
  });
  const app = await compose(config, { log: opts.logStream !== undefined ? createLogger('info', opts.logStream) : createLogger(config.log.level), ...(opts.now !== undefined ? { now: opts.now } : {}) });
  const address = opts.jobs === false ? await app.http.listen({ host: '127.0.0.1', port: 0 }) : await app.start();
  const url = address.replace('0.0.0.0', '127.0.0.1');
  const auth = `Basic ${Buffer.from(`${TEST_ACCESS_KEY_ID}:${TEST_SECRET_ACCESS_KEY}`).toString('base64')}`;
  return {
    app,
    url,
    host: url.replace(/^https?:\/\//, ''),
    dataDir,
    accessKeyId: TEST_ACCESS_KEY_ID,
    secretAccessKey: TEST_SECRET_ACCESS_KEY,
    auth,
    async fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', auth);
      return await fetch(path.startsWith('http') ? path : `${url}${path}`, { ...init, headers, redirect: 'manual' });
    },
    async close() {
      await app.close();
      await pgdb?.drop();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
