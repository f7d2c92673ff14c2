// What the registry use-cases need, handed in by the composition root.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/index.ts';
import type { BlobStore, UploadStore } from '../storage/index.ts';

export interface RegistryContext {
  meta: MetaStore;
  blobs: BlobStore;
  uploads: UploadStore;
  now: () => number;
  log: Logger;
}
