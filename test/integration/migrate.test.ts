// `berth migrate`: applies the configured database's pending migrations and exits, on SQLite and
// (when BERTH_TEST_POSTGRES_URL is set) PostgreSQL.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { main } from '../../src/cli/main.ts';
import { runMigrations } from '../../src/cli/migrate.ts';
import { loadConfig } from '../../src/config/index.ts';
import { migrationProvider } from '../../src/meta/migrations/index.ts';
import { startTestApp } from '../helpers/app.ts';
import { createTempPostgresDatabase, POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, withTempPostgresDatabase } from '../helpers/postgres.ts';

const root = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
});

const MIGRATIONS = Object.keys(await migrationProvider('sqlite').getMigrations()).sort();

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

function file(name: string, text: string): string {
  const f = join(root, name);
  writeFileSync(f, text);
  return f;
}

const TABLES = ['accounts', 'blobs', 'events', 'jobs', 'leases', 'manifests', 'repositories', 'settings', 'tags', 'uploads'];

function assertAppliedAll(r: Run, database: RegExp): void {
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.deepEqual(
    lines.filter((l) => / applied \d{4}_/.test(l)).map((l) => / applied (\S+)$/.exec(l)?.[1]),
    MIGRATIONS,
  );
  for (const l of lines) assert.match(l, database);
  assert.match(r.out, new RegExp(`${MIGRATIONS.length} migrations applied; schema at ${MIGRATIONS[MIGRATIONS.length - 1] ?? ''}$`));
}

function assertUpToDate(r: Run): void {
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`schema up to date \\(${MIGRATIONS.length} migrations, latest ${MIGRATIONS[MIGRATIONS.length - 1] ?? ''}\\); nothing applied$`));
}

describe('berth migrate on SQLite', () => {
  test('applies every migration to a new database, then finds nothing to do', async () => {
    const dir = join(root, 'plain');
    const first = await berth(['migrate', '--data-dir', dir]);
    assertAppliedAll(first, new RegExp(`^sqlite ${dir}/berth\\.db: `));
    const db = new DatabaseSync(join(dir, 'berth.db'), { readOnly: true });
    try {
      const names = (db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
      for (const t of TABLES) assert.ok(names.includes(t), `table ${t}`);
    } finally {
      db.close();
    }
    assertUpToDate(await berth(['migrate', '--data-dir', dir]));

    // A server starts on the migrated database as on any other.
    const t = await startTestApp({ dataDir: dir, database: 'sqlite' });
    try {
      assert.equal((await t.fetch('/v2/')).status, 200);
    } finally {
      await t.close();
    }
    assertUpToDate(await berth(['migrate', '--data-dir', dir]));
  });

  test('the database comes from --config and BERTH_* variables, as for serve', async () => {
    const path = join(root, 'elsewhere', 'meta.db');
    const cfg = file('sqlite.yaml', `dataDir: ${join(root, 'unused')}\ndatabase:\n  sqlite:\n    path: ${path}\n`);
    assertAppliedAll(await berth(['migrate', '--config', cfg]), new RegExp(`^sqlite ${path}: `));
    assert.ok(existsSync(path));
    assert.equal(existsSync(join(root, 'unused', 'berth.db')), false);

    const envPath = join(root, 'from-env.db');
    assertAppliedAll(await berth(['migrate'], { BERTH_CONFIG: cfg, BERTH_DATABASE_SQLITE_PATH: envPath }), new RegExp(`^sqlite ${envPath}: `));
  });

  test('an invalid configuration: exit 2 naming the key; an unreachable database: exit 1', async () => {
    const bad = await berth(['migrate', '--config', file('bad.yaml', 'database:\n  driver: postgres\n')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /database\.postgres\.url \(BERTH_DATABASE_POSTGRES_URL\): database\.postgres\.url is required/);

    const down = await berth(['migrate'], { BERTH_DATABASE_DRIVER: 'postgres', BERTH_DATABASE_POSTGRES_URL: 'postgres://berth:s3cret@127.0.0.1:1/berth' });
    assert.equal(down.code, 1);
    assert.match(down.err, /^berth migrate: postgres 127\.0\.0\.1:1\/berth: .*ECONNREFUSED/);
    assert.doesNotMatch(down.err, /s3cret/);

    const flag = await berth(['migrate', '--nonsense']);
    assert.equal(flag.code, 2);
    assert.match(flag.err, /Unknown option '--nonsense'/);
  });

  test('berth migrate --help', async () => {
    const r = await berth(['migrate', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /berth migrate \[flags\] +apply pending database migrations and exit/);
  });
});

describe('berth migrate on PostgreSQL', { skip: POSTGRES_TEST_URL === undefined ? POSTGRES_SKIP_REASON : false }, () => {
  test('applies every migration to an empty database, then finds nothing to do', async () => {
    await withTempPostgresDatabase(async (db) => {
      const cfg = file('pg.yaml', `database:\n  driver: postgres\n  postgres:\n    url: ${db.url}\n`);
      assertAppliedAll(await berth(['migrate', '--config', cfg]), new RegExp(`^postgres [^ ]+/${db.name}: `));
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const r = await client.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = current_schema()");
        const names = r.rows.map((x) => x.table_name);
        for (const t of TABLES) assert.ok(names.includes(t), `table ${t}`);
        const m = await client.query<{ name: string }>('select name from berth_migrations order by name');
        assert.deepEqual(
          m.rows.map((x) => x.name),
          MIGRATIONS,
        );
      } finally {
        await client.end();
      }
      assertUpToDate(await berth(['migrate', '--config', cfg]));
      // The URL can also come from the environment alone.
      assertUpToDate(await berth(['migrate'], { BERTH_DATABASE_DRIVER: 'postgres', BERTH_DATABASE_POSTGRES_URL: db.url }));
    });
  });

  test('runs started at the same time migrate exactly once and all succeed', async () => {
    const db = await createTempPostgresDatabase();
    try {
      const config = loadConfig({ env: { BERTH_DATABASE_DRIVER: 'postgres', BERTH_DATABASE_POSTGRES_URL: db.url, BERTH_DATA_DIR: join(root, 'pg-concurrent') } });
      const runs = await Promise.all([runMigrations(config), runMigrations(config), runMigrations(config)]);
      for (const r of runs) {
        assert.deepEqual(
          r.all.map((m) => m.name),
          MIGRATIONS,
        );
      }
      assert.deepEqual([...new Set(runs.flatMap((r) => r.applied))].sort(), MIGRATIONS);
      assert.deepEqual((await runMigrations(config)).applied, []);
    } finally {
      await db.drop();
    }
  });
});
