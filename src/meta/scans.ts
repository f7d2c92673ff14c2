// Vulnerability data and image scans. Advisories are OSV records kept as imported, indexed by the
// packages they name (ecosystem family + normalised name); a data generation counter moves with
// every import that changed something, so stored inventories can be evaluated again (continuous
// scanning) without reading a layer. Scans keep their inventory and findings as gzip JSON, opaque
// here: src/scan gives them their shape.
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql, type Kysely } from 'kysely';
import type { Database, ImageScansTable } from './schema.ts';

type Db = Kysely<Database>;

const GENERATION_KEY = 'vulndb.generation';
const UPDATED_KEY = 'vulndb.updated_at';

export interface AdvisoryRow {
  id: string;
  modified: string;
  withdrawn: boolean;
  /** The OSV record, JSON text. */
  record: string;
  /** Package keys it names: `family` (the ecosystem before `:`) and the normalised name. */
  packages: ReadonlyArray<{ family: string; nameKey: string }>;
}

export interface VulnSource {
  name: string;
  location: string;
  records: number;
  errors: number;
  importedAt: number;
}

export class VulnStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Stores advisories (replacing earlier versions with the same id unless they are as recent);
   * returns how many were new or changed.
   */
  async upsert(source: string, rows: readonly AdvisoryRow[], now: number): Promise<number> {
    if (rows.length === 0) return 0;
    const existing = new Map<string, string>();
    for (let i = 0; i < rows.length; i += 500) {
      const ids = rows.slice(i, i + 500).map((r) => r.id);
      for (const r of await this.db.selectFrom('vuln_advisories').select(['id', 'modified', 'record']).where('id', 'in', ids).execute()) existing.set(r.id, r.record);
    }
    let changed = 0;
    for (const r of rows) {
      const before = existing.get(r.id);
      if (before === r.record) continue;
      changed++;
      if (before !== undefined) {
        await this.db.deleteFrom('vuln_packages').where('advisory_id', '=', r.id).execute();
        await this.db.updateTable('vuln_advisories').set({ source, modified: r.modified, withdrawn: r.withdrawn ? 1 : 0, record: r.record, imported_at: now }).where('id', '=', r.id).execute();
      } else {
        await this.db.insertInto('vuln_advisories').values({ id: r.id, source, modified: r.modified, withdrawn: r.withdrawn ? 1 : 0, record: r.record, imported_at: now }).execute();
      }
      const keys = new Map(r.packages.map((p) => [`${p.family}\u0000${p.nameKey}`, p]));
      const values = [...keys.values()].map((p) => ({ family: p.family, name_key: p.nameKey, advisory_id: r.id }));
      for (let i = 0; i < values.length; i += 200) await this.db.insertInto('vuln_packages').values(values.slice(i, i + 200)).execute();
    }
    return changed;
  }

  /** The records (JSON text) naming any of `nameKeys` in the ecosystem family, withdrawn ones left out. */
  async candidates(family: string, nameKeys: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const unique = [...new Set(nameKeys)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('vuln_packages as p')
        .innerJoin('vuln_advisories as a', 'a.id', 'p.advisory_id')
        .select(['p.name_key', 'a.record'])
        .where('p.family', '=', family)
        .where('p.name_key', 'in', unique.slice(i, i + 500))
        .where('a.withdrawn', '=', 0)
        .execute();
      for (const r of rows) {
        const list = out.get(r.name_key) ?? [];
        list.push(r.record);
        out.set(r.name_key, list);
      }
    }
    return out;
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('vuln_advisories').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async putSource(s: VulnSource): Promise<void> {
    await this.db
      .insertInto('vuln_sources')
      .values({ name: s.name, location: s.location, records: s.records, errors: s.errors, imported_at: s.importedAt })
      .onConflict((oc) => oc.column('name').doUpdateSet({ location: s.location, records: s.records, errors: s.errors, imported_at: s.importedAt }))
      .execute();
  }

  async sources(): Promise<VulnSource[]> {
    const rows = await this.db.selectFrom('vuln_sources').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, location: r.location, records: Number(r.records), errors: Number(r.errors), importedAt: Number(r.imported_at) }));
  }

  /** The data generation (0: never imported) and when the data last changed. */
  async generation(): Promise<{ generation: number; updatedAt: number | undefined }> {
    const rows = await this.db.selectFrom('settings').select(['key', 'value']).where('key', 'in', [GENERATION_KEY, UPDATED_KEY]).execute();
    const get = (k: string): string | undefined => rows.find((r) => r.key === k)?.value;
    const updated = get(UPDATED_KEY);
    return { generation: Number(get(GENERATION_KEY) ?? 0), updatedAt: updated === undefined ? undefined : Number(updated) };
  }

  /** Moves the data generation on (after an import that changed advisories); returns the new one. */
  async bumpGeneration(now: number): Promise<number> {
    const { generation } = await this.generation();
    const next = generation + 1;
    for (const [key, value] of [
      [GENERATION_KEY, String(next)],
      [UPDATED_KEY, String(now)],
    ] as const) {
      await this.db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
    }
    return next;
  }
}

export type ScanStatusValue = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED' | 'UNSUPPORTED_IMAGE';

