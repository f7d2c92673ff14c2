// `berth copy`: copies everything from one deployment's stores into another's, for example from the
// embedded default (SQLite + filesystem) to scale-out storage (PostgreSQL + S3). It works on the
// stores, not through the registry API (docs/adr/0007-moving-deployments.md):
//
// 1. Blobs: every `blobs/` key of the source storage is streamed to the destination, its digest
//    computed on the way; a blob whose bytes do not match its digest is reported and not stored.
//    A blob the destination already holds with the same size is skipped.
// 2. Metadata: every table, in foreign-key order, read from one consistent snapshot of the source
//    and keeping ids; rows missing in the destination are inserted, rows that differ are updated,
//    identical rows are left alone. Upload sessions in progress and leases are not copied.
// 3. PostgreSQL sequences are moved past the copied ids.
//
// Every step is idempotent, so an interrupted copy is finished by running it again; running it
// again after stopping the source picks up what changed while a first pass ran against a live one.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { loadConfig, type Config } from '../config/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { blobKey, type ObjectWriter, type StorageDriver } from '../storage/index.ts';
import { tryParseDigest, type ParsedDigest } from '../core/digest.ts';
import { openMeta, openStorage, under } from '../app/stores.ts';
import { loadKeyring, type Keyring } from '../auth/index.ts';
import { describeDatabase, sqlitePath } from './migrate.ts';

type Row = Record<string, unknown>;
type AnyDb = Record<string, Row>;

/** A table copied row by row. */
interface CopiedTable {
  readonly name: string;
  /** Primary-key columns: rows are matched on them and read in their order. */
  readonly key: readonly string[];
  /** Rows per batch (and per destination transaction). */
  readonly batch: number;
  /**
   * `sync`: insert missing rows and update rows that differ (the source wins).
   * `insert`: insert missing rows only; a row colliding with one already there is skipped.
   */
  readonly mode: 'sync' | 'insert';
  /** Rewrites a source row before it is compared and written. */
  readonly transform?: (row: Row) => Row;
  /** Source rows that are not copied. */
  readonly skip?: (row: Row) => boolean;
}

/** A table deliberately not copied, and why (printed in the summary). */
interface LeftTable {
  readonly name: string;
  readonly notCopied: string;
}

type TablePlan = CopiedTable | LeftTable;

function isLeft(t: TablePlan): t is LeftTable {
  return 'notCopied' in t;
}

/**
 * Every table of the metadata database (src/meta/schema.ts), parents before children. A table the
 * database has but this list lacks makes the copy refuse to start: a new table needs a decision here.
 */
