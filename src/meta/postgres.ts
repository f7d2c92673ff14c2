// PostgreSQL through `pg`, behind Kysely's PostgreSQL dialect.
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.ts';
import { MetaStore } from './store.ts';
import { migrate } from './migrations/index.ts';

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
}

// BIGINT (int8) as a JavaScript number: berth's integers (sizes, epoch milliseconds, ids) stay below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openPostgres(opts: PostgresOptions): Promise<MetaStore> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // A client that loses its connection (PostgreSQL restarting, a network cut) must not crash the
  // process: idle ones report through the pool, checked-out ones through their own 'error' event.
  // The query that was running fails with its own error, and the pool opens new connections later.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrate(db, 'postgres');
  return new MetaStore(db, 'postgres', async () => {
    await db.destroy();
  });
}
