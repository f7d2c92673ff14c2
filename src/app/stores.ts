// Opening the stores a configuration names: the metadata database and the blob storage. Used by
// the composition root and by the commands that work on stores directly (migrate, copy).
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config/index.ts';
import { openSqlite, type MetaStore } from '../meta/index.ts';
import { FsDriver, type StorageDriver } from '../storage/index.ts';

export function under(dataDir: string, p: string | undefined, def: string): string {
  if (p === undefined) return join(dataDir, def);
  return isAbsolute(p) ? p : resolve(p);
}

export async function openMeta(config: Config): Promise<MetaStore> {
  const dataDir = resolve(config.dataDir);
  if (config.database.driver === 'postgres') {
    const { openPostgres } = await import('../meta/postgres.ts');
    return await openPostgres({ url: config.database.postgres.url ?? '', poolSize: config.database.postgres.poolSize, statementTimeoutMs: config.database.postgres.statementTimeout * 1000 });
  }
  return await openSqlite({ path: under(dataDir, config.database.sqlite.path, 'berth.db'), synchronous: config.database.sqlite.synchronous });
}

/** The configured storage driver. Nothing is listed or read: start-up cost does not grow with the data. */
export async function openStorage(config: Config): Promise<StorageDriver> {
  if (config.storage.driver === 's3') {
    const s3 = config.storage.s3;
    const { S3Driver } = await import('../storage/drivers/s3.ts');
    return new S3Driver({
      bucket: s3.bucket ?? '',
      region: s3.region,
      prefix: s3.prefix,
      forcePathStyle: s3.forcePathStyle,
      partSize: s3.partSize,
      maxAttempts: s3.maxAttempts,
      ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
      ...(s3.accessKeyId !== undefined && s3.secretAccessKey !== undefined
        ? { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, ...(s3.sessionToken !== undefined ? { sessionToken: s3.sessionToken } : {}) } }
        : {}),
      ...(s3.serverSideEncryption !== undefined ? { serverSideEncryption: s3.serverSideEncryption } : {}),
      ...(s3.sseKmsKeyId !== undefined ? { sseKmsKeyId: s3.sseKmsKeyId } : {}),
      ...(s3.storageClass !== undefined ? { storageClass: s3.storageClass } : {}),
    });
  }
  const dataDir = resolve(config.dataDir);
  return new FsDriver({ root: under(dataDir, config.storage.filesystem.root, 'storage'), fsync: config.storage.filesystem.fsync });
}
