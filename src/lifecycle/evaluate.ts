// The lifecycle policy evaluator: which images of a repository a policy expires or moves to the
// archive now. Pure: the caller gives the repository's images and the clock and applies the result.
//
// How ECR decides (the user guide's "Lifecycle policy evaluation rules" and the worked examples):
//  - Every rule looks at the images of its storage class whose tags fit its selection (for
//    `tagged`, each entry of the list must be matched by some tag of the image). Those images are
//    the rule's: a rule with a higher rulePriority number never acts on them, even when this rule
//    keeps them.
//  - A rule picks images by its count type. imageCountMoreThan keeps the newest countNumber of its
//    images and picks the rest; it counts every image its selection fits, including images that
//    earlier rules act on or keep (the "all images" example B depends on this). The since* types
//    pick images older than countNumber days.
//  - Rules are applied lowest rulePriority first; a rule acts only on picked images that no earlier
//    rule's selection fitted. So an image is acted on by at most one rule.
//  - An image an index in the repository lists stays while the index stays; expiring (or, for a
//    transition, archiving) the index in the same run frees it.
//  - Referrers follow their subject: when the subject is expired they are expired, when it moves to
//    the archive they move too.
import { ARCHIVE_MINIMUM_DAYS, type LifecycleActionType, type LifecyclePolicy, type LifecycleRule, type LifecycleSelection, type StorageClass } from './policy.ts';

export const DAY_MS = 86_400_000;

/** One image (manifest) of the repository as the evaluator sees it. Times are epoch milliseconds. */
export interface LifecycleImage {
  digest: string;
  /** Its tags; none means untagged. */
  tags: readonly string[];
  pushedAt: number;
  /** Last pull, if it was ever pulled. */
  lastPulledAt?: number;
  storageClass: StorageClass;
  /** When it entered the archive (for archived images). */
  archivedAt?: number;
  /** When it was last restored from the archive, if ever. Stands in for pushedAt (and, until it is pulled again, for lastPulledAt). */
  activatedAt?: number;
  /** An index (manifest list) in the repository lists it. */
  referencedByIndex?: boolean;
  /**
   * The digests of the indexes that list it. With them, expiring those indexes in the same run
   * frees the image; with only `referencedByIndex`, the image stays until a later run.
   */
  indexDigests?: readonly string[];
  /** It is a referrer of (an artifact about) the image with this digest. */
  subjectDigest?: string;
}

export interface LifecycleResult {
  digest: string;
  tags: string[];
  action: LifecycleActionType;
  /** The rule that acted; for a referrer following its subject, the rule that acted on the subject. */
  appliedRulePriority: number;
  /** The image's storage class now (before the action). */
  storageClass: StorageClass;
  /** Set when the image is acted on because its subject (this digest) is. */
  followsSubject?: string;
}

interface Act {
  action: LifecycleActionType;
  priority: number;
  subject?: string;
}

