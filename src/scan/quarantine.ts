// Quarantine (beyond ECR): pulls of an image whose last completed scan has findings at or above a
// chosen severity are refused (403 DENIED on /v2/, naming the findings) until a newer scan clears
// them or an administrator exempts the digest. The setting is per registry (account policy kind
// `scanning`'s sibling `quarantine`), overridable per repository (`quarantine` repository document:
// a severity, or OFF); exemptions are per repository (`quarantine-exemptions`: digests). Settings
// are cached per process for a few seconds; an image never scanned is not quarantined.
import type { MetaStore, Repository } from '../meta/index.ts';
import type { FindingSeverity } from './types.ts';
import { SEVERITIES, type Finding } from './vulndb.ts';

export type QuarantineSetting = FindingSeverity | 'OFF';

const CACHE_MS = 5_000;

export interface QuarantineVerdict {
  severity: FindingSeverity;
  /** How many findings reach the threshold, and the names of the first few. */
  count: number;
  names: string[];
}

/** Whether a severity reaches the threshold (CRITICAL reaches HIGH, ...). */
export function reaches(severity: string, threshold: FindingSeverity): boolean {
  const s = SEVERITIES.indexOf(severity as FindingSeverity);
  return s >= 0 && s <= SEVERITIES.indexOf(threshold);
}

export function parseQuarantineSetting(v: string): QuarantineSetting | undefined {
  const up = v.toUpperCase();
  return up === 'OFF' || (SEVERITIES as readonly string[]).includes(up) ? (up as QuarantineSetting) : undefined;
}

export class Quarantine {
  private readonly meta: MetaStore;
  private readonly now: () => number;
  private readonly cache = new Map<string, { value: unknown; at: number }>();

  constructor(meta: MetaStore, now: () => number) {
    this.meta = meta;
    this.now = now;
  }

  /** The threshold that applies to the repository, if any. */
  async threshold(repo: Repository): Promise<FindingSeverity | undefined> {
    const own = await this.cached(`r${repo.id}`, async () => await this.meta.repositories.policyText(repo.id, 'quarantine'));
    const setting = (own ?? (await this.cached(`a${repo.accountId}`, async () => await this.meta.accountPolicies.get(repo.accountId, 'quarantine'))));
    return setting === undefined || setting === 'OFF' ? undefined : (setting as FindingSeverity);
  }

  /** Why pulling the image is refused, or undefined when it may be pulled. */
  async verdict(repo: Repository, digest: string): Promise<QuarantineVerdict | undefined> {
    const threshold = await this.threshold(repo);
    if (threshold === undefined) return undefined;
    const summary = (await this.meta.scans.summaries(repo.id, [digest])).get(digest);
    if (summary?.status !== 'COMPLETE' || summary.counts === null) return undefined;
    const count = Object.entries(summary.counts)
      .filter(([s]) => reaches(s, threshold))
      .reduce((n, [, c]) => n + c, 0);
    if (count === 0) return undefined;
    const exempt = await this.cached(`e${repo.id}`, async () => await this.meta.repositories.policyText(repo.id, 'quarantine-exemptions'));
    if (exempt !== undefined && (JSON.parse(exempt) as string[]).includes(digest)) return undefined;
    const scan = await this.meta.scans.get(repo.id, digest);
    const names = ((scan?.findings ?? []) as Finding[]).filter((f) => reaches(f.severity, threshold)).map((f) => `${f.name} (${f.severity}, ${f.package.name} ${f.package.version})`);
    return { severity: threshold, count, names: names.slice(0, 5) };
  }

  /** Forget cached settings (after this process changed them). */
  invalidate(): void {
    this.cache.clear();
  }

  private async cached(key: string, read: () => Promise<string | undefined>): Promise<string | undefined> {
    const hit = this.cache.get(key);
    if (hit !== undefined && this.now() - hit.at < CACHE_MS) return hit.value as string | undefined;
    const value = await read();
    this.cache.set(key, { value, at: this.now() });
    return value;
  }
}

/** The DENIED message of a quarantined image. */
export function quarantineMessage(repo: Repository, digest: string, v: QuarantineVerdict): string {
  const more = v.count > v.names.length ? ` and ${v.count - v.names.length} more` : '';
  return `image ${digest} in repository ${repo.name} is quarantined: ${v.count} finding${v.count === 1 ? '' : 's'} at or above ${v.severity}: ${v.names.join(', ')}${more}; rescan it once fixed, or ask an administrator to exempt it`;
}
