// What the registry use-cases need, handed in by the composition root.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/index.ts';
import type { BlobStore, UploadStorage } from '../storage/index.ts';

export interface RegistryContext {
  meta: MetaStore;
  blobs: BlobStore;
  uploads: UploadStorage;
  now: () => number;
  log: Logger;
}
