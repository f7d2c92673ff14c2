// Scanning images: the `scan.image` job reads an image's layers once (src/scan/inventory), keeps
// the inventory, matches it against the vulnerability database (src/scan/vulndb.ts) and stores the
// findings; an index scans each platform's image and reports their findings together. The
// `scan.rescan` job, after a data update, evaluates the stored inventories of continuously scanned
// repositories again (no layer is read) and updates their findings. Each completed scan writes an
// `ECR Image Scan` event. Scans never run on a request's path: the API and pushes enqueue jobs.
import type { Logger } from 'pino';
import { parseManifest } from '../core/manifest.ts';
import { INDEX_TYPES, IMAGE_MANIFEST_TYPES, MT } from '../core/media-types.ts';
import type { ImageScan, MetaStore, Repository } from '../meta/index.ts';
import type { BlobStore } from '../storage/index.ts';
import { parseStoredConfiguration, repositoryScanning, type RegistryScanningConfiguration, type RepositoryScanning, type ScanType } from './config.ts';
import { buildInventory } from './inventory/index.ts';
import { defaultLangExtractors } from './inventory/lang/index.ts';
import { defaultOsExtractors } from './inventory/os/index.ts';
import { DEFAULT_SCAN_LIMITS, ScanFailure, type Inventory, type ScanLimits } from './types.ts';
import { matchInventory, severityCounts, type CandidateCache, type Finding } from './vulndb.ts';

export interface ScanContext {
  meta: MetaStore;
  blobs: BlobStore;
  now: () => number;
  log: Logger;
}

/** What a job queue offers the scanner (src/jobs' JobQueue). */
export interface ScanJobs {
  enqueue(job: { kind: string; payload?: unknown; dedupeKey?: string }, tx?: MetaStore): Promise<void>;
}

export interface ScanJob {
  accountId: string;
  name: string;
  digest: string;
  startedAt: number;
}

/** Why an image cannot be scanned (UnsupportedImageTypeException), or undefined. */
export function unsupportedReason(mediaType: string, configMediaType: string | null): string | undefined {
  if (INDEX_TYPES.has(mediaType)) return undefined;
  if (!IMAGE_MANIFEST_TYPES.has(mediaType)) return `manifests of type ${mediaType} are not container images`;
  if (configMediaType !== null && configMediaType !== MT.ociConfig && configMediaType !== MT.dockerConfig) return `artifacts (config ${configMediaType}) are not container images`;
  return undefined;
}

export class ScanService {
  private readonly ctx: ScanContext;
  private readonly jobs: ScanJobs;
  private readonly limits: ScanLimits;

  constructor(ctx: ScanContext, jobs: ScanJobs, opts: { limits?: ScanLimits } = {}) {
    this.ctx = ctx;
    this.jobs = jobs;
    this.limits = opts.limits ?? DEFAULT_SCAN_LIMITS;
  }

  async configuration(accountId: string): Promise<RegistryScanningConfiguration> {
    return parseStoredConfiguration(await this.ctx.meta.accountPolicies.get(accountId, 'scanning'));
  }

  async repositoryScanning(repo: Repository): Promise<RepositoryScanning> {
    return repositoryScanning(await this.configuration(repo.accountId), repo);
  }

  /** Records the scan as IN_PROGRESS and enqueues its job. */
  async start(repo: Repository, digest: string, scanType: ScanType): Promise<void> {
    const startedAt = this.ctx.now();
    await this.ctx.meta.scans.start(repo.id, digest, scanType, startedAt);
    const job: ScanJob = { accountId: repo.accountId, name: repo.name, digest, startedAt };
    await this.jobs.enqueue({ kind: 'scan.image', payload: job });
  }

  /** After a push: starts a scan when the repository scans on push. */
  async pushed(repo: Repository, digest: string, mediaType: string, configMediaType: string | null): Promise<void> {
    const s = await this.repositoryScanning(repo);
    if (!s.scanOnPush || unsupportedReason(mediaType, configMediaType) !== undefined) return;
    await this.start(repo, digest, s.scanType);
  }