export const COPY_PLAN: readonly TablePlan[] = [
  // The master key is each deployment's own (secrets are re-sealed for the destination's, below).
  { name: 'settings', key: ['key'], batch: 500, mode: 'sync', skip: (r) => r.key === 'master_key' },
  { name: 'accounts', key: ['id'], batch: 500, mode: 'sync' },
  { name: 'access_keys', key: ['access_key_id'], batch: 500, mode: 'sync' },
  { name: 'repositories', key: ['id'], batch: 500, mode: 'sync' },
  { name: 'blobs', key: ['digest'], batch: 500, mode: 'sync' },
  { name: 'repository_blobs', key: ['repository_id', 'digest'], batch: 500, mode: 'sync' },
  // Garbage-collection candidates (ADR 0014): the destination's collector decides them; without
  // them, garbage the source had not collected yet would stay until a `berth gc --full`.
  { name: 'gc_queue', key: ['kind', 'repository_id', 'digest'], batch: 500, mode: 'sync' },
  // Manifest bodies can reach a few MiB each: smaller batches bound memory.
  { name: 'manifests', key: ['repository_id', 'digest'], batch: 50, mode: 'sync' },
  { name: 'manifest_references', key: ['repository_id', 'parent_digest', 'child_digest', 'kind'], batch: 500, mode: 'sync' },
  { name: 'tags', key: ['repository_id', 'tag'], batch: 500, mode: 'sync' },
  // Scans keep their inventories (gzip JSON, up to a few MiB): small batches, as for manifests.
  { name: 'image_scans', key: ['repository_id', 'digest'], batch: 50, mode: 'sync' },
  { name: 'pull_time_exclusions', key: ['account_id', 'principal_arn'], batch: 500, mode: 'sync' },
  { name: 'repository_tags', key: ['repository_id', 'key'], batch: 500, mode: 'sync' },
  { name: 'repository_policies', key: ['repository_id', 'kind'], batch: 500, mode: 'sync' },
  { name: 'account_settings', key: ['account_id', 'name'], batch: 500, mode: 'sync' },
  { name: 'account_policies', key: ['account_id', 'kind'], batch: 500, mode: 'sync' },
  { name: 'iam_principals', key: ['account_id', 'kind', 'name'], batch: 500, mode: 'sync' },
  { name: 'iam_group_members', key: ['account_id', 'group_name', 'user_name'], batch: 500, mode: 'sync' },
  { name: 'iam_policies', key: ['account_id', 'name'], batch: 500, mode: 'sync' },
  { name: 'iam_attachments', key: ['account_id', 'kind', 'name', 'policy_arn'], batch: 500, mode: 'sync' },
  { name: 'iam_inline_policies', key: ['account_id', 'kind', 'name', 'policy_name'], batch: 500, mode: 'sync' },
  { name: 'iam_oidc_providers', key: ['account_id', 'issuer'], batch: 500, mode: 'sync' },
  { name: 'sts_sessions', notCopied: 'temporary credentials last hours at most: their holders assume their roles again' },
  { name: 'creation_templates', key: ['account_id', 'prefix'], batch: 500, mode: 'sync' },
  { name: 'vuln_advisories', key: ['id'], batch: 200, mode: 'sync' },
  { name: 'vuln_packages', key: ['family', 'name_key', 'advisory_id'], batch: 500, mode: 'sync' },
  { name: 'vuln_sources', key: ['name'], batch: 500, mode: 'sync' },
  // Upstream credentials are sealed like access-key secrets (re-sealed below).
  { name: 'secrets', key: ['account_id', 'name'], batch: 500, mode: 'sync' },
  { name: 'pull_through_cache_rules', key: ['account_id', 'prefix'], batch: 500, mode: 'sync' },
  { name: 'pull_through_cache_checks', key: ['repository_id', 'tag'], batch: 500, mode: 'sync' },
  { name: 'replication_configurations', key: ['account_id'], batch: 500, mode: 'sync' },
  { name: 'replication_statuses', key: ['repository_id', 'digest', 'region', 'registry_id'], batch: 500, mode: 'sync' },
  { name: 'uploads', notCopied: 'upload sessions in progress are not copied: their clients start those uploads again' },
  { name: 'events', key: ['id'], batch: 500, mode: 'sync' },
  // Pending work keeps its id; a job claimed by a source process becomes pending again, and a job
  // that collides with one the destination already has queued (the same dedupe key) is skipped.
  { name: 'jobs', key: ['id'], batch: 500, mode: 'insert', transform: (r) => (r.status === 'running' ? { ...r, status: 'pending', lease_owner: null, lease_until: null } : r) },
  { name: 'leases', notCopied: 'leases name processes of the source deployment; the destination elects its own' },
];

export interface Stores {
  meta: MetaStore;
  storage: StorageDriver;
  /**
   * The deployment's keyring. Access-key secrets are sealed with it, so when both sides give one,
   * each secret is opened with the source's and sealed again with the destination's. Without them
   * sealed secrets are copied as they are (right only when both deployments share a master key).
   */
  keyring?: Keyring;
}

/** A row rewrite that may look at the destination's current row. */
type Rewrite = (row: Row, existing: Row | undefined) => Row;

export interface CopyOptions {
  /** Progress and summary lines. */
  log?: (line: string) => void;
  /** Blobs copied at the same time. */
  concurrency?: number;
  /** How often blob progress is printed. */
  progressIntervalMs?: number;
  now?: () => number;
}