export interface ImageScan<I = unknown, F = unknown> {
  repositoryId: number;
  digest: string;
  scanType: 'BASIC' | 'ENHANCED';
  status: ScanStatusValue;
  description: string | null;
  startedAt: number;
  completedAt: number | null;
  generation: number;
  dataUpdatedAt: number | null;
  counts: Record<string, number> | null;
  inventory: I | null;
  findings: F | null;
}

const pack = (v: unknown): Uint8Array | null => (v === null || v === undefined ? null : gzipSync(JSON.stringify(v)));
const unpack = (b: Uint8Array | null): unknown => (b === null ? null : JSON.parse(gunzipSync(b).toString('utf8')));

function toScan(r: ImageScansTable, withBodies: boolean): ImageScan {
  return {
    repositoryId: Number(r.repository_id),
    digest: r.digest,
    scanType: r.scan_type as 'BASIC' | 'ENHANCED',
    status: r.status as ScanStatusValue,
    description: r.description,
    startedAt: Number(r.started_at),
    completedAt: r.completed_at === null ? null : Number(r.completed_at),
    generation: Number(r.generation),
    dataUpdatedAt: r.data_updated_at === null ? null : Number(r.data_updated_at),
    counts: r.counts === null ? null : (JSON.parse(r.counts) as Record<string, number>),
    inventory: withBodies ? unpack(r.inventory) : null,
    findings: withBodies ? unpack(r.findings) : null,
  };
}

const SUMMARY_COLUMNS = ['repository_id', 'digest', 'scan_type', 'status', 'description', 'started_at', 'completed_at', 'generation', 'data_updated_at', 'counts'] as const;

export class ScanStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** The scan with its inventory and findings. */
  async get(repositoryId: number, digest: string): Promise<ImageScan | undefined> {
    const r = await this.db.selectFrom('image_scans').selectAll().where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    return r === undefined ? undefined : toScan(r, true);
  }

  /** Status and counts (no bodies) of the scans of `digests`. */
  async summaries(repositoryId: number, digests: readonly string[]): Promise<Map<string, ImageScan>> {
    const out = new Map<string, ImageScan>();
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db
        .selectFrom('image_scans')
        .select(SUMMARY_COLUMNS)
        .where('repository_id', '=', repositoryId)
        .where('digest', 'in', digests.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.digest, toScan({ ...r, inventory: null, findings: null }, false));
    }
    return out;
  }

  /** Records a scan as started (replacing the previous one of the image). */
  async start(repositoryId: number, digest: string, scanType: 'BASIC' | 'ENHANCED', now: number): Promise<void> {
    const values = { scan_type: scanType, status: 'IN_PROGRESS', description: null, started_at: now, completed_at: null, generation: 0, data_updated_at: null, counts: null, inventory: null, findings: null };
    await this.db
      .insertInto('image_scans')
      .values({ repository_id: repositoryId, digest, ...values })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet(values))
      .execute();
  }

  /** Stores the outcome of the scan started at `startedAt`; false when a newer scan replaced it. */
  async finish(
    repositoryId: number,
    digest: string,
    startedAt: number,
    r: { status: ScanStatusValue; description: string | null; completedAt: number; generation: number; dataUpdatedAt: number | null; counts: Record<string, number> | null; inventory?: unknown; findings?: unknown },
  ): Promise<boolean> {
    const u = await this.db
      .updateTable('image_scans')
      .set({
        status: r.status,
        description: r.description,
        completed_at: r.completedAt,
        generation: r.generation,
        data_updated_at: r.dataUpdatedAt,
        counts: r.counts === null ? null : JSON.stringify(r.counts),
        inventory: pack(r.inventory),
        findings: pack(r.findings),
      })
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .where('started_at', '=', startedAt)
      .executeTakeFirst();
    return Number(u.numUpdatedRows) > 0;
  }

  /** New findings for a stored inventory (continuous scanning), if the scan is still at `fromGeneration`. */
  async refresh(repositoryId: number, digest: string, fromGeneration: number, r: { generation: number; dataUpdatedAt: number | null; counts: Record<string, number>; findings: unknown; now: number }): Promise<boolean> {
    const u = await this.db
      .updateTable('image_scans')
      .set({ generation: r.generation, data_updated_at: r.dataUpdatedAt, counts: JSON.stringify(r.counts), findings: pack(r.findings), completed_at: r.now })
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .where('status', '=', 'COMPLETE')
      .where('generation', '=', fromGeneration)
      .executeTakeFirst();
    return Number(u.numUpdatedRows) > 0;
  }

  /** Completed scans evaluated before `generation`, in key order after `after`: what a data update must re-evaluate. */
  async stale(generation: number, limit: number, after?: { repositoryId: number; digest: string }): Promise<Array<{ repositoryId: number; digest: string; generation: number }>> {
    let q = this.db.selectFrom('image_scans').select(['repository_id', 'digest', 'generation']).where('status', '=', 'COMPLETE').where('generation', '<', generation);
    if (after !== undefined) {
      q = q.where((eb) => eb.or([eb('repository_id', '>', after.repositoryId), eb.and([eb('repository_id', '=', after.repositoryId), eb('digest', '>', after.digest)])]));
    }
    const rows = await q.orderBy('repository_id').orderBy('digest').limit(limit).execute();
    return rows.map((r) => ({ repositoryId: Number(r.repository_id), digest: r.digest, generation: Number(r.generation) }));
  }

  async count(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*) as n from image_scans`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }
}
