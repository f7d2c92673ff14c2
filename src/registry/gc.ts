// Online garbage collection (docs/adr/0014-online-garbage-collection.md): a queue of candidates,
// each decided under a row lock in its own transaction, beside pushes that touch a blob's row before
// they write its bytes or links.
//
// Two levels of garbage:
// - a link (`repository_blobs` row) no manifest of its repository references, older than the grace
//   period: deleted, and its blob queued;
// - a blob (`blobs` row) no repository holds, last touched before the grace period: its bytes are
//   deleted from storage, then its row, in one transaction that holds the row lock.
// The queue entry is removed in the transaction that decides it (first, which on SQLite also takes
// the write lock for the whole decision); a crash leaves it queued and the next pass decides again.
import { tryParseDigest } from '../core/digest.ts';
import type { MetaStore } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';

/** The default grace period: a push has this long between its blobs and its manifest. */
export const DEFAULT_GC_GRACE_PERIOD_SECONDS = 3600;

/**
 * Test seams: awaited between the steps of the protocol, so that a test can run another operation
 * at exactly that point. Those called inside a transaction (`manifestLinksLocked`, `gcLinkLocked`,
 * `gcBlobLocked`) must not await database work of their own: on SQLite the transaction holds the
 * only connection; start the other operation and let it wait.
 */
export interface RegistryHooks {
  /** An upload completion touched the blob's row and has not placed its bytes yet. */
  uploadTouched?(digest: string): Promise<void>;
  /** An upload's bytes are in place; the link transaction has not started. */
  uploadPlaced?(digest: string): Promise<void>;
  /** A manifest PUT holds its locks on the links it references (inside its transaction). */
  manifestLinksLocked?(digest: string): Promise<void>;
  /** The collector holds the link's lock (inside the decision's transaction), before its check. */
  gcLinkLocked?(repositoryId: number, digest: string): Promise<void>;
  /** The collector holds the blob row's lock (inside the decision's transaction), before its check. */
  gcBlobLocked?(digest: string): Promise<void>;
}

/** What the use-cases that queue candidates and the collector share. */
export interface GcSettings {
  /** How long a link or a touched blob is protected (ms). */
  gracePeriodMs: number;
  hooks: RegistryHooks;
}

/** Settings with the default grace period and no hooks. */
export function defaultGcSettings(): GcSettings {
  return { gracePeriodMs: DEFAULT_GC_GRACE_PERIOD_SECONDS * 1000, hooks: {} };
}

export interface CollectOptions {
  /** Decide without changing anything: report what a pass would remove. */
  dryRun?: boolean;
  /** Decide at most this many queue entries (the rest stay queued for the next pass). */
  limit?: number;
  /** Entries read per query. */
  batchSize?: number;
}

export interface CollectResult {
  /** Links removed (or, dry-run, that would be). */
  linksRemoved: number;
  /** Blobs whose bytes and row were removed (or would be). */
  blobsRemoved: number;
  /** Bytes of those blobs. */
  bytesFreed: number;
  /** Queue entries decided (with dry-run: also the blobs the removed links would queue). */
  candidates: number;
}

export interface FullResult extends CollectResult {
  /** Entries the walk of the rows queued (unlinked blobs, unused links). */
  queued: number;
  /** Storage objects under blobs/ that no row knows, older than the grace period, removed (or that would be). */
  orphansRemoved: number;
  orphanBytes: number;
}

interface Entry {
  kind: 'link' | 'blob';
  repositoryId: number;
  digest: string;
  dueAt: number;
}

type Decision = { outcome: 'skipped' | 'absent' | 'kept' | 'young' } | { outcome: 'removed'; size: number };

const BLOBS_PREFIX = 'blobs/';

/** `blobs/<algorithm>/<xx>/<hex>` → its digest, or null for any other key. */
export function digestOfBlobKey(key: string): string | null {
  const m = /^blobs\/([a-z0-9]+)\/([0-9a-f]{2})\/([0-9a-f]+)$/.exec(key);
  if (m === null || !(m[3] as string).startsWith(m[2] as string)) return null;
  const d = tryParseDigest(`${m[1] as string}:${m[3] as string}`);
  return d === null ? null : d.digest;
}

export class GarbageCollector {
  private readonly ctx: RegistryContext;
  private readonly settings: GcSettings;

  constructor(ctx: RegistryContext, settings: GcSettings) {
    this.ctx = ctx;
    this.settings = settings;
  }

  get gracePeriodMs(): number {
    return this.settings.gracePeriodMs;
  }

