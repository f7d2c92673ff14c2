export { MetaStore, DEFAULT_REPOSITORY_SETTINGS } from './store.ts';
export type { CreationTemplateRow, RepositoryPolicyKind, AccountPolicyKind } from './store.ts';
export type { Account, AccessKey, Repository, RepositorySettings, TagMutability, Manifest, ManifestMeta, ImageStatus, ManifestReference, NewManifest, Upload, NewEvent, EventRecord, Page } from './store.ts';
export { openSqlite, type SqliteOptions } from './sqlite.ts';
// PostgreSQL is imported from './postgres.ts' only where it is used, so that `pg` is not loaded otherwise.
export type { PostgresOptions } from './postgres.ts';
export { IamStore, customerPolicyArn, type IamPrincipal, type IamPrincipalKind, type IamPolicy, type AppliedPolicy } from './iam.ts';
export { ScanStore, VulnStore, type AdvisoryRow, type ImageScan, type ScanStatusValue, type VulnSource } from './scans.ts';
export { PullThroughCacheRuleStore, SecretStore, type PullThroughCacheRuleRow, type SecretRow } from './upstreams.ts';
export { ReplicationStore, type ReplicationDestinationRow, type ReplicationRuleRow, type ReplicationStatusRow, type ReplicationStatusValue } from './replication.ts';
