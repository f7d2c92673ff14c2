// Table types of the metadata database. Times are epoch milliseconds; booleans are 0/1 integers,
// so that SQLite and PostgreSQL share one SQL code path.
import type { Generated } from 'kysely';

export interface AccountsTable {
  id: string;
  created_at: number;
}

export interface AccessKeysTable {
  access_key_id: string;
  account_id: string;
  /** The IAM user name; `root` for the account's root credentials. */
  user_name: string;
  /** `scrypt$N$r$p$salt$hash` of the secret access key. */
  secret_hash: string;
  status: string;
  created_at: number;
  /** The secret encrypted with the master key (`v1:<iv>:<tag>:<ciphertext>`, base64), or null. */
  secret_enc: string | null;
}

export interface RepositoriesTable {
  id: Generated<number>;
  account_id: string;
  name: string;
  created_at: number;
  image_tag_mutability: Generated<string>;
  /** JSON array of ImageTagMutabilityExclusionFilter, or null. */
  tag_mutability_exclusions: string | null;
  scan_on_push: Generated<number>;
  encryption_type: Generated<string>;
  kms_key: string | null;
}

export interface RepositoryTagsTable {
  repository_id: number;
  key: string;
  value: string;
}

export interface RepositoryPoliciesTable {
  repository_id: number;
  /** 'repository' or 'lifecycle'. */
  kind: string;
  text: string;
  updated_at: number;
}

export interface AccountPoliciesTable {
  account_id: string;
  /** 'registry': the registry policy. */
  kind: string;
  text: string;
  updated_at: number;
}

export interface IamPrincipalsTable {
  account_id: string;
  /** 'user', 'group' or 'role'. */
  kind: string;
  name: string;
  id: string;
  path: string;
  document: string | null;
  max_session_seconds: number | null;
  /** JSON: [{Key, Value}]. */
  tags: string;
  created_at: number;
  description: string | null;
}

export interface IamGroupMembersTable {
  account_id: string;
  group_name: string;
  user_name: string;
}

export interface IamPoliciesTable {
  account_id: string;
  name: string;
  id: string;
  path: string;
  description: string | null;
  document: string;
  created_at: number;
  updated_at: number;
}

export interface IamAttachmentsTable {
  account_id: string;
  kind: string;
  name: string;
  policy_arn: string;
}

export interface IamInlinePoliciesTable {
  account_id: string;
  kind: string;
  name: string;
  policy_name: string;
  document: string;
}

export interface IamOidcProvidersTable {
  account_id: string;
  issuer: string;
  url: string;
  client_ids: string;
  thumbprints: string;
  jwks: string | null;
  tags: string;
  created_at: number;
}

export interface StsSessionsTable {
  access_key_id: string;
  account_id: string;
  role_name: string;
  role_id: string;
  role_path: string;
  session_name: string;
  secret_enc: string;
  token_sha256: string;
  session_policy: string | null;
  policy_arns: string | null;
  source: string;
  source_identity: string | null;
  tags: string;
  expires_at: number;
  created_at: number;
}

export interface AccountSettingsTable {
  account_id: string;
  name: string;
  value: string;
}

export interface CreationTemplatesTable {
  account_id: string;
  prefix: string;
  template: string;
  created_at: number;
  updated_at: number;
}

export interface BlobsTable {
  digest: string;
  size: number;
  created_at: number;
  /**
   * When a writer last announced the blob (an upload completing, a mount): garbage collection
   * keeps a blob touched within its grace period (docs/adr/0014-online-garbage-collection.md).
   */
  touched_at: number;
}

export interface RepositoryBlobsTable {
  repository_id: number;
  digest: string;
  created_at: number;
}

export interface ManifestsTable {
  repository_id: number;
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject_digest: string | null;
  config_digest: string | null;
  /** JSON object of string annotations, or null. */
  annotations: string | null;
  body: Uint8Array;
  pushed_at: number;
  last_pulled_at: number | null;
  /** ACTIVE, ARCHIVED or ACTIVATING (migration 0010). */
  status: string;
  archived_at: number | null;
  activated_at: number | null;
}

export interface VulnAdvisoriesTable {
  id: string;
  source: string;
  modified: string;
  withdrawn: number;
  /** The OSV record, JSON. */
  record: string;
  imported_at: number;
}

export interface VulnPackagesTable {
  /** The ecosystem's family: the part of the OSV ecosystem before `:` (`Debian`, `PyPI`). */
  family: string;
  name_key: string;
  advisory_id: string;
}

export interface VulnSourcesTable {
  name: string;
  location: string;
  records: number;
  errors: number;
  imported_at: number;
}