/** `*` matches any run of characters (also none); everything else matches itself. */
export function tagMatchesPattern(pattern: string, tag: string): boolean {
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  if (parts.length === 1) return tag === first;
  const last = parts[parts.length - 1] ?? '';
  if (tag.length < first.length + last.length || !tag.startsWith(first) || !tag.endsWith(last)) return false;
  let at = first.length;
  const end = tag.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? '';
    const found = tag.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** Whether the rule's tag selection fits an image with these tags. */
export function selectionMatchesTags(selection: LifecycleSelection, tags: readonly string[]): boolean {
  switch (selection.tagStatus) {
    case 'any':
      return true;
    case 'untagged':
      return tags.length === 0;
    case 'tagged':
      if (tags.length === 0) return false;
      if (selection.tagPrefixList !== undefined) return selection.tagPrefixList.every((p) => tags.some((t) => t.startsWith(p)));
      if (selection.tagPatternList !== undefined) return selection.tagPatternList.every((p) => tags.some((t) => tagMatchesPattern(p, t)));
      return false;
  }
}

/** The time an image is ordered by: when it entered its storage class (pushed, restored or archived). */
function orderTime(img: LifecycleImage): number {
  if (img.storageClass === 'archive') return img.archivedAt ?? img.pushedAt;
  return img.activatedAt ?? img.pushedAt;
}

/** The last sign of use for sinceImagePulled: the last pull, else the restore, else the push. */
function lastActivity(img: LifecycleImage): number {
  if (img.activatedAt !== undefined && (img.lastPulledAt === undefined || img.lastPulledAt < img.activatedAt)) return img.activatedAt;
  return img.lastPulledAt ?? img.pushedAt;
}

/** Newest first; of images with the same time, the greater digest counts as newer. */
function newestFirst(a: LifecycleImage, b: LifecycleImage): number {
  return orderTime(b) - orderTime(a) || (a.digest < b.digest ? 1 : a.digest > b.digest ? -1 : 0);
}

/** The images of `candidates` the rule picks by its count type. */
function pick(rule: LifecycleRule, candidates: LifecycleImage[], now: number): LifecycleImage[] {
  const { countType, countNumber } = rule.selection;
  const cutoff = now - countNumber * DAY_MS;
  switch (countType) {
    case 'imageCountMoreThan':
      return [...candidates].sort(newestFirst).slice(countNumber);
    case 'sinceImagePushed':
      return candidates.filter((i) => orderTime(i) < cutoff);
    case 'sinceImagePulled':
      return candidates.filter((i) => lastActivity(i) < cutoff);
    case 'sinceImageTransitioned': {
      const limit = Math.min(cutoff, now - ARCHIVE_MINIMUM_DAYS * DAY_MS);
      return candidates.filter((i) => i.storageClass === 'archive' && i.archivedAt !== undefined && i.archivedAt < limit);
    }
  }
}

/**
 * What `policy` does to `images` at time `now` (epoch ms): the images to expire or move to the
 * archive, each with the rule that decided, sorted by rule, then oldest first, then digest.
 */
export function evaluateLifecyclePolicy(policy: LifecyclePolicy, images: readonly LifecycleImage[], now: number): LifecycleResult[] {
  const byDigest = new Map<string, LifecycleImage>();
  for (const img of images) {
    if (byDigest.has(img.digest)) throw new TypeError(`evaluateLifecyclePolicy: image ${img.digest} is given twice`);
    byDigest.set(img.digest, img);
  }

  // 1. The rules, lowest rulePriority first. An image belongs to the first rule whose selection fits it.
  const rules = [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority);
  const claimed = new Set<string>();
  const byRule = new Map<string, Act>();
  for (const rule of rules) {
    const candidates = images.filter((i) => i.storageClass === rule.selection.storageClass && selectionMatchesTags(rule.selection, i.tags));
    for (const img of pick(rule, candidates, now)) {
      if (!claimed.has(img.digest)) byRule.set(img.digest, { action: rule.action.type, priority: rule.rulePriority });
    }
    for (const img of candidates) claimed.add(img.digest);
  }

  // 2. Referrers follow their subjects; images an index still lists stay. Holding an image back can
  // hold back others (its referrers, the images it lists), so repeat until nothing more is held.
  const referrers = new Map<string, LifecycleImage[]>();
  for (const img of images) {
    if (img.subjectDigest === undefined || img.subjectDigest === img.digest) continue;
    const list = referrers.get(img.subjectDigest) ?? [];
    list.push(img);
    referrers.set(img.subjectDigest, list);
  }
  const blocked = new Set<string>();
  for (;;) {
    const acts = withReferrers(byRule, blocked, referrers);
    const held = [...acts.keys()].filter((d) => isHeld(d, acts, byDigest));
    if (held.length === 0) return results(acts, byDigest);
    for (const d of held) blocked.add(d);
  }
}

function withReferrers(byRule: ReadonlyMap<string, Act>, blocked: ReadonlySet<string>, referrers: ReadonlyMap<string, LifecycleImage[]>): Map<string, Act> {
  const acts = new Map<string, Act>();
  for (const [d, a] of byRule) if (!blocked.has(d)) acts.set(d, a);
  const queue = [...acts.keys()];
  for (let subject = queue.pop(); subject !== undefined; subject = queue.pop()) {
    const s = acts.get(subject);
    if (s === undefined) continue;
    for (const r of referrers.get(subject) ?? []) {
      if (blocked.has(r.digest)) continue;
      const current = acts.get(r.digest);
      // An action only ever grows (none → transition → expire), so this ends.
      const follows = s.action === 'expire' ? current?.action !== 'expire' : current === undefined && r.storageClass === 'standard';
      if (follows) {
        acts.set(r.digest, { action: s.action, priority: s.priority, subject });
        queue.push(r.digest);
      }
    }
  }
  return acts;
}

/** Whether an index that lists the image stays (for a transition: stays in the standard class). */
function isHeld(digest: string, acts: ReadonlyMap<string, Act>, byDigest: ReadonlyMap<string, LifecycleImage>): boolean {
  const img = byDigest.get(digest);
  const act = acts.get(digest);
  if (img === undefined || act === undefined) return false;
  const indexes = (img.indexDigests ?? []).filter((d) => d !== digest);
  if (indexes.length === 0) return img.referencedByIndex === true;
  return indexes.some((d) => {
    const indexAct = acts.get(d)?.action;
    if (indexAct === 'expire') return false;
    if (act.action === 'transition') return !(indexAct === 'transition' || byDigest.get(d)?.storageClass === 'archive');
    return true;
  });
}

function results(acts: ReadonlyMap<string, Act>, byDigest: ReadonlyMap<string, LifecycleImage>): LifecycleResult[] {
  const out: Array<LifecycleResult & { at: number }> = [];
  for (const [digest, a] of acts) {
    const img = byDigest.get(digest);
    if (img === undefined) continue;
    out.push({
      digest,
      tags: [...img.tags],
      action: a.action,
      appliedRulePriority: a.priority,
      storageClass: img.storageClass,
      ...(a.subject !== undefined ? { followsSubject: a.subject } : {}),
      at: orderTime(img),
    });
  }
  out.sort((x, y) => x.appliedRulePriority - y.appliedRulePriority || x.at - y.at || (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0));
  return out.map(({ at: _at, ...r }) => r);
}
