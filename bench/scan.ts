// The scanning suite (`--suite scan`): what vulnerability scanning costs, in-process, on berth's
// default stores (SQLite and the filesystem), with the whole shared OSV corpus imported:
//   - scanning the Debian bookworm minbase fixture (test/fixtures: one ~49 MB gzip layer, about 90
//     dpkg packages), BASIC and ENHANCED: the `scan.image` job as the server runs it
//     (ScanService.run: the layers read from the blob store, the inventory, matching, the results
//     stored), median of 3 runs, with matching alone timed apart and the memory the scan adds;
//   - after a data update, re-evaluating 1,000 stored inventories (ScanService.rescan, the
//     `scan.rescan` job) of COMPLETE scans in repositories under a CONTINUOUS_SCAN rule. Each
//     inventory is the fixture's own (Debian:12: no advisory in the corpus applies) plus an app
//     layer read by the real extractors: an npm lock file and Python distributions naming packages
//     the corpus has advisories for, at versions its advisories mention.
// Images and scans are written straight into the stores, not pushed. --scale shrinks the number of
// stored inventories. Needs the OSV corpus (BERTH_VULNDATA) and the debian fixture (built once and
// cached, see test/fixtures/build.ts); without them the suite says why and runs nothing.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { pack } from 'tar-stream';
import { compose, type App } from '../src/app/compose.ts';
import { loadConfig } from '../src/config/index.ts';
import { parseDigest } from '../src/core/digest.ts';
import type { Repository } from '../src/meta/index.ts';
import { buildInventory } from '../src/scan/inventory/index.ts';
import { defaultLangExtractors } from '../src/scan/inventory/lang/index.ts';
import type { Inventory, OsvRecord } from '../src/scan/types.ts';
import { importAdvisories, matchInventory, severityCounts } from '../src/scan/vulndb.ts';
import { BlobStore } from '../src/storage/index.ts';
import { ensureFixture, SkipError, type Fixture } from '../test/fixtures/build.ts';
import { VULNDATA, vulndataMissing } from '../test/helpers/vulndata.ts';
import { formatMs } from './report.ts';
import { log } from './workload.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const RUNS = 3;
const REPOS = 10;
const NPM_PER_IMAGE = 12;
const PYPI_PER_IMAGE = 4;

type ScanType = 'BASIC' | 'ENHANCED';

interface ScanFigures {
  ms: number;
  matchMs: number;
  packages: number;
  findings: number;
  /** Peak RSS during the scan (process.memoryUsage().rss sampled every 10 ms) minus the RSS before it. */
  rssAddedKiB: number;
  /** Peak V8 heap used during the scan (sampled the same way) minus the heap used before it. */
  heapAddedKiB: number;
}

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

/** Samples RSS and heap used every 10 ms until stopped; returns the peaks above the values at the start. */
function sampleMemory(): () => { rssAddedKiB: number; heapAddedKiB: number } {
  const start = process.memoryUsage();
  let rss = start.rss;
  let heap = start.heapUsed;
  const sample = (): void => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 10);
  return () => {
    clearInterval(timer);
    sample();
    return { rssAddedKiB: Math.round((rss - start.rss) / 1024), heapAddedKiB: Math.round((heap - start.heapUsed) / 1024) };
  };
}

/** Stores a blob file and its row, linked to the repository. */
async function storeBlob(app: App, repo: Repository, digest: string, source: Readable, now: number): Promise<void> {
  const size = await new BlobStore(app.storage).ingestStream(source, parseDigest(digest));
  await app.meta.blobs.put(digest, size, now);
  await app.meta.blobs.link(repo.id, digest, now);
}

