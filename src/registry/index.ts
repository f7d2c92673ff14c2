// The registry use-cases, composed.
import type { RegistryContext } from './context.ts';
import { BlobService } from './blobs.ts';
import { DEFAULT_GC_GRACE_PERIOD_SECONDS, GarbageCollector, type GcSettings, type RegistryHooks } from './gc.ts';
import { ArchiveService } from './archive.ts';
import { LifecycleService } from './lifecycle.ts';
import { PullTimeRecorder } from './pull-times.ts';
import { ManifestService } from './manifests.ts';
import { RepositoryService } from './repositories.ts';
import { UploadService } from './uploads.ts';

export type { RegistryContext } from './context.ts';
export type { BlobInfo } from './blobs.ts';
export type { PutManifestResult, StoredManifest } from './manifests.ts';
export type { ChunkOptions } from './uploads.ts';
export type { LifecycleRunResult } from './lifecycle.ts';
export { GarbageCollector, DEFAULT_GC_GRACE_PERIOD_SECONDS, digestOfBlobKey, type CollectOptions, type CollectResult, type FullResult, type RegistryHooks } from './gc.ts';

export interface RegistryOptions {
  /** Garbage collection (ADR 0014): the grace period, seconds (gc.gracePeriod; default 1 hour). */
  gc?: { gracePeriodSeconds?: number };
  /** Test seams between the steps of the push and collection protocols. */
  hooks?: RegistryHooks;
  /** Last pull times are written in batches this often (pullTimes.flushInterval; default 10 s). */
  pullTimes?: { flushIntervalSeconds?: number };
}

export class Registry {
  readonly repositories: RepositoryService;
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly lifecycle: LifecycleService;
  readonly archive: ArchiveService;
  /** Gathers last pull times; close() writes what is pending. */
  readonly pullTimes: PullTimeRecorder;
  /** The garbage collector (the gc.collect job and `berth gc` run its passes). */
  readonly gc: GarbageCollector;

  constructor(ctx: RegistryContext, opts: RegistryOptions = {}) {
    const gc: GcSettings = { gracePeriodMs: (opts.gc?.gracePeriodSeconds ?? DEFAULT_GC_GRACE_PERIOD_SECONDS) * 1000, hooks: opts.hooks ?? {} };
    this.repositories = new RepositoryService(ctx);
    this.blobs = new BlobService(ctx, gc);
    this.uploads = new UploadService(ctx, gc);
    this.pullTimes = new PullTimeRecorder(ctx.meta, ctx.now, ctx.log, { flushIntervalMs: (opts.pullTimes?.flushIntervalSeconds ?? 10) * 1000 });
    this.manifests = new ManifestService(ctx, gc, this.pullTimes);
    this.gc = new GarbageCollector(ctx, gc);
    this.archive = new ArchiveService(ctx);
    this.lifecycle = new LifecycleService(ctx, this.manifests, this.archive);
  }

  /** Writes what is pending (last pull times). */
  async close(): Promise<void> {
    await this.pullTimes.close();
  }
}
