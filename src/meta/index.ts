export { MetaStore } from './store.ts';
export type { Account, AccessKey, Repository, Manifest, ManifestMeta, ManifestReference, NewManifest, Upload, NewEvent, EventRecord, Page } from './store.ts';
export { openSqlite, type SqliteOptions } from './sqlite.ts';
export { openPostgres, type PostgresOptions } from './postgres.ts';
