import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { metaSuite } from './meta.suite.ts';
import { migrationProvider } from './migrations/index.ts';
import { openSqlite } from './sqlite.ts';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-sqlite-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

metaSuite('sqlite (file)', async () => {
  const path = join(dir, `meta-${++n}.db`);
  const meta = await openSqlite({ path });
  return { meta, cleanup: () => meta.close() };
});

metaSuite('sqlite (:memory:)', async () => {
  const meta = await openSqlite({ path: ':memory:' });
  return { meta, cleanup: () => meta.close() };
});

describe('SQLite specifics', () => {
  test('re-opening a database runs no migration again and keeps the data', async () => {
    const path = join(dir, 'reopen.db');
    const first = await openSqlite({ path });
    await first.accounts.ensure('111122223333', 1);
    await first.settings.set('k', 'v');
    await first.close();
    const second = await openSqlite({ path, synchronous: 'FULL' });
    try {
      assert.equal(await second.settings.get('k'), 'v');
      assert.deepEqual(await second.accounts.get('111122223333'), { id: '111122223333', createdAt: 1 });
    } finally {
      await second.close();
    }
    const migrations = Object.keys(await migrationProvider('sqlite').getMigrations()).sort();
    const raw = new DatabaseSync(path);
    try {
      const rows = raw.prepare('select name from berth_migrations order by name').all() as Array<{ name: string }>;
      assert.deepEqual(
        rows.map((r) => r.name),
        migrations,
        'each migration ran exactly once',
      );
      assert.equal((raw.prepare('pragma journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    } finally {
      raw.close();
    }
  });

  test('two stores over one file see each other’s commits', async () => {
    const path = join(dir, 'shared.db');
    const a = await openSqlite({ path });
    const b = await openSqlite({ path });
    try {
      await a.settings.set('from-a', '1');
      assert.equal(await b.settings.get('from-a'), '1');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
