// Lifecycle policies applied to a repository: its images as the engine (src/lifecycle) sees them,
// a preview (what a policy would do now), and a run that expires what the policy selects, writing
// an `ECR Image Action` event with action-type EXPIRE per image. Indexes go before the images they
// list; an image an index outside the run still lists stays (ECR never expires it before its index).
import { isRegistryError } from '../core/errors.ts';
import { evaluateLifecyclePolicy, parseLifecyclePolicy, type LifecycleImage, type LifecycleResult } from '../lifecycle/index.ts';
import type { MetaStore, Repository } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';
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
        storageClass: 'standard',
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
  /** Selected images that stayed (an index outside the run lists them, or they went meanwhile). */
  kept: string[];
}

export class LifecycleService {
  private readonly ctx: RegistryContext;
  private readonly manifests: ManifestService;

  constructor(ctx: RegistryContext, manifests: ManifestService) {
    this.ctx = ctx;
    this.manifests = manifests;
  }

  /** What `policyText` would do to the repository now. */
  async preview(repo: Repository, policyText: string): Promise<{ results: LifecycleResult[]; images: LifecycleImage[] }> {
    const policy = parseLifecyclePolicy(policyText);
    const images = await lifecycleImages(this.ctx.meta, repo);
    return { results: evaluateLifecyclePolicy(policy, images, this.ctx.now()), images };
  }

  /** Applies the repository's lifecycle policy (if it has one); with `dryRun`, only reports. */
  async run(repo: Repository, opts: { dryRun?: boolean } = {}): Promise<LifecycleRunResult | undefined> {
    const text = await this.ctx.meta.repositories.policyText(repo.id, 'lifecycle');
    if (text === undefined) return undefined;
    const { results } = await this.preview(repo, text);
    const expire = results.filter((r) => r.action === 'expire');
    const out: LifecycleRunResult = { expired: [], kept: [] };
    if (opts.dryRun === true) {
      out.expired = expire.map((r) => ({ digest: r.digest, tags: r.tags, appliedRulePriority: r.appliedRulePriority }));
      return out;
    }
    // Indexes first: an image is refused while an index lists it, so retry what was refused until
    // a round deletes nothing more.
    let pending = expire;
    for (;;) {
      const refused: LifecycleResult[] = [];
      for (const r of pending) {
        try {
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
          if (isRegistryError(e) && e.code === 'ManifestReferenced') refused.push(r);
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
    if (out.expired.length > 0) this.ctx.log.info({ repository: repo.name, account: repo.accountId, expired: out.expired.length }, 'lifecycle policy expired images');
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
