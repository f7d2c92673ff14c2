// Lifecycle policies applied to a repository: its images as the engine (src/lifecycle) sees them,
// a preview (what a policy would do now), and a run that expires what the policy selects, writing
// an `ECR Image Action` event with action-type EXPIRE per image, and archives what `transition`
// rules select (action-type ARCHIVE). Indexes go before the images they
// list; an image an index outside the run still lists stays (ECR never expires it before its index).
import { isRegistryError } from '../core/errors.ts';
import { evaluateLifecyclePolicy, parseLifecyclePolicy, type LifecycleImage, type LifecycleResult } from '../lifecycle/index.ts';
import type { MetaStore, Repository } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';
import type { ArchiveService } from './archive.ts';
import type { ManifestService } from './manifests.ts';

const PAGE = 1000;

/** Every image of the repository with what lifecycle rules look at. */
export async function lifecycleImages(meta: MetaStore, repo: Repository): Promise<LifecycleImage[]> {
  const out: LifecycleImage[] = [];
  for (let after: string | undefined; ; ) {
    const page = await meta.manifests.list(repo.id, { limit: PAGE, ...(after !== undefined ? { after } : {}) });
    if (page.length === 0) break;
    const tags = await meta.tags.forDigests(
      repo.id,
      page.map((m) => m.digest),
    );
    const parentsOf = await meta.manifests.parentsOf(
      repo.id,
      page.map((m) => m.digest),
    );
    for (const m of page) {
      const parents = parentsOf.get(m.digest) ?? [];
      out.push({
        digest: m.digest,
        tags: tags.get(m.digest) ?? [],
        pushedAt: m.pushedAt,
        ...(m.lastPulledAt !== null ? { lastPulledAt: m.lastPulledAt } : {}),
        storageClass: m.status === 'ARCHIVED' ? 'archive' : 'standard',
        ...(m.archivedAt !== null ? { archivedAt: m.archivedAt } : {}),
        ...(m.activatedAt !== null ? { activatedAt: m.activatedAt } : {}),
        ...(parents.length > 0 ? { referencedByIndex: true, indexDigests: parents } : {}),
        ...(m.subjectDigest !== null ? { subjectDigest: m.subjectDigest } : {}),
      });
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]?.digest;
  }
  return out;
}

export interface LifecycleRunResult {
  expired: Array<{ digest: string; tags: string[]; appliedRulePriority: number }>;
  /** Images moved to the archive storage class by `transition` rules. */
  archived: Array<{ digest: string; tags: string[]; appliedRulePriority: number }>;
  /** Selected images that stayed (an index outside the run lists them, or they went meanwhile). */
  kept: string[];
}

/** A lifecycle policy preview as kept with the repository (policy kind `lifecycle-preview`). */
export type StoredPreview =
  | { v: 2; status: 'IN_PROGRESS'; policyText: string; startedAt: number }
  | { v: 2; status: 'FAILED'; policyText: string; startedAt: number; reason: string }
  | { v: 2; status: 'COMPLETE'; policyText: string; startedAt: number; evaluatedAt: number; results: Array<LifecycleResult & { pushedAt: number }> };

/** A preview still IN_PROGRESS after this long was lost (its job gave up): a new one may start. */
export const PREVIEW_STALE_MS = 15 * 60_000;

export class LifecycleService {
  private readonly ctx: RegistryContext;
  private readonly manifests: ManifestService;
  private readonly archive: ArchiveService;

  constructor(ctx: RegistryContext, manifests: ManifestService, archive: ArchiveService) {
    this.ctx = ctx;
    this.manifests = manifests;
    this.archive = archive;
  }

  /** What `policyText` would do to the repository now. */
  async preview(repo: Repository, policyText: string): Promise<{ results: LifecycleResult[]; images: LifecycleImage[] }> {
    const policy = parseLifecyclePolicy(policyText);
    const images = await lifecycleImages(this.ctx.meta, repo);
    return { results: evaluateLifecyclePolicy(policy, images, this.ctx.now()), images };
  }

  /** The repository's last preview, if any (read through `meta`, a transaction's store for instance). */
  async storedPreview(repo: Repository, meta: MetaStore = this.ctx.meta): Promise<StoredPreview | undefined> {
    const raw = await meta.repositories.policyText(repo.id, 'lifecycle-preview');
    if (raw === undefined) return undefined;
    const p = JSON.parse(raw) as StoredPreview | { v: 1 };
    // Previews of earlier versions were computed when started: treat them as gone.
    return p.v === 2 ? p : undefined;
  }

  /**
   * Records a preview of `policyText` as IN_PROGRESS and returns when it started; the caller
   * enqueues the `lifecycle.preview` job that completes it. Refused (undefined) while another
   * preview of the repository is in progress.
   */
  async startPreview(repo: Repository, policyText: string): Promise<number | undefined> {
    const now = this.ctx.now();
    return await this.ctx.meta.transaction(async (tx) => {
      const current = await this.storedPreview(repo, tx);
      if (current?.status === 'IN_PROGRESS' && now - current.startedAt < PREVIEW_STALE_MS) return undefined;
      const stored: StoredPreview = { v: 2, status: 'IN_PROGRESS', policyText, startedAt: now };
      await tx.repositories.putPolicyText(repo.id, 'lifecycle-preview', JSON.stringify(stored), now);
      return now;
    });
  }

