// `berth migrate`: brings the configured database's schema up to date and exits, for deployments
// that run migrations as a separate step before starting (or upgrading) their processes.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { openMeta, under } from '../app/stores.ts';

export interface MigrationRow {
  name: string;
  /** When it was applied (epoch ms). */
  appliedAt: number;
}

export interface MigrateResult {
  database: string;
  /** Migrations this run applied, in order. */
  applied: string[];
  /** Every migration now recorded in the database, in order. */
  all: MigrationRow[];
}

/** The database a configuration names, for messages: never the password. */
export function describeDatabase(config: Config): string {
  if (config.database.driver === 'postgres') {
    const raw = config.database.postgres.url ?? '';
    try {
      const u = new URL(raw);
      u.password = '';
      return `postgres ${u.host}${u.pathname}`;
    } catch {
      return 'postgres (unparsable url)';
    }
  }
  return `sqlite ${sqlitePath(config)}`;
}

export function sqlitePath(config: Config): string {
  return under(resolve(config.dataDir), config.database.sqlite.path, 'berth.db');
}

/** The migrations recorded in the database (Kysely's bookkeeping table), oldest first. */
export async function recordedMigrations(meta: MetaStore): Promise<MigrationRow[]> {
  const r = await sql<{ name: string; timestamp: string }>`select name, timestamp from berth_migrations order by name`.execute(meta.db);
  return r.rows.map((row) => ({ name: row.name, appliedAt: Date.parse(row.timestamp) }));
}

/**
 * Opens the configured database, which applies every pending migration (on PostgreSQL under the
 * migrator's advisory lock, so concurrent runs and starting processes migrate exactly once), and
 * reports which ones this run applied: those recorded at or after its start.
 */
export async function runMigrations(config: Config, now: () => number = Date.now): Promise<MigrateResult> {
  if (config.database.driver === 'sqlite') mkdirSync(dirname(sqlitePath(config)), { recursive: true, mode: 0o700 });
  const started = now();
  const meta = await openMeta(config);
  try {
    const all = await recordedMigrations(meta);
    const applied = all.filter((m) => m.appliedAt >= started).map((m) => m.name);
    return { database: describeDatabase(config), applied, all };
  } finally {
    await meta.close();
  }
}

export async function migrateCommand(config: Config, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let r: MigrateResult;
  try {
    r = await runMigrations(config);
  } catch (e) {
    err(`berth migrate: ${describeDatabase(config)}: ${(e as Error).message}`);
    return 1;
  }
  const latest = r.all[r.all.length - 1]?.name ?? '(none)';
  if (r.applied.length === 0) {
    out(`${r.database}: schema up to date (${r.all.length} migrations, latest ${latest}); nothing applied`);
    return 0;
  }
  for (const name of r.applied) out(`${r.database}: applied ${name}`);
  out(`${r.database}: ${r.applied.length} migration${r.applied.length === 1 ? '' : 's'} applied; schema at ${latest}`);
  return 0;
}