/** The fixture's image in `repo` (blobs, manifest, tag), as a push would leave it. */
async function storeFixture(app: App, repo: Repository, f: Fixture, now: number): Promise<{ config: { digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }> }> {
  const path = (d: string): string => join(f.layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  for (const d of f.blobs.slice(1)) await storeBlob(app, repo, d, createReadStream(path(d)), now);
  const body = await readFile(path(f.manifestDigest));
  const m = JSON.parse(body.toString('utf8')) as { config: { digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }> };
  await app.meta.manifests.put({ repositoryId: repo.id, digest: f.manifestDigest, mediaType: MANIFEST, size: body.length, artifactType: null, subjectDigest: null, configDigest: m.config.digest, annotations: null, body, pushedAt: now, references: f.blobs.slice(1).map((d) => ({ childDigest: d, kind: 'blob' as const })) });
  await app.meta.tags.put(repo.id, f.ref, f.manifestDigest, now);
  return m;
}

/** Package names of an OSV ecosystem directory, each with the versions its advisories mention (events and lists). */
async function advisedVersions(dir: string, keep: (v: string) => boolean): Promise<Array<[string, string[]]>> {
  const out = new Map<string, Set<string>>();
  for (const file of (await readdir(dir)).sort()) {
    const record = JSON.parse(await readFile(join(dir, file), 'utf8')) as OsvRecord;
    for (const a of record.affected ?? []) {
      if (a.package === undefined) continue;
      const versions = out.get(a.package.name) ?? new Set<string>();
      for (const range of a.ranges ?? []) for (const e of range.events) for (const v of Object.values<string>(e)) if (v !== '0' && keep(v)) versions.add(v);
      for (const v of a.versions ?? []) if (keep(v)) versions.add(v);
      out.set(a.package.name, versions);
    }
  }
  return [...out].filter(([, v]) => v.size > 0).map(([name, v]) => [name, [...v].sort()]);
}

/** `count` of the packages from position `at` on (wrapping), each at one of its versions chosen by `at`. */
function pick(pool: Array<[string, string[]]>, at: number, count: number): Array<[string, string]> {
  return Array.from({ length: count }, (_, k) => {
    const [name, versions] = pool[(at * count + k) % pool.length] ?? ['', []];
    return [name, versions[(at + k) % versions.length] ?? ''];
  });
}

async function gzipTar(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** An app layer: a package-lock.json (lockfileVersion 3) and Python distributions' METADATA. */
async function appLayer(npm: Array<[string, string]>, pypi: Array<[string, string]>): Promise<Buffer> {
  const packages: Record<string, unknown> = { '': { name: 'app', version: '1.0.0' } };
  for (const [name, version] of npm) packages[`node_modules/${name}`] = { version };
  const files: Record<string, string> = { 'srv/app/package-lock.json': JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, packages }) };
  for (const [name, version] of pypi) files[`usr/local/lib/python3.11/site-packages/${name}-${version}.dist-info/METADATA`] = `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`;
  return await gzipTar(files);
}

