// Last recorded pull times, cheaply: a pull never waits for, nor causes, its own database write.
// Pulls are gathered in memory (the latest time per image) and written in one batch every
// flushInterval; an image whose stored time is less than a minute old is not gathered at all (ECR
// only promises to refresh the time at least daily). Several processes write in any order: the
// store keeps the later time. Pulls by a principal on the registry's pull-time exclusion list
// (RegisterPullTimeUpdateExclusion) are not recorded; the list is cached per registry for a few
// seconds, and this process's own changes to it apply at once.
import type { Logger } from 'pino';
import type { ManifestMeta, MetaStore, Repository } from '../meta/index.ts';

/** How old a stored pull time must be before a pull refreshes it. */
export const PULL_RECORD_RESOLUTION_MS = 60_000;
/** How long a registry's exclusion list is trusted without reading it again. */
const EXCLUSION_CACHE_MS = 5_000;
/** Pending images beyond which a flush starts early. */
const MAX_PENDING = 10_000;

export interface PullTimeOptions {
  flushIntervalMs: number;
}

export class PullTimeRecorder {
  private readonly meta: MetaStore;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly pending = new Map<string, { repositoryId: number; digest: string; at: number }>();
  private readonly exclusions = new Map<string, { arns: Set<string>; readAt: number }>();
  /** Exclusion checks under way; a flush waits for them. */
  private readonly checking = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly flushIntervalMs: number;

  constructor(meta: MetaStore, now: () => number, log: Logger, opts: PullTimeOptions) {
    this.meta = meta;
    this.now = now;
    this.log = log;
    this.flushIntervalMs = opts.flushIntervalMs;
  }

  /**
   * Notes a pull of `m` by a caller known by `callerArns` (its ARN, and for a role session the
   * role's ARN). Never throws and never waits for the database.
   */
  note(repo: Repository, m: ManifestMeta, callerArns: readonly string[]): void {
    const at = this.now();
    if (m.lastPulledAt !== null && at - m.lastPulledAt < PULL_RECORD_RESOLUTION_MS) return;
    const key = `${m.repositoryId} ${m.digest}`;
    const queued = this.pending.get(key);
    if (queued !== undefined && at - queued.at < PULL_RECORD_RESOLUTION_MS) return;
    const check = this.excluded(repo.accountId, callerArns)
      .then((excluded) => {
        if (excluded) return;
        this.pending.set(key, { repositoryId: m.repositoryId, digest: m.digest, at });
        if (this.pending.size >= MAX_PENDING) void this.flush();
        else this.arm();
      })
      .catch((err: unknown) => this.log.warn({ err, digest: m.digest }, 'could not check the pull-time exclusions'))
      .finally(() => this.checking.delete(check));
    this.checking.add(check);
  }

  /** Forget the cached exclusion list of a registry (after this process changed it). */
  invalidate(accountId: string): void {
    this.exclusions.delete(accountId);
  }

  /** Writes what is pending (after the exclusion checks under way); resolves when it is written (or failed and was logged). */
  async flush(): Promise<void> {
    await Promise.all([...this.checking]);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.meta.transaction(async (tx) => await tx.manifests.recordPulls(batch));
      } catch (err) {
        this.log.warn({ err, images: batch.length }, 'could not record pull times');
      }
    });
    await this.flushing;
  }

  /** Stops the timer after writing what is pending. */
  async close(): Promise<void> {
    await this.flush();
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  private async excluded(accountId: string, arns: readonly string[]): Promise<boolean> {
    if (arns.length === 0) return false;
    const now = this.now();
    let cached = this.exclusions.get(accountId);
    if (cached === undefined || now - cached.readAt > EXCLUSION_CACHE_MS) {
      const set = new Set<string>();
      for (let after: string | undefined; ; ) {
        const page = await this.meta.pullTimeExclusions.list(accountId, { after, limit: 500 });
        for (const e of page) set.add(e.principalArn);
        if (page.length < 500) break;
        after = page[page.length - 1]?.principalArn;
      }
      cached = { arns: set, readAt: now };
      this.exclusions.set(accountId, cached);
    }
    return arns.some((a) => cached.arns.has(a));
  }
}