  /** One pass over the due queue entries (see the top of this file). */
  async collect(opts: CollectOptions = {}): Promise<CollectResult> {
    const started = Date.now();
    const now = this.ctx.now();
    const result = opts.dryRun === true ? await this.simulate(now, opts) : await this.sweep(now, opts);
    const took = Date.now() - started;
    const fields = { ...result, dryRun: opts.dryRun === true, durationMs: took };
    if (result.candidates > 0) this.ctx.log.info(fields, opts.dryRun === true ? 'garbage collection (dry run): bytes that would be reclaimed' : 'garbage collection: bytes reclaimed');
    else this.ctx.log.debug(fields, 'garbage collection: nothing due');
    return result;
  }

  private async sweep(now: number, opts: CollectOptions): Promise<CollectResult> {
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    const batchSize = Math.max(1, opts.batchSize ?? 200);
    const result: CollectResult = { linksRemoved: 0, blobsRemoved: 0, bytesFreed: 0, candidates: 0 };
    // Entries whose decision failed stay queued for the next pass; this one skips them.
    const failed = new Set<string>();
    while (result.candidates < limit) {
      const batch = (await this.ctx.meta.gcQueue.due(now, batchSize + failed.size)).filter((e) => !failed.has(entryKey(e)));
      if (batch.length === 0) break;
      for (const e of batch.slice(0, Math.min(batchSize, limit - result.candidates))) {
        let d: Decision;
        try {
          d = e.kind === 'link' ? await this.decideLink(e, now) : await this.decideBlob(e, now);
        } catch (err) {
          failed.add(entryKey(e));
          this.ctx.log.warn({ err, kind: e.kind, repositoryId: e.repositoryId, digest: e.digest }, 'garbage collection: a candidate could not be decided; it stays queued');
          continue;
        }
        if (d.outcome === 'skipped') continue;
        result.candidates++;
        if (d.outcome === 'removed') {
          if (e.kind === 'link') result.linksRemoved++;
          else {
            result.blobsRemoved++;
            result.bytesFreed += d.size;
          }
        }
      }
    }
    return result;
  }

  /**
   * A link: locked FOR UPDATE, then (a new statement, a fresh snapshot) is any manifest of its
   * repository using it? If not and it is older than the grace period, it goes and its blob is
   * queued. A manifest PUT holds FOR SHARE on the links it references, so the two serialise.
   */
  private async decideLink(e: Entry, now: number): Promise<Decision> {
    const grace = this.settings.gracePeriodMs;
    return await this.ctx.meta.transaction(async (tx): Promise<Decision> => {
      if (!(await tx.gcQueue.take(e, now))) return { outcome: 'skipped' };
      const link = await tx.blobs.getLink(e.repositoryId, e.digest, { lock: true });
      if (link === undefined) {
        // Gone already (or never made: an upload that touched the blob and did not finish): the blob
        // itself is the candidate now.
        await tx.gcQueue.add([{ kind: 'blob', repositoryId: 0, digest: e.digest }], now);
        return { outcome: 'absent' };
      }
      await this.settings.hooks.gcLinkLocked?.(e.repositoryId, e.digest);
      if ((await tx.manifests.blobUsers(e.repositoryId, e.digest, 1)).length > 0) return { outcome: 'kept' };
      if (link.createdAt > now - grace) {
        await tx.gcQueue.add([{ kind: 'link', repositoryId: e.repositoryId, digest: e.digest }], link.createdAt + grace);
        return { outcome: 'young' };
      }
      // The blob is queued due now: its own decision keeps it while another repository holds it or
      // a writer touched it within the grace period.
      await tx.blobs.unlink(e.repositoryId, e.digest, now);
      return { outcome: 'removed', size: 0 };
    });
  }

  /**
   * A blob: its row locked FOR UPDATE (waiting for a writer that touched it), then no link and not
   * touched within the grace period? Its bytes are deleted, then its row, before the commit. An
   * upload that touches the row after this waits for the commit and writes the bytes again.
   */
  private async decideBlob(e: Entry, now: number): Promise<Decision> {
    const grace = this.settings.gracePeriodMs;
    return await this.ctx.meta.transaction(async (tx): Promise<Decision> => {
      if (!(await tx.gcQueue.take(e, now))) return { outcome: 'skipped' };
      const row = await tx.blobs.lock(e.digest);
      if (row === undefined) return { outcome: 'absent' };
      await this.settings.hooks.gcBlobLocked?.(e.digest);
      if ((await tx.blobs.countLinks(e.digest)) > 0) return { outcome: 'kept' };
      if (row.touchedAt > now - grace) {
        await tx.gcQueue.add([{ kind: 'blob', repositoryId: 0, digest: e.digest }], row.touchedAt + grace);
        return { outcome: 'young' };
      }
      await this.ctx.blobs.delete(e.digest);
      await tx.blobs.delete(e.digest);
      return { outcome: 'removed', size: row.size };
    });
  }

