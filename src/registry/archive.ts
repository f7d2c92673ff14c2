// The archive storage class (ECR's UpdateImageStorageClass and lifecycle `transition` rules). An
// archived image stays listed and described, with its tags, but is not pulled (404) or scanned
// until it is restored, by UpdateImageStorageClass or by pushing it again. What moves with an image:
// the manifests an index lists (unless another active index of the repository lists them too) and
// the image's referrers (signatures, SBOMs), as the lifecycle engine moves them. A manifest an
// active index lists cannot be archived on its own. Blobs stay where they are (content is shared
// across repositories and images), so a restore is immediate: berth never shows ACTIVATING for long.
// docs/adr/0016-archive-and-pull-times.md.
import { RegistryError } from '../core/errors.ts';
import type { ImageStatus, ManifestMeta, MetaStore, Repository } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';

export interface StorageClassChange {
  /** The image's status afterwards. */
  status: ImageStatus;
  /** Every manifest whose status changed (the image, listed manifests, referrers). */
  changed: string[];
}

async function mustGet(tx: MetaStore, repo: Repository, digest: string): Promise<ManifestMeta> {
  const m = await tx.manifests.getMeta(repo.id, digest);
  if (m === undefined) throw new RegistryError('ManifestUnknown', `manifest ${digest} is not in repository ${repo.name}`, { digest });
  return m;
}

/** The image, then what goes with it: listed manifests (depth first) and referrers of any of them. */
async function withDependents(tx: MetaStore, repo: Repository, digest: string, keep: (m: ManifestMeta) => Promise<boolean>): Promise<ManifestMeta[]> {
  const out = new Map<string, ManifestMeta>();
  const visit = async (m: ManifestMeta): Promise<void> => {
    if (out.has(m.digest)) return;
    out.set(m.digest, m);
    for (const ref of await tx.manifests.references(repo.id, m.digest)) {
      if (ref.kind !== 'manifest') continue;
      const child = await tx.manifests.getMeta(repo.id, ref.childDigest);
      if (child !== undefined && (await keep(child))) await visit(child);
    }
    for (const r of await tx.manifests.referrers(repo.id, m.digest)) if (await keep(r)) await visit(r);
  };
  await visit(await mustGet(tx, repo, digest));
  return [...out.values()];
}

/** Archives the image (and what goes with it); refused while an active index lists it. */
export async function archiveImage(tx: MetaStore, repo: Repository, digest: string, now: number): Promise<StorageClassChange> {
  const m = await mustGet(tx, repo, digest);
  if (m.status === 'ARCHIVED') return { status: 'ARCHIVED', changed: [] };
  for (const parent of await tx.manifests.parents(repo.id, digest)) {
    const p = await tx.manifests.getMeta(repo.id, parent);
    if (p !== undefined && p.status !== 'ARCHIVED') {
      throw new RegistryError('StorageClassUpdateUnsupported', `image ${digest} is listed by the active image index ${parent} in repository ${repo.name}; archive the index instead`, { digest, index: parent });
    }
  }
  const moving = new Set<string>([digest]);
  // A listed manifest goes along unless an index outside this move still needs it active.
  const goesAlong = async (child: ManifestMeta): Promise<boolean> => {
    if (child.status === 'ARCHIVED') return false;
    const parents = await tx.manifests.parents(repo.id, child.digest);
    for (const parent of parents) {
      if (moving.has(parent)) continue;
      const p = await tx.manifests.getMeta(repo.id, parent);
      if (p !== undefined && p.status !== 'ARCHIVED') return false;
    }
    moving.add(child.digest);
    return true;
  };
  const all = await withDependents(tx, repo, digest, goesAlong);
  const changed = await tx.manifests.setStatus(
    repo.id,
    all.map((x) => x.digest),
    'ARCHIVED',
    now,
  );
  return { status: 'ARCHIVED', changed };
}

/** Restores the image (and what went with it) to the standard storage class. */
export async function restoreImage(tx: MetaStore, repo: Repository, digest: string, now: number): Promise<StorageClassChange> {
  const all = await withDependents(tx, repo, digest, async (x) => x.status !== 'ACTIVE');
  const changed = await tx.manifests.setStatus(
    repo.id,
    all.map((x) => x.digest),
    'ACTIVE',
    now,
  );
  return { status: 'ACTIVE', changed };
}

/** Storage class changes with their events (`ECR Image Action`, action-type ARCHIVE or RESTORE). */
export class ArchiveService {
  private readonly ctx: RegistryContext;

  constructor(ctx: RegistryContext) {
    this.ctx = ctx;
  }

  async update(repo: Repository, digest: string, target: 'ARCHIVE' | 'STANDARD', opts: { rulePriority?: number } = {}): Promise<StorageClassChange> {
    const now = this.ctx.now();
    return await this.ctx.meta.transaction(async (tx) => {
      const change = target === 'ARCHIVE' ? await archiveImage(tx, repo, digest, now) : await restoreImage(tx, repo, digest, now);
      for (const d of change.changed) {
        await tx.events.append({
          accountId: repo.accountId,
          type: 'ECR Image Action',
          repository: repo.name,
          digest: d,
          tag: null,
          detail: {
            'action-type': target === 'ARCHIVE' ? 'ARCHIVE' : 'RESTORE',
            result: 'SUCCESS',
            'repository-name': repo.name,
            'image-digest': d,
            ...(opts.rulePriority !== undefined ? { 'rule-priority': opts.rulePriority } : {}),
          },
          createdAt: now,
        });
      }
      return change;
    });
  }
}