export async function runScanSuite(opts: { scale: number }, rootDir: string): Promise<{ output: string; json: unknown; failed: boolean }> {
  const notRun = (why: string): { output: string; json: unknown; failed: boolean } => {
    log(`scan suite skipped: ${why}`);
    return { output: `\nberth scanning: not run: ${why}\n`, json: { skipped: why }, failed: false };
  };
  const noData = vulndataMissing();
  if (noData !== false) return notRun(noData);
  let fixture: Fixture;
  try {
    fixture = await ensureFixture('debian');
  } catch (err) {
    if (err instanceof SkipError) return notRun(err.message);
    throw err;
  }
  const inventories = Math.max(50, Math.round(1000 * opts.scale));

  const dir = join(rootDir, 'scan-berth');
  await mkdir(dir, { recursive: true });
  const config = loadConfig({ env: { BERTH_LISTEN: '127.0.0.1:0', BERTH_DATA_DIR: dir, BERTH_LOG_LEVEL: 'silent', BERTH_THROTTLE_ENABLED: 'false', BERTH_GC_ENABLED: 'false' } });
  const app = await compose(config, { log: pino({ level: 'silent' }) });
  try {
    const accountId = app.boot.accountId;
    const corpus = await timed(async () => await importAdvisories(app.meta, join(VULNDATA, 'osv')));
    const advisories = await app.meta.vulns.count();
    log(`scan suite: ${corpus.value.records} advisories imported in ${formatMs(corpus.ms)} (${corpus.value.errors.length} errors)`);

    // 1. The fixture image, scanned the way the server's scan.image job does it.
    const { repository: debianRepo } = await app.meta.repositories.ensure(accountId, 'bench/debian', Date.now());
    const image = await storeFixture(app, debianRepo, fixture, Date.now());
    const layerBytes = image.layers.reduce((n, l) => n + l.size, 0);
    const scans: Partial<Record<ScanType, ScanFigures>> = {};
    let osInventory: Inventory | undefined;
    let failed = false;
    for (const scanType of ['BASIC', 'ENHANCED'] as const) {
      const runs: Array<{ ms: number; rssAddedKiB: number; heapAddedKiB: number }> = [];
      let inventory: Inventory | undefined;
      let findings = 0;
      for (let r = 0; r < RUNS; r++) {
        const startedAt = Date.now();
        await app.meta.scans.start(debianRepo.id, fixture.manifestDigest, scanType, startedAt);
        const stop = sampleMemory();
        const t = await timed(async () => await app.scans.run({ accountId, name: debianRepo.name, digest: fixture.manifestDigest, startedAt }));
        runs.push({ ms: t.ms, ...stop() });
        const scan = await app.meta.scans.get(debianRepo.id, fixture.manifestDigest);
        if (scan?.status !== 'COMPLETE') {
          failed = true;
          log(`scan suite: the ${scanType} scan ended ${scan?.status ?? 'missing'}: ${scan?.description ?? ''}`);
          break;
        }
        inventory = scan.inventory as Inventory;
        findings = (scan.findings as unknown[]).length;
      }
      if (inventory === undefined) continue;
      const matching: number[] = [];
      for (let r = 0; r < RUNS; r++) matching.push((await timed(async () => await matchInventory(app.meta, inventory, scanType))).ms);
      scans[scanType] = {
        ms: median(runs.map((r) => r.ms)),
        matchMs: median(matching),
        packages: inventory.packages.length,
        findings,
        rssAddedKiB: Math.max(...runs.map((r) => r.rssAddedKiB)),
        heapAddedKiB: Math.max(...runs.map((r) => r.heapAddedKiB)),
      };
      osInventory = inventory;
      log(`scan suite: ${scanType} scan of the fixture: ${formatMs(scans[scanType].ms)} (${inventory.packages.length} packages, ${findings} findings)`);
    }
    const maxRssKiB = process.resourceUsage().maxRSS;
    if (osInventory === undefined) return { output: '\nberth scanning: FAILED: the fixture could not be scanned\n', json: { scans }, failed: true };

    // 2. Stored inventories of continuously scanned repositories, evaluated when the data changes.
    await app.meta.accountPolicies.put(accountId, 'scanning', JSON.stringify({ scanType: 'ENHANCED', rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'bench/app-*', filterType: 'WILDCARD' }] }] }), Date.now());
    const npmPool = await advisedVersions(join(VULNDATA, 'osv', 'npm'), (v) => /^\d+\.\d+\.\d+$/.test(v));
    const pypiPool = await advisedVersions(join(VULNDATA, 'osv', 'PyPI'), (v) => /^\d+(\.\d+)*$/.test(v));
    const { generation, updatedAt } = await app.meta.vulns.generation();
    const repos: Repository[] = [];
    for (let r = 0; r < REPOS; r++) {
      const { repository } = await app.meta.repositories.ensure(accountId, `bench/app-${r}`, Date.now());
      for (const d of [image.config.digest, ...image.layers.map((l) => l.digest)]) await app.meta.blobs.link(repository.id, d, Date.now());
      repos.push(repository);
    }
    let lastDigest: { repo: Repository; digest: string } | undefined;
    let storedFindings = 0;
    const fill = await timed(async () => {
      for (let i = 0; i < inventories; i++) {
        const repo = repos[i % REPOS] as Repository;
        const now = Date.now();
        const layer = await appLayer(pick(npmPool, i, NPM_PER_IMAGE), pick(pypiPool, i, PYPI_PER_IMAGE));
        const layerDigest = sha256(layer);
        await storeBlob(app, repo, layerDigest, Readable.from([layer]), now);
        const appPart = await buildInventory([{ digest: layerDigest, mediaType: LAYER, open: async () => Readable.from([layer]) }], osInventory.platform, defaultLangExtractors());
        const inventory: Inventory = { ...osInventory, packages: [...osInventory.packages, ...appPart.packages] };
        const findings = await matchInventory(app.meta, inventory, 'ENHANCED', [], now);
        storedFindings += findings.length;
        const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...image.config }, layers: [...image.layers, { mediaType: LAYER, digest: layerDigest, size: layer.length }] }));
        const digest = sha256(body);
        await app.meta.transaction(async (tx) => {
          await tx.manifests.put({ repositoryId: repo.id, digest, mediaType: MANIFEST, size: body.length, artifactType: null, subjectDigest: null, configDigest: image.config.digest, annotations: null, body, pushedAt: now, references: [image.config.digest, ...image.layers.map((l) => l.digest), layerDigest].map((d) => ({ childDigest: d, kind: 'blob' as const })) });
          await tx.scans.start(repo.id, digest, 'ENHANCED', now);
          await tx.scans.finish(repo.id, digest, now, { status: 'COMPLETE', description: 'The scan was completed successfully.', completedAt: now, generation, dataUpdatedAt: updatedAt ?? null, counts: severityCounts(findings), inventory, findings });
        });
        lastDigest = { repo, digest };
      }
    });
    log(`scan suite: ${inventories} scanned images stored in ${formatMs(fill.ms)} (${storedFindings} findings)`);

    // The data update: one new advisory, for a package every stored inventory has.
    const bash = osInventory.packages.find((p) => p.name === 'bash');
    if (bash === undefined) throw new Error('the debian fixture has no bash package');
    const updateFile = join(dir, 'BERTH-BENCH-1.json');
    await writeFile(
      updateFile,
      JSON.stringify({
        id: 'BERTH-BENCH-1',
        modified: new Date().toISOString(),
        summary: 'a newly published advisory (benchmark data)',
        affected: [{ package: { ecosystem: bash.ecosystem, name: bash.sourceName ?? bash.name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '99:0' }] }] }],
      }),
    );
    const update = await timed(async () => await importAdvisories(app.meta, updateFile, { name: 'bench-update' }));
    const rescan = await timed(async () => await app.scans.rescan());
    log(`scan suite: rescan of ${inventories} inventories: ${formatMs(rescan.ms)} (${rescan.value.evaluated} evaluated, ${rescan.value.skipped} skipped)`);
    const sample = lastDigest === undefined ? undefined : await app.meta.scans.get(lastDigest.repo.id, lastDigest.digest);
    const foundNew = ((sample?.findings ?? []) as Array<{ ids: string[] }>).some((f) => f.ids.includes('BERTH-BENCH-1'));
    if (rescan.value.evaluated !== inventories || !foundNew) {
      failed = true;
      log(`scan suite: FAILED: the rescan evaluated ${rescan.value.evaluated} inventories (${inventories} expected); the new advisory ${foundNew ? 'was' : 'was not'} found`);
    }

    const lines = [
      '',
      `Vulnerability scanning (berth in-process, SQLite + filesystem, ${advisories} OSV advisories)`,
      '',
      '| operation | time | memory added (peak RSS / heap) |',
      '|---|---|---|',
      `| import the OSV corpus (${corpus.value.records} records) | ${formatMs(corpus.ms)} | |`,
    ];
    for (const [scanType, s] of Object.entries(scans)) {
      lines.push(`| ${scanType} scan of debian bookworm minbase (1 layer, ${(layerBytes / 1e6).toFixed(1)} MB gzip): ${s.packages} packages, ${s.findings} findings (median of ${RUNS}) | ${formatMs(s.ms)} | ${mib(s.rssAddedKiB)} / ${mib(s.heapAddedKiB)} |`);
      lines.push(`| of which matching the inventory (median of ${RUNS}) | ${formatMs(s.matchMs)} | |`);
    }
    lines.push(
      `| data update: import 1 new advisory (generation ${update.value.generation}) | ${formatMs(update.ms)} | |`,
      `| re-evaluate ${inventories} stored inventories (${osInventory.packages.length} + ${NPM_PER_IMAGE} npm + ${PYPI_PER_IMAGE} PyPI packages each; ScanService.rescan) | ${formatMs(rescan.ms)} (${formatMs(rescan.ms / inventories)} each) | |`,
      '',
      `Memory: "added" is the peak sampled every 10 ms during a scan (process.memoryUsage(): rss, heapUsed) minus the value before it, the largest of ${RUNS} runs;`,
      `the process's peak RSS (process.resourceUsage().maxRSS) after the scans, corpus import included, was ${mib(maxRssKiB)}.`,
      '',
    );
    if (failed) lines.push('FAILED: see the messages above', '');
    return {
      output: `${lines.join('\n')}\n`,
      json: {
        advisories,
        importMs: corpus.ms,
        layerBytes,
        scans,
        maxRssKiB,
        rescan: { inventories, storedFindings, fillMs: fill.ms, updateMs: update.ms, ms: rescan.ms, evaluated: rescan.value.evaluated, skipped: rescan.value.skipped },
      },
      failed,
    };
  } finally {
    await app.close();
  }
}