export interface TableReport {
  table: string;
  inserted: number;
  updated: number;
  unchanged: number;
  /** `insert` tables: rows not written because they collide with destination rows. */
  skipped: number;
}

export interface BlobProblem {
  key: string;
  digest?: string;
  reason: string;
}

export interface CopyReport {
  sourceAccount: string | undefined;
  tables: TableReport[];
  notCopied: Array<{ table: string; rows: number; reason: string }>;
  blobs: {
    copied: number;
    copiedBytes: number;
    skipped: number;
    skippedBytes: number;
    /** Blobs whose bytes do not match their digest: not copied. */
    corrupt: BlobProblem[];
    /** Keys under blobs/ that do not name a blob: not copied (a warning only). */
    unrecognised: string[];
  };
  /** Blob rows copied into the destination whose bytes it does not hold (pushed during the copy). */
  missing: string[];
  /** PostgreSQL sequences moved past the copied ids: `table.column` and the next value. */
  sequences: Array<{ column: string; next: number }>;
  /** Whether everything was copied without a problem. */
  ok: boolean;
}

/** The copy cannot start (the stores do not fit together); nothing was written. */
export class CopyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRefusedError';
  }
}

/**
 * Blob rows created this long before the blob pass started are checked in the destination
 * afterwards: a blob pushed to a live source during the copy may be in the metadata but not in the
 * listing. Older ones were stored before the listing began (bytes are stored before their row).
 */
const RECENT_MS = 10 * 60_000;

function anyDb(db: unknown): Kysely<AnyDb> {
  return db as Kysely<AnyDb>;
}

