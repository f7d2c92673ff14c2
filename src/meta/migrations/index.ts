// Schema migrations for both dialects. Each migration is written once with Kysely's schema builder;
import type { Database } from '../schema.ts';
// the few dialect differences (auto-increment ids, binary columns) go through `Dialect` helpers.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type ColumnDataType, type RawBuilder } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

interface DialectHelpers {
  /** An auto-incrementing 64-bit primary key. */
  idType: ColumnDataType;
  autoIncrement: boolean;
  binary: ColumnDataType;
  /** Text compared byte-wise (tag and repository listings are in byte order in both dialects). */
  bytewiseText: ColumnDataType | RawBuilder<unknown>;
}

function helpers(dialect: DialectName): DialectHelpers {
  return dialect === 'sqlite'
    ? { idType: 'integer', autoIncrement: true, binary: 'blob', bytewiseText: 'text' }
    : { idType: 'bigserial', autoIncrement: false, binary: 'bytea', bytewiseText: sql`text collate "C"` };
}

type Step = (db: Kysely<unknown>, h: DialectHelpers) => Promise<void>;

const steps: Record<string, Step> = {
  '0001_core': async (db, h) => {
    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('access_keys')
      .addColumn('access_key_id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('repositories')
      .addColumn('id', h.idType, (c) => (h.autoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('name', h.bytewiseText, (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('repositories_account_name', ['account_id', 'name'])
      .execute();
    await db.schema
      .createTable('blobs')
      .addColumn('digest', 'text', (c) => c.primaryKey())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('repository_blobs')
      .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
      .addColumn('digest', 'text', (c) => c.notNull().references('blobs.digest'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('repository_blobs_pk', ['repository_id', 'digest'])
      .execute();
    await db.schema.createIndex('repository_blobs_digest').on('repository_blobs').column('digest').execute();
    await db.schema
      .createTable('manifests')
      .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('media_type', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('artifact_type', 'text')
      .addColumn('subject_digest', 'text')
      .addColumn('config_digest', 'text')
      .addColumn('annotations', 'text')
      .addColumn('body', h.binary, (c) => c.notNull())
      .addColumn('pushed_at', 'bigint', (c) => c.notNull())
      .addColumn('last_pulled_at', 'bigint')
      .addPrimaryKeyConstraint('manifests_pk', ['repository_id', 'digest'])
      .execute();
    await db.schema.createIndex('manifests_subject').on('manifests').columns(['repository_id', 'subject_digest']).execute();
    await db.schema
      .createTable('manifest_references')
      .addColumn('repository_id', 'bigint', (c) => c.notNull())
      .addColumn('parent_digest', 'text', (c) => c.notNull())
      .addColumn('child_digest', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('manifest_references_pk', ['repository_id', 'parent_digest', 'child_digest', 'kind'])
      .addForeignKeyConstraint('manifest_references_parent', ['repository_id', 'parent_digest'], 'manifests', ['repository_id', 'digest'], (c) => c.onDelete('cascade'))
      .execute();
    await db.schema.createIndex('manifest_references_child').on('manifest_references').columns(['repository_id', 'child_digest']).execute();
    await db.schema
      .createTable('tags')
      .addColumn('repository_id', 'bigint', (c) => c.notNull())
      .addColumn('tag', h.bytewiseText, (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('tags_pk', ['repository_id', 'tag'])
      .addForeignKeyConstraint('tags_manifest', ['repository_id', 'digest'], 'manifests', ['repository_id', 'digest'], (c) => c.onDelete('cascade'))
      .execute();
    await db.schema.createIndex('tags_digest').on('tags').columns(['repository_id', 'digest']).execute();
    await db.schema
      .createTable('uploads')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('uploads_updated').on('uploads').column('updated_at').execute();
    await db.schema
      .createTable('events')
      .addColumn('id', h.idType, (c) => (h.autoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('repository', 'text')
      .addColumn('digest', 'text')
      .addColumn('tag', 'text')
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('jobs')
      .addColumn('id', h.idType, (c) => (h.autoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('dedupe_key', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('run_at', 'bigint', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('jobs_ready').on('jobs').columns(['status', 'run_at']).execute();
    // One pending/running job per dedupe key (partial unique index; both dialects support it).
    await sql`create unique index jobs_dedupe on jobs (dedupe_key) where dedupe_key is not null and status in ('pending', 'running')`.execute(db);
  },
  '0002_scaleout': async (db) => {
    // Upload sessions whose bytes are spread over several requests and processes: the bytes
    // received, the storage segments holding them and the resumable hash state, as JSON; version
    // guards concurrent updates.
    await db.schema.alterTable('uploads').addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('uploads').addColumn('state', 'text').execute();
    await db.schema.alterTable('uploads').addColumn('version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    // Named leases (the scheduler's leader lease): one owner until a time.
    await db.schema
      .createTable('leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('until', 'bigint', (c) => c.notNull())
      .execute();
  },
  '0003_ecr': async (db) => {
    // The secret of an access key, encrypted with the deployment's master key (AES-256-GCM): SigV4
    // needs the secret itself, not a hash. Null for keys created before this migration.
    await db.schema.alterTable('access_keys').addColumn('secret_enc', 'text').execute();
    // Repository settings of the ECR API.
    await db.schema.alterTable('repositories').addColumn('image_tag_mutability', 'text', (c) => c.notNull().defaultTo('MUTABLE')).execute();
    await db.schema.alterTable('repositories').addColumn('tag_mutability_exclusions', 'text').execute();
    await db.schema.alterTable('repositories').addColumn('scan_on_push', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('repositories').addColumn('encryption_type', 'text', (c) => c.notNull().defaultTo('AES256')).execute();
    await db.schema.alterTable('repositories').addColumn('kms_key', 'text').execute();
    await db.schema
      .createTable('repository_tags')
      .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('repository_tags_pk', ['repository_id', 'key'])
      .execute();
    await db.schema
      .createTable('account_settings')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('account_settings_pk', ['account_id', 'name'])
      .execute();
    await db.schema
      .createTable('creation_templates')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull())
      /** The template as ECR describes it (RepositoryCreationTemplate), JSON. */
      .addColumn('template', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('creation_templates_pk', ['account_id', 'prefix'])
      .execute();
  },
  '0004_repository_policies': async (db) => {
    // Policy documents of a repository, one per kind ('repository' for SetRepositoryPolicy,
    // 'lifecycle' for PutLifecyclePolicy), as the client sent them. Creation templates write them now;
    // the IAM and lifecycle issues read and enforce them.
    await db.schema
      .createTable('repository_policies')
      .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('repository_policies_pk', ['repository_id', 'kind'])
      .execute();
  },
  '0005_account_policies': async (db) => {
    // Policy documents of an account (registry), one per kind: 'registry' for PutRegistryPolicy.
    // Kept as the client sent them; the policy engine parses them when it decides.
    await db.schema
      .createTable('account_policies')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('account_policies_pk', ['account_id', 'kind'])
      .execute();
  },
  '0006_iam': async (db, h) => {
    // IAM identities of each account: users, groups and roles (one table, by kind), customer managed
    // policies, attachments of managed policies (by ARN, AWS's or the account's), inline policies
    // and group membership. Names sort byte-wise, as IAM lists them.
    await db.schema
      .createTable('iam_principals')
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', h.bytewiseText, (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('path', 'text', (c) => c.notNull())
      /** A role's trust policy; null for users and groups. */
      .addColumn('document', 'text')
      .addColumn('max_session_seconds', 'integer')
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('iam_principals_pk', ['account_id', 'kind', 'name'])
      .execute();
    await db.schema
      .createTable('iam_group_members')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('group_name', 'text', (c) => c.notNull())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('iam_group_members_pk', ['account_id', 'group_name', 'user_name'])
      .execute();
    await db.schema
      .createTable('iam_policies')
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('name', h.bytewiseText, (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('document', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('iam_policies_pk', ['account_id', 'name'])
      .execute();
    await db.schema
      .createTable('iam_attachments')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('policy_arn', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('iam_attachments_pk', ['account_id', 'kind', 'name', 'policy_arn'])
      .execute();
    await db.schema.createIndex('iam_attachments_by_policy').on('iam_attachments').column('policy_arn').execute();
    await db.schema
      .createTable('iam_inline_policies')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('policy_name', h.bytewiseText, (c) => c.notNull())
      .addColumn('document', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('iam_inline_policies_pk', ['account_id', 'kind', 'name', 'policy_name'])
      .execute();
  },
  '0007_sts': async (db, h) => {
    // OpenID Connect identity providers of each account (AssumeRoleWithWebIdentity trusts them) and
    // the temporary credentials STS hands out: the secret sealed with the master key, the session
    // token only as its SHA-256. Roles gain their description.
    await db.schema.alterTable('iam_principals').addColumn('description', 'text').execute();
    await db.schema
      .createTable('iam_oidc_providers')
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      /** The issuer without its scheme (`token.actions.example.com/path`), as the provider's ARN names it. */
      .addColumn('issuer', h.bytewiseText, (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('client_ids', 'text', (c) => c.notNull())
      .addColumn('thumbprints', 'text', (c) => c.notNull())
      /** A JWKS document given by the administrator; null: discovered from the issuer. */
      .addColumn('jwks', 'text')
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('iam_oidc_providers_pk', ['account_id', 'issuer'])
      .execute();
    await db.schema
      .createTable('sts_sessions')
      .addColumn('access_key_id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('role_name', 'text', (c) => c.notNull())
      .addColumn('role_id', 'text', (c) => c.notNull())
      .addColumn('role_path', 'text', (c) => c.notNull())
      .addColumn('session_name', 'text', (c) => c.notNull())
      .addColumn('secret_enc', 'text', (c) => c.notNull())
      .addColumn('token_sha256', 'text', (c) => c.notNull())
      /** The inline session policy and the managed session policies' ARNs (JSON), when given. */
      .addColumn('session_policy', 'text')
      .addColumn('policy_arns', 'text')
      /** Who assumed the role: the caller's ARN, or the identity provider's for web identities. */
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('source_identity', 'text')
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sts_sessions_by_expiry').on('sts_sessions').column('expires_at').execute();
  },
  '0008_gc': async (db) => {
    // Online garbage collection (docs/adr/0014-online-garbage-collection.md). Every writer of a blob
    // touches its row before it writes bytes or links; a blob is kept while touched within the grace
    // period. Existing rows count as touched when they were created.
    await db.schema.alterTable('blobs').addColumn('touched_at', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await sql`update blobs set touched_at = created_at`.execute(db);
    // Candidates: `link` entries (a repository's link to a blob, maybe unused) and `blob` entries
    // (repository_id 0: a blob, maybe unlinked), each decided from due_at on, one row per candidate.
    await db.schema
      .createTable('gc_queue')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('repository_id', 'bigint', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('due_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('gc_queue_pk', ['kind', 'repository_id', 'digest'])
      .execute();
    await db.schema.createIndex('gc_queue_due').on('gc_queue').column('due_at').execute();
    // Garbage that predates the queue (blobs deleted from every repository, links no manifest uses)
    // becomes candidates once, now: the collector decides them like any other.
    await sql`insert into gc_queue (kind, repository_id, digest, due_at)
      select 'blob', 0, b.digest, 0 from blobs b
      where not exists (select 1 from repository_blobs rb where rb.digest = b.digest)`.execute(db);
    await sql`insert into gc_queue (kind, repository_id, digest, due_at)
      select 'link', rb.repository_id, rb.digest, 0 from repository_blobs rb
      where not exists (select 1 from manifest_references mr where mr.repository_id = rb.repository_id and mr.child_digest = rb.digest and mr.kind = 'blob')`.execute(db);
  },
  '0009_reference_index': async (db) => {
    // Indexes the lifecycle benchmark showed missing. Which manifests list a child (an index's
    // children, a blob's users): SQLite's planner preferred the primary key (a scan of the
    // repository's references) over the child index, which did not cover the query. An image's tags
    // in tag order: it scanned the repository's tags in the primary key's order rather than sort the
    // few of one digest. Covering indexes on (repository, child, kind, parent) and (repository,
    // digest, tag) serve both as lookups, on both databases.
    await db.schema.createIndex('manifest_references_child_kind').on('manifest_references').columns(['repository_id', 'child_digest', 'kind', 'parent_digest']).execute();
    await db.schema.dropIndex('manifest_references_child').execute();
    await db.schema.createIndex('tags_digest_tag').on('tags').columns(['repository_id', 'digest', 'tag']).execute();
    await db.schema.dropIndex('tags_digest').execute();
  },
  '0010_archive': async (db, h) => {
    // The archive storage class (ECR's UpdateImageStorageClass and lifecycle transitions): an image's
    // status ACTIVE / ARCHIVED / ACTIVATING and when it last entered and left the archive.
    await db.schema.alterTable('manifests').addColumn('status', 'text', (c) => c.notNull().defaultTo('ACTIVE')).execute();
    await db.schema.alterTable('manifests').addColumn('archived_at', 'bigint').execute();
    await db.schema.alterTable('manifests').addColumn('activated_at', 'bigint').execute();
    // Principals whose pulls do not update an image's last recorded pull time (per registry).
    await db.schema
      .createTable('pull_time_exclusions')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('principal_arn', h.bytewiseText, (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('pull_time_exclusions_pk', ['account_id', 'principal_arn'])
      .execute();
  },
  '0011_scanning': async (db, h) => {
    // Vulnerability scanning (docs/adr/0017-vulnerability-scanning.md). Advisories in the OSV format,
    // one row each (the record as imported), and the packages they name by distribution or
    // ecosystem family (`Debian`, `PyPI`) and normalised name, which is how a package finds them.
    await db.schema
      .createTable('vuln_advisories')
      .addColumn('id', h.bytewiseText, (c) => c.primaryKey())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('modified', 'text', (c) => c.notNull())
      .addColumn('withdrawn', 'integer', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .addColumn('imported_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('vuln_packages')
      .addColumn('family', 'text', (c) => c.notNull())
      .addColumn('name_key', h.bytewiseText, (c) => c.notNull())
      .addColumn('advisory_id', h.bytewiseText, (c) => c.notNull().references('vuln_advisories.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('vuln_packages_pk', ['family', 'name_key', 'advisory_id'])
      .execute();
    await db.schema.createIndex('vuln_packages_advisory').on('vuln_packages').column('advisory_id').execute();
    // One row per import source (a directory or zip of an ecosystem, or a configured URL).
    await db.schema
      .createTable('vuln_sources')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('location', 'text', (c) => c.notNull())
      .addColumn('records', 'bigint', (c) => c.notNull())
      .addColumn('errors', 'bigint', (c) => c.notNull())
      .addColumn('imported_at', 'bigint', (c) => c.notNull())
      .execute();
    // The scan of an image: status, the inventory (gzip JSON) read once from its layers, and the
    // findings (gzip JSON) of its last evaluation against the advisories (at data generation `generation`).
    await db.schema
      .createTable('image_scans')
      .addColumn('repository_id', 'bigint', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('scan_type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('completed_at', 'bigint')
      .addColumn('generation', 'bigint', (c) => c.notNull())
      .addColumn('data_updated_at', 'bigint')
      .addColumn('counts', 'text')
      .addColumn('inventory', h.binary)
      .addColumn('findings', h.binary)
      .addPrimaryKeyConstraint('image_scans_pk', ['repository_id', 'digest'])
      .addForeignKeyConstraint('image_scans_manifest', ['repository_id', 'digest'], 'manifests', ['repository_id', 'digest'], (c) => c.onDelete('cascade'))
      .execute();
    await db.schema.createIndex('image_scans_generation').on('image_scans').columns(['generation', 'repository_id', 'digest']).execute();
  },
  '0012_upstreams': async (db, h) => {
    // berth's own secrets store (credentials for upstream registries, referenced by an ARN in the
    // shape of Secrets Manager's; values sealed with the master key, never returned by any API)
    // and pull-through cache rules (ECR's CreatePullThroughCacheRule), one per repository prefix.
    await db.schema
      .createTable('secrets')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('name', h.bytewiseText, (c) => c.notNull())
      .addColumn('arn', 'text', (c) => c.notNull().unique())
      .addColumn('value_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['account_id', 'name'])
      .execute();
    await db.schema
      .createTable('pull_through_cache_rules')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('prefix', h.bytewiseText, (c) => c.notNull())
      .addColumn('upstream_url', 'text', (c) => c.notNull())
      .addColumn('upstream_registry', 'text', (c) => c.notNull())
      .addColumn('upstream_prefix', 'text')
      .addColumn('credential_arn', 'text')
      .addColumn('custom_role_arn', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('pull_through_cache_rules_pk', ['account_id', 'prefix'])
      .execute();
    // When a cached tag was last compared with its upstream (revalidated after a period, as ECR).
    await db.schema
      .createTable('pull_through_cache_checks')
      .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
      .addColumn('tag', h.bytewiseText, (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('checked_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('pull_through_cache_checks_pk', ['repository_id', 'tag'])
      .execute();
  },
  '0013_replication': async (db) => {
    // ECR's registry replication configuration (PutReplicationConfiguration), one per account, and
    // the replication status of each pushed image per destination (DescribeImageReplicationStatus),
    // gone with the image.
    await db.schema
      .createTable('replication_configurations')
      .addColumn('account_id', 'text', (c) => c.primaryKey())
      .addColumn('rules', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('replication_statuses')
      .addColumn('repository_id', 'bigint', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('registry_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('failure_code', 'text')
      .addColumn('failure_reason', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('replication_statuses_pk', ['repository_id', 'digest', 'region', 'registry_id'])
      .addForeignKeyConstraint('replication_statuses_manifest', ['repository_id', 'digest'], 'manifests', ['repository_id', 'digest'], (c) => c.onDelete('cascade'))
      .execute();
  },
};

export function migrationProvider(dialect: DialectName): MigrationProvider {
  const h = helpers(dialect);
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(steps)) out[name] = { up: (db) => step(db, h) };
      return out;
    },
  };
}

export async function migrate(db: Kysely<Database>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect), migrationTableName: 'berth_migrations', migrationLockTableName: 'berth_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    const why = error instanceof Error ? error.message : JSON.stringify(error ?? 'unknown error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${why}`);
  }
}
