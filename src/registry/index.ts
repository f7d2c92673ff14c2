// The registry use-cases, composed.
import type { RegistryContext } from './context.ts';
import { BlobService } from './blobs.ts';
import { LifecycleService } from './lifecycle.ts';
import { ManifestService } from './manifests.ts';
import { RepositoryService } from './repositories.ts';
import { UploadService } from './uploads.ts';

export type { RegistryContext } from './context.ts';
export type { BlobInfo } from './blobs.ts';
export type { PutManifestResult } from './manifests.ts';
export type { ChunkOptions } from './uploads.ts';
export type { LifecycleRunResult } from './lifecycle.ts';

export class Registry {
  readonly repositories: RepositoryService;
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly lifecycle: LifecycleService;

  constructor(ctx: RegistryContext) {
    this.repositories = new RepositoryService(ctx);
    this.blobs = new BlobService(ctx);
    this.uploads = new UploadService(ctx);
    this.manifests = new ManifestService(ctx);
    this.lifecycle = new LifecycleService(ctx, this.manifests);
  }
}
