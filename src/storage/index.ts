export type { StorageDriver, ObjectWriter, ObjectInfo, ByteRange } from './driver.ts';
export { NotFoundError, isNotFound } from './driver.ts';
export { BlobStore } from './blob-store.ts';
export { UploadStore, type AppendOptions, type UploadStorage } from './upload-store.ts';
export { SegmentedUploadStore, type UploadStateRepo } from './segmented-upload-store.ts';
export { FsDriver, type FsDriverOptions } from './drivers/fs.ts';
export { MemoryDriver } from './drivers/memory.ts';
export { blobKey, uploadDataKey, UPLOADS_PREFIX } from './paths.ts';