  /** The `scan.image` job. */
  async run(job: ScanJob): Promise<void> {
    const repo = await this.ctx.meta.repositories.get(job.accountId, job.name);
    if (repo === undefined) return;
    const scan = await this.ctx.meta.scans.get(repo.id, job.digest);
    if (scan === undefined || scan.startedAt !== job.startedAt || scan.status !== 'IN_PROGRESS') return;
    const { generation, updatedAt } = await this.ctx.meta.vulns.generation();
    let outcome: { status: 'COMPLETE' | 'FAILED' | 'UNSUPPORTED_IMAGE'; description: string | null; inventory?: Inventory; findings?: Finding[] };
    try {
      const { inventory, findings } = await this.scanManifest(repo, job.digest, scan.scanType, 0);
      outcome = { status: 'COMPLETE', description: 'The scan was completed successfully.', inventory, findings };
    } catch (err) {
      if (err instanceof ScanFailure) outcome = { status: err.reason === 'unsupported' ? 'UNSUPPORTED_IMAGE' : 'FAILED', description: err.message };
      else {
        this.ctx.log.error({ err, repository: repo.name, digest: job.digest }, 'image scan failed');
        outcome = { status: 'FAILED', description: `The scan failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    const now = this.ctx.now();
    const counts = outcome.findings === undefined ? null : severityCounts(outcome.findings);
    const stored = await this.ctx.meta.transaction(async (tx) => {
      const ok = await tx.scans.finish(repo.id, job.digest, job.startedAt, {
        status: outcome.status,
        description: outcome.description,
        completedAt: now,
        generation,
        dataUpdatedAt: updatedAt ?? null,
        counts,
        inventory: outcome.inventory,
        findings: outcome.findings,
      });
      if (ok) await this.scanEvent(tx, repo, job.digest, outcome.status, counts ?? {}, now);
      return ok;
    });
    if (stored) this.ctx.log.info({ repository: repo.name, digest: job.digest, status: outcome.status, findings: outcome.findings?.length }, 'image scanned');
  }

  /** The `scan.rescan` job: stored inventories of continuously scanned repositories against the current data. */
  async rescan(): Promise<{ evaluated: number; skipped: number }> {
    const { generation, updatedAt } = await this.ctx.meta.vulns.generation();
    const configs = new Map<string, RegistryScanningConfiguration>();
    const advisories: CandidateCache = new Map();
    const repos = new Map<number, Repository | undefined>();
    let evaluated = 0;
    let skipped = 0;
    for (let after: { repositoryId: number; digest: string } | undefined; ; ) {
      const page = await this.ctx.meta.scans.stale(generation, 200, after);
      if (page.length === 0) break;
      for (const s of page) {
        if (!repos.has(s.repositoryId)) {
          const row = await this.ctx.meta.db.selectFrom('repositories').select(['account_id', 'name']).where('id', '=', s.repositoryId).executeTakeFirst();
          repos.set(s.repositoryId, row === undefined ? undefined : await this.ctx.meta.repositories.get(row.account_id, row.name));
        }
        const repo = repos.get(s.repositoryId);
        if (repo === undefined) continue;
        let config = configs.get(repo.accountId);
        if (config === undefined) {
          config = await this.configuration(repo.accountId);
          configs.set(repo.accountId, config);
        }
        const scanning = repositoryScanning(config, repo);
        if (scanning.scanFrequency !== 'CONTINUOUS_SCAN') {
          skipped++;
          continue;
        }
        const scan = await this.ctx.meta.scans.get(repo.id, s.digest);
        if (scan?.inventory === null || scan === undefined) continue;
        const previous = (scan.findings ?? []) as Finding[];
        const findings = await matchInventory(this.ctx.meta, scan.inventory as Inventory, scan.scanType, previous, this.ctx.now(), advisories);
        const counts = severityCounts(findings);
        const now = this.ctx.now();
        await this.ctx.meta.transaction(async (tx) => {
          if (await tx.scans.refresh(repo.id, s.digest, s.generation, { generation, dataUpdatedAt: updatedAt ?? null, counts, findings, now })) {
            await this.scanEvent(tx, repo, s.digest, 'COMPLETE', counts, now);
            evaluated++;
          }
        });
      }
      const last = page[page.length - 1];
      after = last === undefined ? undefined : { repositoryId: last.repositoryId, digest: last.digest };
    }
    if (evaluated > 0) this.ctx.log.info({ evaluated, generation }, 'stored inventories evaluated against new vulnerability data');
    return { evaluated, skipped };
  }

  /** The stored scan of an image. */
  async get(repo: Repository, digest: string): Promise<ImageScan | undefined> {
    return await this.ctx.meta.scans.get(repo.id, digest);
  }

  private async scanManifest(repo: Repository, digest: string, scanType: 'BASIC' | 'ENHANCED', depth: number): Promise<{ inventory: Inventory; findings: Finding[] }> {
    const m = await this.ctx.meta.manifests.get(repo.id, digest);
    if (m === undefined) throw new ScanFailure('unsupported', `The image ${digest} is no longer in the repository.`);
    const parsed = parseManifest(m.body, m.mediaType);
    if (parsed.kind === 'index') {
      if (depth > 0) throw new ScanFailure('unsupported', 'An index inside an index is not scanned.');
      // Each platform's image; the index reports them together.
      const platforms: Inventory[] = [];
      const findings: Finding[] = [];
      for (const child of parsed.manifests) {
        const sub = await this.ctx.meta.manifests.getMeta(repo.id, child.digest);
        if (sub === undefined || unsupportedReason(sub.mediaType, null) !== undefined) continue;
        const r = await this.scanManifest(repo, child.digest, scanType, depth + 1);
        platforms.push(r.inventory);
        findings.push(...r.findings);
      }
      if (platforms.length === 0) throw new ScanFailure('unsupported', 'The index lists no container image.');
      return { inventory: { platform: platforms[0]?.platform ?? { os: 'unknown', architecture: 'unknown' }, packages: platforms.flatMap((p) => p.packages), ...(platforms[0]?.os !== undefined ? { os: platforms[0].os } : {}) }, findings };
    }
    const why = unsupportedReason(m.mediaType, parsed.config?.mediaType ?? null);
    if (why !== undefined || parsed.config === undefined) throw new ScanFailure('unsupported', `UnsupportedImageError: ${why ?? 'no image config'}`);
    const config = await this.readConfig(parsed.config.digest);
    const layers = parsed.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, open: async () => await this.ctx.blobs.open(l.digest) }));
    const extractors = scanType === 'ENHANCED' ? [...defaultOsExtractors(), ...defaultLangExtractors(this.limits)] : defaultOsExtractors();
    const inventory = await buildInventory(layers, config, extractors, this.limits);
    const findings = await matchInventory(this.ctx.meta, inventory, scanType, [], this.ctx.now());
    return { inventory, findings };
  }

  private async readConfig(digest: string): Promise<{ os: string; architecture: string; variant?: string }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of await this.ctx.blobs.open(digest)) {
      size += (chunk as Buffer).length;
      if (size > 8 * 1024 * 1024) throw new ScanFailure('limit', `The image config ${digest} is larger than 8 MiB.`);
      chunks.push(chunk as Buffer);
    }
    try {
      const c = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { os?: unknown; architecture?: unknown; variant?: unknown };
      return {
        os: typeof c.os === 'string' ? c.os : 'unknown',
        architecture: typeof c.architecture === 'string' ? c.architecture : 'unknown',
        ...(typeof c.variant === 'string' ? { variant: c.variant } : {}),
      };
    } catch {
      throw new ScanFailure('corrupt', `The image config ${digest} is not JSON.`);
    }
  }

  /** ECR's `ECR Image Scan` event. */
  private async scanEvent(tx: MetaStore, repo: Repository, digest: string, status: string, counts: Record<string, number>, now: number): Promise<void> {
    const tags = await tx.tags.forDigest(repo.id, digest);
    await tx.events.append({
      accountId: repo.accountId,
      type: 'ECR Image Scan',
      repository: repo.name,
      digest,
      tag: null,
      detail: { 'scan-status': status, 'repository-name': repo.name, 'image-digest': digest, 'image-tags': tags, 'finding-severity-counts': counts },
      createdAt: now,
    });
  }
}
