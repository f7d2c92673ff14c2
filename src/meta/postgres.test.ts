// The MetaStore suite over PostgreSQL, when BERTH_TEST_POSTGRES_URL is set. The file works in a
// database of its own (created here, dropped in `after`); each test starts from empty tables.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, freshPostgresMeta, truncateAllTables, useTempPostgresDatabase, withTempPostgresDatabase } from '../../test/helpers/postgres.ts';
import { metaSuite } from './meta.suite.ts';
import { migrationProvider } from './migrations/index.ts';
import { openPostgres } from './postgres.ts';
import type { MetaStore } from './store.ts';

async function migrationNames(meta: MetaStore): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from berth_migrations order by name`.execute(meta.db);
  return rows.map((r) => r.name);
}

if (POSTGRES_TEST_URL === undefined) {
  test('MetaStore suite: postgres', { skip: POSTGRES_SKIP_REASON }, () => undefined);
} else {
  const adminUrl = POSTGRES_TEST_URL;
  const dbUrl = useTempPostgresDatabase(adminUrl);
  metaSuite('postgres', async () => await freshPostgresMeta(dbUrl()));

  describe('PostgreSQL specifics', () => {
    test('re-opening a database runs no migration again and keeps the data', async () => {
      await withTempPostgresDatabase(async ({ url }) => {
        const first = await openPostgres({ url });
        try {
          await first.accounts.ensure('111122223333', 1);
          await first.settings.set('k', 'v');
        } finally {
          await first.close();
        }
        const second = await openPostgres({ url });
        try {
          assert.equal(await second.settings.get('k'), 'v');
          assert.deepEqual(await second.accounts.get('111122223333'), { id: '111122223333', createdAt: 1 });
          assert.deepEqual(await migrationNames(second), Object.keys(await migrationProvider('postgres').getMigrations()).sort(), 'each migration ran exactly once');
        } finally {
          await second.close();
        }
      }, adminUrl);
    });

    test('two concurrent openPostgres() calls on a fresh database both succeed', async () => {
      await withTempPostgresDatabase(async ({ url }) => {
        const results = await Promise.allSettled([openPostgres({ url }), openPostgres({ url }), openPostgres({ url })]);
        const stores = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        try {
          for (const r of results) if (r.status === 'rejected') assert.fail(`openPostgres failed: ${String(r.reason)}`);
          const [a, b] = stores;
          assert.ok(a !== undefined && b !== undefined);
          assert.deepEqual(await migrationNames(a), Object.keys(await migrationProvider('postgres').getMigrations()).sort());
          await a.settings.set('from-a', '1');
          assert.equal(await b.settings.get('from-a'), '1');
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      }, adminUrl);
    });

    test('listings use byte order whatever the database collation', async () => {
      const meta = await openPostgres({ url: dbUrl() });
      try {
        await truncateAllTables(dbUrl());
        const { rows } = await sql<{ collation_name: string | null }>`
          select collation_name from information_schema.columns where table_name = 'tags' and column_name = 'tag'`.execute(meta.db);
        assert.equal(rows[0]?.collation_name, 'C');
      } finally {
        await meta.close();
      }
    });
  });
}
