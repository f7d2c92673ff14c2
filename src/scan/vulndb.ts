// The vulnerability database: OSV advisories imported into the metadata store, and the matching of
// an image's inventory against them. An import reads a directory tree, a zip export or a JSON file
// (src/scan/osv/import.ts) in batches; an import that changed advisories moves the data generation
// on, which is what continuous scanning watches. Matching looks up each package's candidates by
// ecosystem family and normalised name (the binary name and, for distributions, the source name)
// and evaluates them with OSV's algorithm (src/scan/osv/match.ts); findings of the same
// vulnerability (an id or any alias in common) in the same package are reported once. Configured
// source URLs are fetched and imported through the same code (syncSources, the vulndb.sync job).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { MetaStore } from '../meta/index.ts';
import { readOsvSource, type OsvSourceOptions } from './osv/import.ts';
import { affectedEntries, fixedVersions, packageNameKey } from './osv/match.ts';
import { rateSeverity } from './osv/severity.ts';
import type { FindingSeverity, Inventory, OsvRecord, Package } from './types.ts';
import { comparatorFor } from './versions/index.ts';

/** ECR's severities, highest first (the order findings are listed in). */
export const SEVERITIES: readonly FindingSeverity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'];

/** One vulnerability in one package of an image, as berth stores it. */
export interface Finding {
  /** The name findings go by: the advisory's CVE id when it has one, else its own id. */
  name: string;
  /** The advisory's id and its aliases. */
  ids: string[];
  summary?: string;
  description?: string;
  severity: FindingSeverity;
  score?: number;
  vector?: string;
  cvssVersion?: string;
  package: Pick<Package, 'name' | 'version' | 'ecosystem' | 'kind' | 'sourceName' | 'path' | 'layerDigest' | 'arch' | 'purl'>;
  /** The nearest version that fixes it, when one is known. */
  fixedIn?: string;
  published?: string;
  modified: string;
  references: string[];
  /** When the vulnerability was first found in this image (kept across re-evaluations). */
  firstObservedAt: number;
}

/** The part of an OSV ecosystem string before `:` (`Debian:12` → `Debian`). */
export function familyOf(ecosystem: string): string {
  const colon = ecosystem.indexOf(':');
  return colon < 0 ? ecosystem : ecosystem.slice(0, colon);
}

export interface ImportResult {
  records: number;
  errors: Array<{ file: string; error: string }>;
  changed: number;
  /** The data generation after the import (moved on only when something changed). */
  generation: number;
}

const BATCH = 500;