  /** The `lifecycle.preview` job: evaluates the preview started at `startedAt`, unless a newer one replaced it. */
  async completePreview(accountId: string, name: string, startedAt: number): Promise<void> {
    const repo = await this.ctx.meta.repositories.get(accountId, name);
    if (repo === undefined) return;
    const current = await this.storedPreview(repo);
    if (current === undefined || current.status !== 'IN_PROGRESS' || current.startedAt !== startedAt) return;
    let stored: StoredPreview;
    try {
      const { results, images } = await this.preview(repo, current.policyText);
      const pushed = new Map(images.map((i) => [i.digest, i.pushedAt]));
      stored = { ...current, status: 'COMPLETE', evaluatedAt: this.ctx.now(), results: results.map((r) => ({ ...r, pushedAt: pushed.get(r.digest) ?? 0 })) };
    } catch (err) {
      this.ctx.log.error({ err, repository: repo.name, account: repo.accountId }, 'lifecycle policy preview failed');
      stored = { ...current, status: 'FAILED', reason: err instanceof Error ? err.message : String(err) };
    }
    await this.ctx.meta.transaction(async (tx) => {
      // Still the same preview (a new start meanwhile wins).
      const now = await this.storedPreview(repo, tx);
      if (now?.startedAt !== startedAt || now.status !== 'IN_PROGRESS') return;
      await tx.repositories.putPolicyText(repo.id, 'lifecycle-preview', JSON.stringify(stored), this.ctx.now());
    });
  }

  /** Applies the repository's lifecycle policy (if it has one); with `dryRun`, only reports. */
  async run(repo: Repository, opts: { dryRun?: boolean } = {}): Promise<LifecycleRunResult | undefined> {
    const text = await this.ctx.meta.repositories.policyText(repo.id, 'lifecycle');
    if (text === undefined) return undefined;
    const { results } = await this.preview(repo, text);
    const out: LifecycleRunResult = { expired: [], archived: [], kept: [] };
    const picked = (r: LifecycleResult) => ({ digest: r.digest, tags: r.tags, appliedRulePriority: r.appliedRulePriority });
    if (opts.dryRun === true) {
      out.expired = results.filter((r) => r.action === 'expire').map(picked);
      out.archived = results.filter((r) => r.action === 'transition').map(picked);
      return out;
    }
    // Indexes first: an image is refused while an index lists it (to expire it, or to archive it
    // alone), so retry what was refused until a round does nothing more.
    let pending = results;
    for (;;) {
      const refused: LifecycleResult[] = [];
      for (const r of pending) {
        try {
          if (r.action === 'transition') {
            await this.archive.update(repo, r.digest, 'ARCHIVE', { rulePriority: r.appliedRulePriority });
            out.archived.push(picked(r));
            continue;
          }
          const { tags } = await this.manifests.delete(repo, r.digest);
          const now = this.ctx.now();
          await this.ctx.meta.events.append({
            accountId: repo.accountId,
            type: 'ECR Image Action',
            repository: repo.name,
            digest: r.digest,
            tag: null,
            detail: { 'action-type': 'EXPIRE', result: 'SUCCESS', 'repository-name': repo.name, 'image-digest': r.digest, 'image-tags': tags, 'rule-priority': r.appliedRulePriority },
            createdAt: now,
          });
          out.expired.push({ digest: r.digest, tags, appliedRulePriority: r.appliedRulePriority });
        } catch (e) {
          if (isRegistryError(e) && (e.code === 'ManifestReferenced' || e.code === 'StorageClassUpdateUnsupported')) refused.push(r);
          else if (isRegistryError(e) && e.code === 'ManifestUnknown') out.kept.push(r.digest);
          else throw e;
        }
      }
      if (refused.length === 0 || refused.length === pending.length) {
        out.kept.push(...refused.map((r) => r.digest));
        break;
      }
      pending = refused;
    }
    await this.ctx.meta.repositories.putPolicyText(repo.id, 'lifecycle-evaluated', String(this.ctx.now()), this.ctx.now());
    if (out.expired.length > 0 || out.archived.length > 0) {
      this.ctx.log.info({ repository: repo.name, account: repo.accountId, expired: out.expired.length, archived: out.archived.length }, 'lifecycle policy applied');
    }
    return out;
  }

  /** Runs every repository's lifecycle policy (the scheduled job); a repository that fails is logged and skipped. */
  async runAll(opts: { dryRun?: boolean; accountId?: string } = {}): Promise<Array<{ repository: Repository; result: LifecycleRunResult }>> {
    const out: Array<{ repository: Repository; result: LifecycleRunResult }> = [];
    for (let afterId: number | undefined; ; ) {
      const repos = await this.ctx.meta.repositories.withPolicy('lifecycle', { limit: 100, ...(afterId !== undefined ? { afterId } : {}) });
      for (const repo of repos) {
        if (opts.accountId !== undefined && repo.accountId !== opts.accountId) continue;
        try {
          const result = await this.run(repo, opts);
          if (result !== undefined) out.push({ repository: repo, result });
        } catch (err) {
          this.ctx.log.error({ err, repository: repo.name, account: repo.accountId }, 'lifecycle policy run failed');
        }
      }
      if (repos.length < 100) return out;
      afterId = repos[repos.length - 1]?.id;
    }
  }
}
