// The registry use-cases, composed.
import type { RegistryContext } from './context.ts';
import { BlobService } from './blobs.ts';
import { DEFAULT_GC_GRACE_PERIOD_SECONDS, GarbageCollector, type GcSettings, type RegistryHooks } from './gc.ts';
import { LifecycleService } from './lifecycle.ts';
import { ManifestService } from './manifests.ts';
import { RepositoryService } from './repositories.ts';
import { UploadService } from './uploads.ts';

export type { RegistryContext } from './context.ts';
export type { BlobInfo } from './blobs.ts';
export type { PutManifestResult } from './manifests.ts';
export type { ChunkOptions } from './uploads.ts';
export type { LifecycleRunResult } from './lifecycle.ts';
export { GarbageCollector, DEFAULT_GC_GRACE_PERIOD_SECONDS, digestOfBlobKey, type CollectOptions, type CollectResult, type FullResult, type RegistryHooks } from './gc.ts';

export interface RegistryOptions {
  /** Garbage collection (ADR 0014): the grace period, seconds (gc.gracePeriod; default 1 hour). */
  gc?: { gracePeriodSeconds?: number };
  /** Test seams between the steps of the push and collection protocols. */
  hooks?: RegistryHooks;
}

export class Registry {
  readonly repositories: RepositoryService;
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly lifecycle: LifecycleService;
  /** The garbage collector (the gc.collect job and `berth gc` run its passes). */
  readonly gc: GarbageCollector;

  constructor(ctx: RegistryContext, opts: RegistryOptions = {}) {
    const gc: GcSettings = { gracePeriodMs: (opts.gc?.gracePeriodSeconds ?? DEFAULT_GC_GRACE_PERIOD_SECONDS) * 1000, hooks: opts.hooks ?? {} };
    this.repositories = new RepositoryService(ctx);
    this.blobs = new BlobService(ctx, gc);
    this.uploads = new UploadService(ctx, gc);
    this.manifests = new ManifestService(ctx, gc);
    this.gc = new GarbageCollector(ctx, gc);
    this.lifecycle = new LifecycleService(ctx, this.manifests);
  }
}