/** Imports the advisories at `path` (directory, zip or JSON file) as source `name` (default: the file name). */
export async function importAdvisories(meta: MetaStore, path: string, opts: OsvSourceOptions & { name?: string; now?: () => number } = {}): Promise<ImportResult> {
  const now = opts.now ?? Date.now;
  const source = opts.name ?? basename(path);
  const out: ImportResult = { records: 0, errors: [], changed: 0, generation: 0 };
  let batch: OsvRecord[] = [];
  const flush = async (): Promise<void> => {
    const rows = batch.map((record) => ({
      id: record.id,
      modified: record.modified,
      withdrawn: record.withdrawn !== undefined,
      record: JSON.stringify(record),
      packages: (record.affected ?? []).flatMap((a) => (a.package === undefined ? [] : [{ family: familyOf(a.package.ecosystem), nameKey: packageNameKey(familyOf(a.package.ecosystem), a.package.name) }])),
    }));
    batch = [];
    out.changed += await meta.transaction(async (tx) => await tx.vulns.upsert(source, rows, now()));
  };
  for await (const item of readOsvSource(path, opts)) {
    if (item.record === undefined) {
      out.errors.push({ file: item.file, error: item.error ?? 'unreadable' });
      continue;
    }
    out.records++;
    batch.push(item.record);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  await meta.vulns.putSource({ name: source, location: path, records: out.records, errors: out.errors.length, importedAt: now() });
  out.generation = out.changed > 0 ? await meta.vulns.bumpGeneration(now()) : (await meta.vulns.generation()).generation;
  return out;
}

/** The vulnerabilities of the inventory's packages (OS packages only for `BASIC`), most severe first. */
/**
 * Advisories already read, by `family NUL name` (none: an empty list). One evaluation of many
 * inventories against the same data (a rescan) shares one, so each package's advisories are read
 * and parsed once.
 */
export type CandidateCache = Map<string, OsvRecord[]>;

export async function matchInventory(
  meta: MetaStore,
  inventory: Inventory,
  scanType: 'BASIC' | 'ENHANCED',
  previous: readonly Finding[] = [],
  now = Date.now(),
  candidates: CandidateCache = new Map(),
): Promise<Finding[]> {
  const packages = inventory.packages.filter((p) => scanType === 'ENHANCED' || p.kind === 'os');
  // Candidates per family, by every name a package may be advised under (those not read yet).
  const byFamily = new Map<string, Set<string>>();
  for (const p of packages) {
    const family = familyOf(p.ecosystem);
    const names = byFamily.get(family) ?? new Set<string>();
    for (const n of p.sourceName !== undefined ? [p.name, p.sourceName] : [p.name]) {
      const key = packageNameKey(family, n);
      if (!candidates.has(`${family}\u0000${key}`)) names.add(key);
    }
    byFamily.set(family, names);
  }
  for (const [family, names] of byFamily) {
    if (names.size === 0) continue;
    const found = await meta.vulns.candidates(family, [...names]);
    for (const key of names) candidates.set(`${family}\u0000${key}`, (found.get(key) ?? []).map((t) => JSON.parse(t) as OsvRecord));
  }
  const first = new Map(previous.map((f) => [findingKey(f.package, f.ids), f.firstObservedAt]));
  const out = new Map<string, Finding>();
  for (const p of packages) {
    const family = familyOf(p.ecosystem);
    const compare = comparatorFor(p.ecosystem)?.compare;
    if (compare === undefined) continue;
    // The binary name with its version and, for a distribution package built from another source, the source with its version.
    const asInstalled = [{ name: p.name, version: p.version }];
    if (p.sourceName !== undefined && p.sourceName !== p.name) asInstalled.push({ name: p.sourceName, version: p.sourceVersion ?? p.version });
    else if (p.sourceVersion !== undefined && p.sourceVersion !== p.version) asInstalled.push({ name: p.name, version: p.sourceVersion });
    for (const installed of asInstalled) {
      for (const record of candidates.get(`${family}\u0000${packageNameKey(family, installed.name)}`) ?? []) {
        const hits = affectedEntries(record, { ecosystem: p.ecosystem, name: installed.name, version: installed.version });
        const hit = hits[0];
        if (hit === undefined) continue;
        const ids = [record.id, ...(record.aliases ?? [])];
        const key = findingKey(p, ids);
        const duplicate = [...out.entries()].find(([k, f]) => k.startsWith(packageKey(p)) && f.ids.some((id) => ids.includes(id)));
        const rating = rateSeverity(record, hit);
        const fixes = hits.flatMap((a) => fixedVersions(a, installed.version, compare)).sort(compare);
        const finding: Finding = {
          name: displayName(ids),
          ids,
          ...(record.summary !== undefined ? { summary: record.summary } : {}),
          ...(record.details !== undefined ? { description: record.details.slice(0, 4096) } : {}),
          severity: rating.severity,
          ...(rating.score !== undefined ? { score: rating.score } : {}),
          ...(rating.vector !== undefined ? { vector: rating.vector } : {}),
          ...(rating.version !== undefined ? { cvssVersion: rating.version } : {}),
          package: {
            name: p.name,
            version: p.version,
            ecosystem: p.ecosystem,
            kind: p.kind,
            path: p.path,
            layerDigest: p.layerDigest,
            ...(p.sourceName !== undefined ? { sourceName: p.sourceName } : {}),
            ...(p.arch !== undefined ? { arch: p.arch } : {}),
            ...(p.purl !== undefined ? { purl: p.purl } : {}),
          },
          ...(fixes[0] !== undefined ? { fixedIn: fixes[0] } : {}),
          ...(record.published !== undefined ? { published: record.published } : {}),
          modified: record.modified,
          references: (record.references ?? []).map((r) => r.url).slice(0, 20),
          firstObservedAt: first.get(key) ?? now,
        };
        if (duplicate !== undefined) {
          // The same vulnerability from another source: keep one, with every id and the higher severity.
          const [dupKey, kept] = duplicate;
          const merged = SEVERITIES.indexOf(finding.severity) < SEVERITIES.indexOf(kept.severity) ? { ...finding, firstObservedAt: kept.firstObservedAt } : kept;
          merged.ids = [...new Set([...kept.ids, ...ids])];
          merged.name = displayName(merged.ids);
          out.set(dupKey, merged);
          continue;
        }
        out.set(key, finding);
      }
    }
  }
  return [...out.values()].sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.package.name < b.package.name ? -1 : 1));
}

/** findingSeverityCounts: how many findings of each severity (severities without findings left out). */
export function severityCounts(findings: readonly Finding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of findings) out[f.severity] = (out[f.severity] ?? 0) + 1;
  return out;
}

function packageKey(p: Pick<Package, 'ecosystem' | 'name' | 'version' | 'path'>): string {
  return `${p.ecosystem}\u0000${p.name}\u0000${p.version}\u0000${p.path}\u0000`;
}

function findingKey(p: Pick<Package, 'ecosystem' | 'name' | 'version' | 'path'>, ids: readonly string[]): string {
  return packageKey(p) + [...ids].sort().join(',');
}

/** A CVE id when the advisory has one (the smallest), else the advisory's own id. */
function displayName(ids: readonly string[]): string {
  const cves = ids.filter((id) => id.startsWith('CVE-')).sort();
  return cves[0] ?? ids[0] ?? 'unknown';
}

/**
 * Fetches each URL (an osv.dev-style zip export or a JSON record) to a temporary file and imports
 * it through importAdvisories, as source `<url>`. A source that fails is reported and skipped; the
 * data already loaded stays.
 */
export async function syncSources(meta: MetaStore, urls: readonly string[], opts: { now?: () => number; timeoutMs?: number; maxBytes?: number } = {}): Promise<Array<{ url: string; result?: ImportResult; error?: string }>> {
  const out: Array<{ url: string; result?: ImportResult; error?: string }> = [];
  for (const url of urls) {
    const dir = await mkdtemp(join(tmpdir(), 'berth-vulndb-'));
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 600_000) });
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
      const file = join(dir, new URL(url).pathname.endsWith('.json') ? 'record.json' : 'source.zip');
      let size = 0;
      const max = opts.maxBytes ?? 4 * 1024 ** 3;
      const counted = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>).map((chunk: Buffer) => {
        size += chunk.length;
        if (size > max) throw new Error(`larger than ${max} bytes`);
        return chunk;
      });
      await pipeline(counted, createWriteStream(file));
      out.push({ url, result: await importAdvisories(meta, file, { name: url, ...(opts.now !== undefined ? { now: opts.now } : {}) }) });
    } catch (e) {
      out.push({ url, error: e instanceof Error ? e.message : String(e) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}