  /**
   * The dry run: every due entry decided as a pass would, without locks or writes. A link that
   * would go makes its blob a candidate, judged without the links the pass would remove.
   */
  private async simulate(now: number, opts: CollectOptions): Promise<CollectResult> {
    const meta = this.ctx.meta;
    const grace = this.settings.gracePeriodMs;
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    const batchSize = Math.max(1, opts.batchSize ?? 200);
    const result: CollectResult = { linksRemoved: 0, blobsRemoved: 0, bytesFreed: 0, candidates: 0 };
    const removedLinks = new Map<string, number>();
    // Blobs to judge: queued ones, and those whose link the pass would remove (counted as candidates too).
    const blobs = new Set<string>();
    const queuedBlobs = new Set<string>();
    let after: Entry | undefined;
    while (result.candidates < limit) {
      const batch = await meta.gcQueue.due(now, batchSize, after);
      if (batch.length === 0) break;
      after = batch[batch.length - 1];
      for (const e of batch) {
        if (result.candidates >= limit) break;
        result.candidates++;
        if (e.kind === 'blob') {
          blobs.add(e.digest);
          queuedBlobs.add(e.digest);
          continue;
        }
        const link = await meta.blobs.getLink(e.repositoryId, e.digest);
        if (link === undefined) {
          blobs.add(e.digest);
          queuedBlobs.add(e.digest);
          continue;
        }
        if ((await meta.manifests.blobUsers(e.repositoryId, e.digest, 1)).length > 0 || link.createdAt > now - grace) continue;
        result.linksRemoved++;
        removedLinks.set(e.digest, (removedLinks.get(e.digest) ?? 0) + 1);
        blobs.add(e.digest);
      }
    }
    for (const digest of blobs) {
      const row = await meta.blobs.getRow(digest);
      if (row === undefined) continue;
      if ((await meta.blobs.countLinks(digest)) - (removedLinks.get(digest) ?? 0) > 0 || row.touchedAt > now - grace) continue;
      result.blobsRemoved++;
      result.bytesFreed += row.size;
    }
    result.candidates += [...blobs].filter((d) => !queuedBlobs.has(d)).length;
    return result;
  }

  /**
   * `berth gc --full`, an operator's tool that nothing schedules: queues every unlinked blob and
   * every unused link found by a walk of the rows, removes storage objects under blobs/ that no
   * row knows (left by a crash between bytes and row before ADR 0014) once older than the grace
   * period, then runs a pass. Its cost grows with the registry's size.
   */
  async full(opts: { dryRun?: boolean } = {}): Promise<FullResult> {
    const now = this.ctx.now();
    const dryRun = opts.dryRun === true;
    const queued = dryRun ? 0 : await this.ctx.meta.gcQueue.seedUnreferenced(now);
    let orphansRemoved = 0;
    let orphanBytes = 0;
    for await (const key of this.ctx.blobs.driver.list(BLOBS_PREFIX)) {
      const digest = digestOfBlobKey(key);
      if (digest === null) continue;
      if ((await this.ctx.meta.blobs.getRow(digest)) !== undefined) continue;
      const removed = await this.removeOrphan(this.ctx.meta, key, digest, now, dryRun);
      if (removed !== null) {
        orphansRemoved++;
        orphanBytes += removed;
      }
    }
    if (orphansRemoved > 0) this.ctx.log.info({ orphansRemoved, orphanBytes, dryRun }, dryRun ? 'garbage collection (dry run): storage objects without a row' : 'garbage collection: storage objects without a row removed');
    const pass = await this.collect({ dryRun });
    return { ...pass, queued, orphansRemoved, orphanBytes };
  }

  /**
   * Removes an object under blobs/ that no row knows, if older than the grace period; its size, or
   * null when it stays. A concurrent upload of that digest touches (creates) the row first: when
   * that happened after the check here and the upload found these bytes in place, its link
   * transaction finds them gone and the upload fails; nothing is ever linked without its bytes.
   */
  private async removeOrphan(meta: MetaStore, key: string, digest: string, now: number, dryRun: boolean): Promise<number | null> {
    const info = await this.ctx.blobs.driver.stat(key);
    if (info === null || info.modifiedAt > now - this.settings.gracePeriodMs) return null;
    if (dryRun) return info.size;
    return await meta.transaction(async (tx) => {
      // On SQLite this write takes the write lock before the check (another process may be serving).
      await tx.gcQueue.take({ kind: 'blob', repositoryId: 0, digest }, now);
      if ((await tx.blobs.lock(digest)) !== undefined) return null;
      await this.ctx.blobs.delete(digest);
      return info.size;
    });
  }
}

function entryKey(e: Entry): string {
  return `${e.kind} ${e.repositoryId} ${e.digest}`;
}