async function tableNames(meta: MetaStore): Promise<string[]> {
  const r =
    meta.dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(meta.db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(meta.db);
  return r.rows.map((x) => x.name).filter((n) => !n.startsWith('berth_migrations'));
}

// -- values -----------------------------------------------------------------------------------------

/** A value as the destination driver takes it: binary columns as Buffers, integers as numbers. */
function portable(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function portableRow(r: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) out[k] = portable(v);
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return Number(a) === Number(b);
  return false;
}

function sameRow(source: Row, dest: Row): boolean {
  for (const [k, v] of Object.entries(source)) if (!sameValue(v, dest[k])) return false;
  return true;
}

function keyOf(r: Row, key: readonly string[]): string {
  return JSON.stringify(key.map((k) => portable(r[k])));
}

function columns(cols: readonly string[]): RawBuilder<unknown> {
  return sql`(${sql.join(cols.map((c) => sql.ref(c)))})`;
}

function tuple(values: readonly unknown[]): RawBuilder<unknown> {
  return sql`(${sql.join(values.map(portable))})`;
}

// -- sizes and progress -----------------------------------------------------------------------------

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i] ?? ''}`;
}

// -- blobs ------------------------------------------------------------------------------------------

/** The digest a `blobs/<algorithm>/<first two hex>/<hex>` key names, or null. */
export function digestOfBlobKey(key: string): ParsedDigest | null {
  const parts = key.split('/');
  if (parts.length !== 4 || parts[0] !== 'blobs') return null;
  const d = tryParseDigest(`${parts[1] ?? ''}:${parts[3] ?? ''}`);
  if (d === null || parts[2] !== d.hex.slice(0, 2) || blobKey(d.digest) !== key) return null;
  return d;
}

type BlobOutcome = { kind: 'copied' | 'skipped'; bytes: number } | { kind: 'corrupt'; problem: BlobProblem } | { kind: 'unrecognised' } | { kind: 'gone' };

async function copyBlob(src: StorageDriver, dst: StorageDriver, key: string): Promise<BlobOutcome> {
  const digest = digestOfBlobKey(key);
  if (digest === null) return { kind: 'unrecognised' };
  const info = await src.stat(key);
  if (info === null) return { kind: 'gone' };
  const have = await dst.stat(key);
  if (have !== null && have.size === info.size) return { kind: 'skipped', bytes: info.size };

  const hash = createHash(digest.algorithm);
  let bytes = 0;
  const tap = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const reader = await src.reader(key);
  let writer: ObjectWriter;
  try {
    writer = await dst.writer(key);
  } catch (e) {
    reader.destroy();
    throw e;
  }
  try {
    await pipeline(reader, tap, writer);
  } catch (e) {
    await writer.cancel().catch(() => undefined);
    throw e;
  }
  const actual = `${digest.algorithm}:${hash.digest('hex')}`;
  if (actual !== digest.digest) {
    await writer.cancel();
    return { kind: 'corrupt', problem: { key, digest: digest.digest, reason: `its ${bytes} bytes have digest ${actual}` } };
  }
  await writer.commit();
  return { kind: 'copied', bytes };
}

async function copyBlobs(src: StorageDriver, dst: StorageDriver, report: CopyReport, opts: Required<Pick<CopyOptions, 'concurrency' | 'progressIntervalMs'>>, log: (s: string) => void): Promise<void> {
  const b = report.blobs;
  const iterator = src.list('blobs/')[Symbol.asyncIterator]();
  // One next() at a time, whatever kind of iterator the driver returns.
  let pending: Promise<IteratorResult<string>> = Promise.resolve({ done: false, value: '' });
  const next = (): Promise<IteratorResult<string>> => {
    pending = pending.then(async () => await iterator.next());
    return pending;
  };
  let failure: { error: unknown } | null = null;
  const progress = (): string =>
    `blobs: ${b.copied} copied (${formatBytes(b.copiedBytes)}), ${b.skipped} already there (${formatBytes(b.skippedBytes)})` +
    (b.corrupt.length > 0 ? `, ${b.corrupt.length} corrupt` : '') +
    (b.unrecognised.length > 0 ? `, ${b.unrecognised.length} unrecognised keys` : '');
  let last = '';
  const timer = setInterval(() => {
    const line = progress();
    if (line !== last) log(`  ${line}`);
    last = line;
  }, opts.progressIntervalMs);
  timer.unref();

  const worker = async (): Promise<void> => {
    while (failure === null) {
      const r = await next();
      if (r.done === true) return;
      const key = r.value;
      const outcome = await copyBlob(src, dst, key);
      switch (outcome.kind) {
        case 'copied':
          b.copied++;
          b.copiedBytes += outcome.bytes;
          break;
        case 'skipped':
          b.skipped++;
          b.skippedBytes += outcome.bytes;
          break;
        case 'corrupt':
          b.corrupt.push(outcome.problem);
          log(`  blob ${outcome.problem.digest ?? key} is corrupt in the source (${outcome.problem.reason}): not copied`);
          break;
        case 'unrecognised':
          b.unrecognised.push(key);
          log(`  ${key} does not name a blob: not copied`);
          break;
        case 'gone':
          log(`  ${key} was deleted from the source during the copy`);
          break;
      }
    }
  };
  try {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        try {
          await worker();
        } catch (e) {
          // The other workers stop after their current blob; the first error is reported.
          failure ??= { error: e };
        }
      }),
    );
  } finally {
    clearInterval(timer);
    await iterator.return?.().catch(() => undefined);
  }
  const failed = failure as { error: unknown } | null;
  if (failed !== null) throw failed.error;
  log(`  ${progress()}`);
}

// -- rows -------------------------------------------------------------------------------------------

async function copyTable(source: Kysely<AnyDb>, dest: MetaStore, t: CopiedTable, log: (s: string) => void, progressIntervalMs: number, rewrite?: Rewrite): Promise<TableReport> {
  const out: TableReport = { table: t.name, inserted: 0, updated: 0, unchanged: 0, skipped: 0 };
  const order = t.key;
  let after: unknown[] | undefined;
  let lastProgress = Date.now();
  for (;;) {
    let q = source.selectFrom(t.name).selectAll();
    if (after !== undefined) q = q.where(sql<boolean>`${columns(order)} > ${tuple(after)}`);
    for (const k of order) q = q.orderBy(k);
    const raw = await q.limit(t.batch).execute();
    if (raw.length === 0) break;
    const rows = raw.filter((r) => t.skip?.(r) !== true).map((r) => portableRow(t.transform === undefined ? r : t.transform(r)));

    if (rows.length > 0) await dest.transaction(async (tx) => {
      const db = anyDb(tx.db);
      const existing = await db
        .selectFrom(t.name)
        .selectAll()
        .where(sql<boolean>`${columns(t.key)} in (${sql.join(rows.map((r) => tuple(t.key.map((k) => r[k]))))})`)
        .execute();
      const byKey = new Map(existing.map((r) => [keyOf(r, t.key), r]));
      const missing: Row[] = [];
      for (const given of rows) {
        const e = byKey.get(keyOf(given, t.key));
        const r = rewrite === undefined ? given : rewrite(given, e);
        if (e === undefined) missing.push(r);
        else if (sameRow(r, e)) out.unchanged++;
        else if (t.mode === 'insert') out.skipped++;
        else {
          const set: Row = {};
          for (const [c, v] of Object.entries(r)) if (!t.key.includes(c)) set[c] = v;
          await db
            .updateTable(t.name)
            .set(set)
            .where(sql<boolean>`${columns(t.key)} = ${tuple(t.key.map((k) => r[k]))}`)
            .execute();
          out.updated++;
        }
      }
      if (missing.length > 0) {
        if (t.mode === 'insert') {
          const r = await db
            .insertInto(t.name)
            .values(missing)
            .onConflict((oc) => oc.doNothing())
            .executeTakeFirst();
          const n = Number(r.numInsertedOrUpdatedRows ?? 0n);
          out.inserted += n;
          out.skipped += missing.length - n;
        } else {
          await db.insertInto(t.name).values(missing).execute();
          out.inserted += missing.length;
        }
      }
    });

    const lastRow = raw[raw.length - 1] as Row;
    after = order.map((k) => lastRow[k]);
    if (Date.now() - lastProgress >= progressIntervalMs) {
      lastProgress = Date.now();
      log(`  ${t.name}: ${out.inserted + out.updated + out.unchanged + out.skipped} rows so far`);
    }
    if (raw.length < t.batch) break;
  }
  return out;
}

/** The columns holding values sealed with the deployment's master key, by table. */
const SEALED_COLUMNS: Readonly<Record<string, string>> = { access_keys: 'secret_enc', secrets: 'value_enc' };

/**
 * Rows that cannot be copied byte for byte: the master key itself is each deployment's own (never
 * copied), and sealed values (access-key secrets, upstream credentials) are re-sealed for the
 * destination's keyring, keeping the destination's sealed value when it already holds the same
 * secret (so a second run changes nothing).
 */
function rewriteFor(table: string, from: Stores, to: Stores): Rewrite | undefined {
  const column = SEALED_COLUMNS[table];
  if (column === undefined || from.keyring === undefined || to.keyring === undefined) return undefined;
  const source = from.keyring;
  const dest = to.keyring;
  return (row, existing) => {
    const sealed = row[column];
    if (typeof sealed !== 'string') return row;
    const secret = source.decrypt(sealed);
    const there = existing?.[column];
    if (typeof there === 'string') {
      try {
        if (dest.decrypt(there) === secret) return { ...row, [column]: there };
      } catch {
        // sealed with another key: seal it again below
      }
    }
    return { ...row, [column]: dest.encrypt(secret) };
  };
}

/** Runs `fn` over one consistent, read-only snapshot of the source database. */
async function inSnapshot<T>(meta: MetaStore, fn: (db: Kysely<AnyDb>) => Promise<T>): Promise<T> {
  if (meta.dialect === 'postgres') {
    return await meta.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => await fn(anyDb(trx)));
  }
  // SQLite: a read transaction sees one snapshot of the WAL from its first read on.
  return await meta.transaction(async (tx) => await fn(anyDb(tx.db)));
}

async function resetSequences(meta: MetaStore): Promise<Array<{ column: string; next: number }>> {
  if (meta.dialect !== 'postgres') return []; // SQLite's AUTOINCREMENT follows explicitly inserted ids by itself.
  const cols = await sql<{ table_name: string; column_name: string; seq: string }>`
    select table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) as seq
      from information_schema.columns
     where table_schema = current_schema() and pg_get_serial_sequence(quote_ident(table_name), column_name) is not null
     order by table_name, column_name`.execute(meta.db);
  const out: Array<{ column: string; next: number }> = [];
  for (const c of cols.rows) {
    // Past the highest id copied, and never backwards (the destination may have handed out more).
    const r = await sql<{ next: number | string }>`
      select setval(${c.seq}::regclass,
                    greatest((select coalesce(max(${sql.ref(c.column_name)}), 0) from ${sql.table(c.table_name)}),
                             coalesce(pg_sequence_last_value(${c.seq}::regclass), 0)) + 1,
                    false) as next`.execute(meta.db);
    out.push({ column: `${c.table_name}.${c.column_name}`, next: Number(r.rows[0]?.next ?? 0) });
  }
  return out;
}

// -- the copy ---------------------------------------------------------------------------------------

/** Checks that the two deployments fit together; throws CopyRefusedError otherwise. */
async function preflight(from: Stores, to: Stores): Promise<{ sourceAccount: string | undefined; destAccount: string | undefined }> {
  const known = new Set(COPY_PLAN.map((t) => t.name));
  for (const [side, meta] of [
    ['source', from.meta],
    ['destination', to.meta],
  ] as const) {
    const unknown = (await tableNames(meta)).filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new CopyRefusedError(`the ${side} database has tables berth copy does not know (${unknown.join(', ')}): this berth is older than the database, or COPY_PLAN in src/cli/copy.ts needs them`);
    }
  }
  const sourceAccount = await from.meta.settings.get('default_account_id');
  const destAccount = await to.meta.settings.get('default_account_id');
  if (sourceAccount !== undefined && destAccount !== undefined && sourceAccount !== destAccount) {
    throw new CopyRefusedError(
      `the destination's default account is ${destAccount} but the source's is ${sourceAccount}: berth copy moves a deployment into an empty one or into an earlier copy of itself, never merges two`,
    );
  }
  return { sourceAccount, destAccount };
}

/**
 * Copies every blob and every metadata row from `from` into `to` (see the top of this file). Throws
 * CopyRefusedError, before writing anything, when the stores do not fit together. Store errors
 * (a connection lost) propagate; run it again to finish.
 */
export async function copyDeployment(from: Stores, to: Stores, opts: CopyOptions = {}): Promise<CopyReport> {
  const log = opts.log ?? ((): void => undefined);
  const now = opts.now ?? Date.now;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const progressIntervalMs = opts.progressIntervalMs ?? 5000;

  const { sourceAccount, destAccount } = await preflight(from, to);
  log(`source: default account ${sourceAccount ?? '(none: never started)'}; destination: ${destAccount === undefined ? 'empty' : `default account ${destAccount}, a copy made earlier is brought up to date`}`);

  const report: CopyReport = {
    sourceAccount,
    tables: [],
    notCopied: [],
    blobs: { copied: 0, copiedBytes: 0, skipped: 0, skippedBytes: 0, corrupt: [], unrecognised: [] },
    missing: [],
    sequences: [],
    ok: false,
  };

  // Blobs first: a metadata row never reaches the destination before the bytes it names.
  const blobPassStarted = now();
  log(`blobs: copying from ${from.storage.name} storage to ${to.storage.name} storage, ${concurrency} at a time, digests checked`);
  await copyBlobs(from.storage, to.storage, report, { concurrency, progressIntervalMs }, log);

  log(`metadata: copying from ${from.meta.dialect} to ${to.meta.dialect}`);
  await inSnapshot(from.meta, async (source) => {
    for (const t of COPY_PLAN) {
      if (isLeft(t)) {
        const r = await source.selectFrom(t.name).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
        const rows = Number(r.n);
        report.notCopied.push({ table: t.name, rows, reason: t.notCopied });
        log(`  ${t.name}: ${rows} row${rows === 1 ? '' : 's'} not copied (${t.notCopied})`);
        continue;
      }
      const tr = await copyTable(source, to.meta, t, log, progressIntervalMs, rewriteFor(t.name, from, to));
      report.tables.push(tr);
      log(`  ${t.name}: ${tr.inserted} inserted, ${tr.updated} updated, ${tr.unchanged} unchanged${tr.skipped > 0 ? `, ${tr.skipped} skipped (already queued there)` : ''}`);
    }
  });

  report.sequences = await resetSequences(to.meta);
  for (const s of report.sequences) log(`  sequence of ${s.column}: next ${s.next}`);

  // Blobs pushed to a live source during the blob pass may be in the metadata but not in the listing.
  const corrupt = new Set(report.blobs.corrupt.map((c) => c.digest));
  const recent = await to.meta.db.selectFrom('blobs').select('digest').where('created_at', '>=', blobPassStarted - RECENT_MS).execute();
  for (const r of recent) {
    if (corrupt.has(r.digest)) continue;
    const d = tryParseDigest(r.digest);
    if (d !== null && (await to.storage.stat(blobKey(d.digest))) === null) report.missing.push(r.digest);
  }
  if (report.missing.length > 0) {
    log(`  ${report.missing.length} blobs recorded in the metadata are not in the destination storage (pushed during the copy?): stop writes to the source and run berth copy again`);
  }

  // Keys under blobs/ that name no blob (stray files) are left behind with a warning, not a failure.
  report.ok = report.blobs.corrupt.length === 0 && report.missing.length === 0;
  for (const line of summary(report)) log(line);
  return report;
}

export function summary(r: CopyReport): string[] {
  const lines = ['', 'summary:'];
  const w = Math.max(...r.tables.map((t) => t.table.length), ...r.notCopied.map((t) => t.table.length), 5);
  lines.push(`  ${'table'.padEnd(w)}  ${'inserted'.padStart(9)} ${'updated'.padStart(9)} ${'unchanged'.padStart(9)} ${'skipped'.padStart(9)}`);
  for (const t of r.tables) {
    lines.push(`  ${t.table.padEnd(w)}  ${String(t.inserted).padStart(9)} ${String(t.updated).padStart(9)} ${String(t.unchanged).padStart(9)} ${String(t.skipped).padStart(9)}`);
  }
  for (const t of r.notCopied) lines.push(`  ${t.table.padEnd(w)}  not copied (${t.rows} row${t.rows === 1 ? '' : 's'}): ${t.reason}`);
  const b = r.blobs;
  lines.push(`  blobs: ${b.copied} copied (${formatBytes(b.copiedBytes)}), ${b.skipped} skipped as already there (${formatBytes(b.skippedBytes)})`);
  for (const c of b.corrupt) lines.push(`  CORRUPT in the source, not copied: ${c.digest ?? c.key}: ${c.reason}`);
  for (const k of b.unrecognised) lines.push(`  ignored, not a blob key: ${k}`);
  for (const d of r.missing) lines.push(`  MISSING in the destination storage: ${d}`);
  lines.push(
    r.ok
      ? '  done: the destination holds everything the source held'
      : '  finished WITH PROBLEMS (above): corrupt source blobs need to be pushed again; missing ones are copied by running berth copy again',
  );
  return lines;
}

// -- the command ------------------------------------------------------------------------------------

/**
 * The environment for the --from configuration: BERTH_FROM_<KEY> variables as BERTH_<KEY>; plain
 * BERTH_* variables belong to the destination (--to) and are not applied to the source.
 */
export function sourceEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('BERTH_FROM_')) out[`BERTH_${k.slice('BERTH_FROM_'.length)}`] = v;
  return out;
}

function databaseIdentity(c: Config): string {
  if (c.database.driver === 'sqlite') return `sqlite:${sqlitePath(c)}`;
  try {
    const u = new URL(c.database.postgres.url ?? '');
    return `postgres:${u.hostname}:${u.port === '' ? '5432' : u.port}${u.pathname}`;
  } catch {
    return `postgres:${c.database.postgres.url ?? ''}`;
  }
}

function describeStorage(c: Config): string {
  if (c.storage.driver === 's3') return `s3 ${c.storage.s3.endpoint ?? 'aws'} bucket ${c.storage.s3.bucket ?? ''}${c.storage.s3.prefix === '' ? '' : ` prefix ${c.storage.s3.prefix}`}`;
  return `filesystem ${under(resolve(c.dataDir), c.storage.filesystem.root, 'storage')}`;
}

export const COPY_USAGE = `usage: berth copy --from FROM.yaml --to TO.yaml [--concurrency N]
  Copies every blob and metadata row of the deployment FROM.yaml describes into the one TO.yaml
  describes. BERTH_* environment variables apply to TO.yaml; BERTH_FROM_* ones (BERTH_FROM_DATABASE_POSTGRES_URL, ...)
  to FROM.yaml. Stop writes to the source for an exact copy; running it again is safe and copies what changed.
  Exit status: 0 everything copied, 1 finished with problems (corrupt or missing blobs, listed), 2 refused.`;

export async function copyCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    out(COPY_USAGE);
    return 0;
  }
  if (values.from === undefined || values.to === undefined) {
    err(COPY_USAGE);
    return 2;
  }
  const concurrency = values.concurrency === undefined ? 4 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    err(`berth copy: --concurrency must be an integer from 1 to 64\n${COPY_USAGE}`);
    return 2;
  }
  const fromConfig = loadConfig({ file: values.from, env: sourceEnv(env) });
  const toConfig = loadConfig({ file: values.to, env });
  if (databaseIdentity(fromConfig) === databaseIdentity(toConfig)) {
    err(`berth copy: ${values.from} and ${values.to} name the same database (${describeDatabase(toConfig)})`);
    return 2;
  }
  if (fromConfig.database.driver === 'sqlite' && !existsSync(sqlitePath(fromConfig))) {
    err(`berth copy: the source database ${sqlitePath(fromConfig)} does not exist (is dataDir in ${values.from} right?)`);
    return 2;
  }
  if (toConfig.database.driver === 'sqlite') mkdirSync(dirname(sqlitePath(toConfig)), { recursive: true, mode: 0o700 });
  if (toConfig.storage.driver === 'filesystem') mkdirSync(resolve(toConfig.dataDir), { recursive: true, mode: 0o700 });

  out(`from: ${describeDatabase(fromConfig)}, ${describeStorage(fromConfig)}`);
  out(`to:   ${describeDatabase(toConfig)}, ${describeStorage(toConfig)}`);
  const opened: MetaStore[] = [];
  try {
    const fromMeta = await openMeta(fromConfig);
    opened.push(fromMeta);
    const sourceAccount = await fromMeta.settings.get('default_account_id');
    if (toConfig.accountId !== undefined && sourceAccount !== undefined && toConfig.accountId !== sourceAccount) {
      err(`berth copy: refused: ${values.to} sets accountId ${toConfig.accountId} but the source's default account is ${sourceAccount}, so berth would not start on the copy: set accountId to ${sourceAccount} there (or remove it)`);
      return 2;
    }
    const toMeta = await openMeta(toConfig);
    opened.push(toMeta);
    const fromStorage = await openStorage(fromConfig);
    const toStorage = await openStorage(toConfig);
    await toStorage.check();
    const fromKeyring = await loadKeyring({ configured: fromConfig.auth.masterKey, dataDir: resolve(fromConfig.dataDir), meta: fromMeta });
    const toKeyring = await loadKeyring({ configured: toConfig.auth.masterKey, dataDir: resolve(toConfig.dataDir), meta: toMeta });
    const report = await copyDeployment({ meta: fromMeta, storage: fromStorage, keyring: fromKeyring }, { meta: toMeta, storage: toStorage, keyring: toKeyring }, { log: out, concurrency });
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof CopyRefusedError) {
      err(`berth copy: refused: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    for (const m of opened.reverse()) await m.close().catch(() => undefined);
  }
}
