// PostgreSQL for tests: each test file works in a database of its own, created with a unique name
// through an admin connection to BERTH_TEST_POSTGRES_URL and dropped afterwards.
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import type { MetaStore } from '../../src/meta/index.ts';
import { openPostgres } from '../../src/meta/postgres.ts';

/** The admin URL tests use, or undefined when PostgreSQL tests are not configured. */
export const POSTGRES_TEST_URL: string | undefined = process.env.BERTH_TEST_POSTGRES_URL === '' ? undefined : process.env.BERTH_TEST_POSTGRES_URL;

/** The reason PostgreSQL tests are skipped, for `{ skip: ... }`. */
export const POSTGRES_SKIP_REASON = 'BERTH_TEST_POSTGRES_URL is unset: PostgreSQL tests skipped (set it, e.g. to postgres://postgres@127.0.0.1:5432/postgres, to run them)';

export interface TempPostgresDatabase {
  /** The database name (`berth_test_<random>`). */
  name: string;
  /** The admin URL with the database name replaced: connect here. */
  url: string;
  /** Terminates every connection to the database and drops it. Safe to call twice. */
  drop(): Promise<void>;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a unique name on the server of `adminUrl`. */
export async function createTempPostgresDatabase(adminUrl: string = requireUrl()): Promise<TempPostgresDatabase> {
  const name = `berth_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, async (c) => {
    await c.query(`create database ${quoteIdent(name)}`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, async (c) => {
        await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
        await c.query(`drop database if exists ${quoteIdent(name)}`);
      });
    },
  };
}

/** Runs `fn` against a fresh temporary database and drops it afterwards, whatever happens. */
export async function withTempPostgresDatabase<T>(fn: (db: TempPostgresDatabase) => Promise<T>, adminUrl: string = requireUrl()): Promise<T> {
  const db = await createTempPostgresDatabase(adminUrl);
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}

/** Empties every table of the database at `url` except the migration bookkeeping, and restarts its sequences. */
export async function truncateAllTables(url: string): Promise<void> {
  await withAdmin(url, async (c) => {
    const { rows } = await c.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'berth_migrations%'",
    );
    if (rows.length === 0) return;
    await c.query(`truncate table ${rows.map((r) => quoteIdent(r.table_name)).join(', ')} restart identity cascade`);
  });
}

function requireUrl(): string {
  if (POSTGRES_TEST_URL === undefined) throw new Error(POSTGRES_SKIP_REASON);
  return POSTGRES_TEST_URL;
}

/**
 * Registers `before`/`after` hooks that create one temporary database for the calling test file and
 * drop it at the end; returns a getter of its URL (valid once the `before` hook ran).
 */
export function useTempPostgresDatabase(adminUrl?: string): () => string {
  let db: TempPostgresDatabase | undefined;
  before(async () => {
    db = await createTempPostgresDatabase(adminUrl ?? requireUrl());
  });
  after(async () => {
    await db?.drop();
  });
  return () => {
    if (db === undefined) throw new Error('the test database was not created');
    return db.url;
  };
}

/** A MetaStore on `url` with every table emptied first, plus a way to open a second one (another process). */
export async function freshPostgresMeta(url: string, poolSize = 4): Promise<{ meta: MetaStore; openAnother: () => Promise<MetaStore>; cleanup: () => Promise<void> }> {
  const meta = await openPostgres({ url, poolSize });
  try {
    await truncateAllTables(url);
  } catch (e) {
    await meta.close();
    throw e;
  }
  return { meta, openAnother: () => openPostgres({ url, poolSize }), cleanup: () => meta.close() };
}
