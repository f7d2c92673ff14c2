// SQLite through Node's own `node:sqlite` (no native modules), behind Kysely's SQLite dialect.
import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Database } from './schema.ts';
import { migrate } from './migrations/index.ts';
import { MetaStore } from './store.ts';

export interface SqliteOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** `PRAGMA synchronous`: NORMAL (default; durable across process crashes) or FULL (also across power loss). */
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
}

/** Adapts `node:sqlite`'s DatabaseSync to the better-sqlite3 subset Kysely drives, caching prepared statements. */
class NodeSqliteAdapter implements SqliteDatabase {
  private readonly db: DatabaseSync;
  private readonly cache = new Map<string, SqliteStatement>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  close(): void {
    this.cache.clear();
    this.db.close();
  }

  prepare(sqlText: string): SqliteStatement {
    const hit = this.cache.get(sqlText);
    if (hit !== undefined) return hit;
    const stmt: StatementSync = this.db.prepare(sqlText);
    const reader = stmt.columns().length > 0;
    const conv = (params: ReadonlyArray<unknown>): SQLInputValue[] => params.map(toSqlite);
    const wrapped: SqliteStatement = {
      reader,
      all: (params) => stmt.all(...conv(params)),
      run: (params) => {
        const r = stmt.run(...conv(params));
        return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
      },
      iterate: (params) => stmt.iterate(...conv(params)),
    };
    if (this.cache.size > 500) this.cache.clear();
    this.cache.set(sqlText, wrapped);
    return wrapped;
  }
}

function toSqlite(v: unknown): SQLInputValue {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === null || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || v instanceof Uint8Array) return v;
  throw new TypeError(`cannot bind ${typeof v} to SQLite`);
}

export async function openSqlite(opts: SqliteOptions): Promise<MetaStore> {
  const raw = new DatabaseSync(opts.path, { enableForeignKeyConstraints: true, timeout: opts.busyTimeoutMs ?? 5000 });
  if (opts.path !== ':memory:') raw.exec('PRAGMA journal_mode = WAL');
  raw.exec(`PRAGMA synchronous = ${opts.synchronous ?? 'NORMAL'}`);
  raw.exec('PRAGMA foreign_keys = ON');
  const adapter = new NodeSqliteAdapter(raw);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: adapter }) });
  await migrate(db, 'sqlite');
  return new MetaStore(db, 'sqlite', async () => {
    await db.destroy();
  });
}