export interface ImageScansTable {
  repository_id: number;
  digest: string;
  scan_type: string;
  status: string;
  description: string | null;
  started_at: number;
  completed_at: number | null;
  generation: number;
  data_updated_at: number | null;
  /** JSON: findingSeverityCounts. */
  counts: string | null;
  /** gzip JSON of the Inventory. */
  inventory: Uint8Array | null;
  /** gzip JSON of the findings. */
  findings: Uint8Array | null;
}

export interface SecretsTable {
  account_id: string;
  name: string;
  arn: string;
  /** The value, sealed with the master key. */
  value_enc: string;
  created_at: number;
  updated_at: number;
}

export interface PullThroughCacheRulesTable {
  account_id: string;
  /** ecrRepositoryPrefix (`ROOT` for every repository). */
  prefix: string;
  upstream_url: string;
  upstream_registry: string;
  upstream_prefix: string | null;
  credential_arn: string | null;
  custom_role_arn: string | null;
  created_at: number;
  updated_at: number;
}

export interface PullThroughCacheChecksTable {
  repository_id: number;
  tag: string;
  /** The digest the tag had upstream at the check. */
  digest: string;
  checked_at: number;
}

export interface ReplicationConfigurationsTable {
  account_id: string;
  /** JSON: ECR's ReplicationConfiguration rules (destinations and repository filters). */
  rules: string;
  updated_at: number;
}

export interface ReplicationStatusesTable {
  repository_id: number;
  digest: string;
  /** The destination: its region and registry (account) id. */
  region: string;
  registry_id: string;
  /** IN_PROGRESS, COMPLETE or FAILED. */
  status: string;
  failure_code: string | null;
  failure_reason: string | null;
  updated_at: number;
}

export interface PullTimeExclusionsTable {
  account_id: string;
  principal_arn: string;
  created_at: number;
}

export interface ManifestReferencesTable {
  repository_id: number;
  parent_digest: string;
  child_digest: string;
  /** `blob` (config or layer) or `manifest` (index child). */
  kind: string;
}

/**
 * Candidates for garbage collection (ADR 0014): `link` (a repository's link to a blob) or `blob`
 * (the blob itself, repository_id 0), decided from `due_at` on.
 */
export interface GcQueueTable {
  kind: string;
  repository_id: number;
  digest: string;
  due_at: number;
}

export interface TagsTable {
  repository_id: number;
  tag: string;
  digest: string;
  updated_at: number;
}

export interface UploadsTable {
  id: string;
  repository_id: number;
  created_at: number;
  updated_at: number;
  /** Bytes received (used by stores that keep upload state in the database). */
  size: Generated<number>;
  /** JSON state of a segmented upload (segments, resumable hash), or null. */
  state: string | null;
  /** Incremented on every state change: optimistic concurrency between processes. */
  version: Generated<number>;
}

export interface LeasesTable {
  name: string;
  owner: string;
  until: number;
}

export interface EventsTable {
  id: Generated<number>;
  account_id: string;
  type: string;
  repository: string | null;
  digest: string | null;
  tag: string | null;
  /** JSON detail. */
  detail: string;
  created_at: number;
}

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  payload: string;
  /** At most one pending or running job per key. */
  dedupe_key: string | null;
  status: string;
  run_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface Database {
  settings: SettingsTable;
  accounts: AccountsTable;
  access_keys: AccessKeysTable;
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  repository_blobs: RepositoryBlobsTable;
  manifests: ManifestsTable;
  pull_time_exclusions: PullTimeExclusionsTable;
  vuln_advisories: VulnAdvisoriesTable;
  vuln_packages: VulnPackagesTable;
  vuln_sources: VulnSourcesTable;
  image_scans: ImageScansTable;
  secrets: SecretsTable;
  pull_through_cache_rules: PullThroughCacheRulesTable;
  pull_through_cache_checks: PullThroughCacheChecksTable;
  replication_configurations: ReplicationConfigurationsTable;
  replication_statuses: ReplicationStatusesTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  uploads: UploadsTable;
  events: EventsTable;
  jobs: JobsTable;
  leases: LeasesTable;
  repository_tags: RepositoryTagsTable;
  repository_policies: RepositoryPoliciesTable;
  account_settings: AccountSettingsTable;
  account_policies: AccountPoliciesTable;
  iam_principals: IamPrincipalsTable;
  iam_group_members: IamGroupMembersTable;
  iam_policies: IamPoliciesTable;
  iam_attachments: IamAttachmentsTable;
  iam_inline_policies: IamInlinePoliciesTable;
  iam_oidc_providers: IamOidcProvidersTable;
  sts_sessions: StsSessionsTable;
  creation_templates: CreationTemplatesTable;
  gc_queue: GcQueueTable;
}
