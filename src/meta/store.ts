// The metadata stores: one SQL code path (Kysely) over SQLite and PostgreSQL.
import { sql, type ExpressionBuilder, type Kysely, type OnConflictBuilder, type OnConflictUpdateBuilder, type RawBuilder, type Transaction } from 'kysely';
import { ScanStore, VulnStore } from './scans.ts';
import { PullThroughCacheRuleStore, SecretStore } from './upstreams.ts';
import { ReplicationStore } from './replication.ts';
import type { Database, ManifestsTable } from './schema.ts';
import { IamStore } from './iam.ts';

/**
 * The documents a repository can have: its policy, its lifecycle policy, and the lifecycle
 * policy's bookkeeping (the last preview, as JSON; when the policy was last evaluated).
 */
export type RepositoryPolicyKind = 'repository' | 'lifecycle' | 'lifecycle-preview' | 'lifecycle-evaluated' | 'quarantine' | 'quarantine-exemptions';

export interface Account {
  id: string;
  createdAt: number;
}

export interface AccessKey {
  accessKeyId: string;
  accountId: string;
  userName: string;
  secretHash: string;
  status: 'Active' | 'Inactive';
  createdAt: number;
  /** The secret encrypted with the master key (for SigV4), when known. */
  secretEnc?: string | null;
}

export interface Repository {
  id: number;
  accountId: string;
  name: string;
  createdAt: number;
  settings: RepositorySettings;
}

export type TagMutability = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';

/** The settings of a repository that the ECR API manages. */
export interface RepositorySettings {
  imageTagMutability: TagMutability;
  /** Wildcard filters (`filterType: WILDCARD`) that are exempt from the mutability setting. */
  tagMutabilityExclusions: Array<{ filterType: string; filter: string }>;
  scanOnPush: boolean;
  encryptionType: string;
  kmsKey: string | null;
}

export const DEFAULT_REPOSITORY_SETTINGS: RepositorySettings = { imageTagMutability: 'MUTABLE', tagMutabilityExclusions: [], scanOnPush: false, encryptionType: 'AES256', kmsKey: null };

export interface ManifestMeta {
  repositoryId: number;
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  subjectDigest: string | null;
  configDigest: string | null;
  annotations: Record<string, string> | null;
  pushedAt: number;
  lastPulledAt: number | null;
  /** ACTIVE; ARCHIVED (listed, not pullable); ACTIVATING (on its way back). */
  status: ImageStatus;
  /** When it last entered the archive, and when it last left it. */
  archivedAt: number | null;
  activatedAt: number | null;
}

export type ImageStatus = 'ACTIVE' | 'ARCHIVED' | 'ACTIVATING';

export interface Manifest extends ManifestMeta {
  body: Buffer;
}

export interface ManifestReference {
  childDigest: string;
  kind: 'blob' | 'manifest';
}

export interface NewManifest {
  repositoryId: number;
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  subjectDigest: string | null;
  configDigest: string | null;
  annotations: Record<string, string> | null;
  body: Buffer;
  pushedAt: number;
  references: ManifestReference[];
}

export interface Upload {
  id: string;
  repositoryId: number;
  createdAt: number;
  updatedAt: number;
}

export interface NewEvent {
  accountId: string;
  type: string;
  repository?: string | null;
  digest?: string | null;
  tag?: string | null;
  detail: Record<string, unknown>;
  createdAt: number;
}

export interface EventRecord extends Required<Omit<NewEvent, 'detail'>> {
  id: number;
  detail: Record<string, unknown>;
}

export interface Page {
  /** Return items strictly after this key. */
  after?: string | undefined;
  limit: number;
}

type Db = Kysely<Database>;

function toManifestMeta(r: Omit<ManifestsTable, 'body'>): ManifestMeta {
  return {
    repositoryId: Number(r.repository_id),
    digest: r.digest,
    mediaType: r.media_type,
    size: Number(r.size),
    artifactType: r.artifact_type,
    subjectDigest: r.subject_digest,
    configDigest: r.config_digest,
    annotations: r.annotations === null ? null : (JSON.parse(r.annotations) as Record<string, string>),
    pushedAt: Number(r.pushed_at),
    lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at),
    status: r.status as ImageStatus,
    archivedAt: r.archived_at === null ? null : Number(r.archived_at),
    activatedAt: r.activated_at === null ? null : Number(r.activated_at),
  };
}

const MANIFEST_META_COLUMNS = [
  'repository_id',
  'digest',
  'media_type',
  'size',
  'artifact_type',
  'subject_digest',
  'config_digest',
  'annotations',
  'pushed_at',
  'last_pulled_at',
  'status',
  'archived_at',
  'activated_at',
] as const;

export class SettingsStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  /** Sets the value only if the key is absent; returns the value now stored. */
  async setIfAbsent(key: string, value: string): Promise<string> {
    await this.db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
    return (await this.get(key)) ?? value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }
}

export class AccountStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(id: string): Promise<Account | undefined> {
    const r = await this.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return r === undefined ? undefined : { id: r.id, createdAt: Number(r.created_at) };
  }

  async ensure(id: string, now: number): Promise<Account> {
    await this.db.insertInto('accounts').values({ id, created_at: now }).onConflict((oc) => oc.column('id').doNothing()).execute();
    const a = await this.get(id);
    if (a === undefined) throw new Error(`account ${id} vanished`);
    return a;
  }
}

export class AccessKeyStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(accessKeyId: string): Promise<AccessKey | undefined> {
    const r = await this.db.selectFrom('access_keys').selectAll().where('access_key_id', '=', accessKeyId).executeTakeFirst();
    if (r === undefined) return undefined;
    return {
      accessKeyId: r.access_key_id,
      accountId: r.account_id,
      userName: r.user_name,
      secretHash: r.secret_hash,
      status: r.status === 'Inactive' ? 'Inactive' : 'Active',
      createdAt: Number(r.created_at),
      secretEnc: r.secret_enc,
    };
  }

  async put(k: AccessKey): Promise<void> {
    const row = {
      access_key_id: k.accessKeyId,
      account_id: k.accountId,
      user_name: k.userName,
      secret_hash: k.secretHash,
      status: k.status,
      created_at: k.createdAt,
      secret_enc: k.secretEnc ?? null,
    };
    await this.db
      .insertInto('access_keys')
      .values(row)
      .onConflict((oc) => oc.column('access_key_id').doUpdateSet({ secret_hash: row.secret_hash, status: row.status, user_name: row.user_name, secret_enc: row.secret_enc }))
      .execute();
  }

  async delete(accessKeyId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listForUser(accountId: string, userName: string): Promise<AccessKey[]> {
    const rows = await this.db.selectFrom('access_keys').select('access_key_id').where('account_id', '=', accountId).where('user_name', '=', userName).orderBy('created_at').execute();
    const out: AccessKey[] = [];
    for (const r of rows) {
      const k = await this.get(r.access_key_id);
      if (k !== undefined) out.push(k);
    }
    return out;
  }
}

export class RepositoryStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  private static row(r: {
    id: number;
    account_id: string;
    name: string;
    created_at: number;
    image_tag_mutability: string;
    tag_mutability_exclusions: string | null;
    scan_on_push: number;
    encryption_type: string;
    kms_key: string | null;
  }): Repository {
    return {
      id: Number(r.id),
      accountId: r.account_id,
      name: r.name,
      createdAt: Number(r.created_at),
      settings: {
        imageTagMutability: r.image_tag_mutability as TagMutability,
        tagMutabilityExclusions: r.tag_mutability_exclusions === null ? [] : (JSON.parse(r.tag_mutability_exclusions) as Array<{ filterType: string; filter: string }>),
        scanOnPush: Number(r.scan_on_push) === 1,
        encryptionType: r.encryption_type,
        kmsKey: r.kms_key,
      },
    };
  }

  private static settingsRow(s: RepositorySettings): { image_tag_mutability: string; tag_mutability_exclusions: string | null; scan_on_push: number; encryption_type: string; kms_key: string | null } {
    return {
      image_tag_mutability: s.imageTagMutability,
      tag_mutability_exclusions: s.tagMutabilityExclusions.length === 0 ? null : JSON.stringify(s.tagMutabilityExclusions),
      scan_on_push: s.scanOnPush ? 1 : 0,
      encryption_type: s.encryptionType,
      kms_key: s.kmsKey,
    };
  }

  async get(accountId: string, name: string): Promise<Repository | undefined> {
    const r = await this.db.selectFrom('repositories').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r === undefined ? undefined : RepositoryStore.row(r);
  }

  /** Creates the repository unless it exists; returns it and whether it was created now. */
  async ensure(accountId: string, name: string, now: number, settings: RepositorySettings = DEFAULT_REPOSITORY_SETTINGS): Promise<{ repository: Repository; created: boolean }> {
    const inserted = await this.db
      .insertInto('repositories')
      .values({ account_id: accountId, name, created_at: now, ...RepositoryStore.settingsRow(settings) })
      .onConflict((oc) => oc.columns(['account_id', 'name']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted !== undefined) return { repository: RepositoryStore.row(inserted), created: true };
    const existing = await this.get(accountId, name);
    if (existing === undefined) throw new Error(`repository ${name} vanished`);
    return { repository: existing, created: false };
  }

  async updateSettings(id: number, settings: RepositorySettings): Promise<void> {
    await this.db.updateTable('repositories').set(RepositoryStore.settingsRow(settings)).where('id', '=', id).execute();
  }

  /** The repository's resource tags, by key. */
  async tags(id: number): Promise<Array<{ key: string; value: string }>> {
    const rows = await this.db.selectFrom('repository_tags').select(['key', 'value']).where('repository_id', '=', id).orderBy('key').execute();
    return rows.map((r) => ({ key: r.key, value: r.value }));
  }

  async putTags(id: number, tags: ReadonlyArray<{ key: string; value: string }>): Promise<void> {
    for (const t of tags) {
      await this.db
        .insertInto('repository_tags')
        .values({ repository_id: id, key: t.key, value: t.value })
        .onConflict((oc) => oc.columns(['repository_id', 'key']).doUpdateSet({ value: t.value }))
        .execute();
    }
  }

  async deleteTags(id: number, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.deleteFrom('repository_tags').where('repository_id', '=', id).where('key', 'in', keys).execute();
  }

  async list(accountId: string, page: Page): Promise<Repository[]> {
    let q = this.db.selectFrom('repositories').selectAll().where('account_id', '=', accountId);
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    const rows = await q.orderBy('name').limit(page.limit).execute();
    return rows.map((r) => RepositoryStore.row(r));
  }

  /**
   * Deletes the repository and everything in it. The blobs it held become garbage-collection
   * candidates (ADR 0014), due from `gcDueAt` on (default: at once; the collector still keeps a blob
   * another repository holds or a writer touched within the grace period).
   */
  async delete(id: number, gcDueAt = 0): Promise<boolean> {
    await queueBlobsOfRepository(this.db, id, gcDueAt);
    // Explicit deletes (rather than relying on cascades) keep both dialects identical.
    await this.db.deleteFrom('repository_tags').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('repository_policies').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('tags').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('manifest_references').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('manifests').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('repository_blobs').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('uploads').where('repository_id', '=', id).execute();
    const r = await this.db.deleteFrom('repositories').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Sets only the tag mutability columns (a concurrent change of other settings is not lost). */
  async setTagMutability(id: number, s: Pick<RepositorySettings, 'imageTagMutability' | 'tagMutabilityExclusions'>): Promise<void> {
    const row = RepositoryStore.settingsRow({ ...DEFAULT_REPOSITORY_SETTINGS, ...s });
    await this.db.updateTable('repositories').set({ image_tag_mutability: row.image_tag_mutability, tag_mutability_exclusions: row.tag_mutability_exclusions }).where('id', '=', id).execute();
  }

  async setScanOnPush(id: number, scanOnPush: boolean): Promise<void> {
    await this.db.updateTable('repositories').set({ scan_on_push: scanOnPush ? 1 : 0 }).where('id', '=', id).execute();
  }

  /** A policy document of the repository: its repository policy or its lifecycle policy, as written. */
  async policyText(id: number, kind: RepositoryPolicyKind): Promise<string | undefined> {
    const r = await this.db.selectFrom('repository_policies').select('text').where('repository_id', '=', id).where('kind', '=', kind).executeTakeFirst();
    return r?.text;
  }

  /** The repositories (of every account) that have a document of this kind, in id order. */
  async withPolicy(kind: RepositoryPolicyKind, opts: { afterId?: number; limit: number }): Promise<Repository[]> {
    let q = this.db.selectFrom('repositories as r').selectAll('r').where((eb) => eb.exists(eb.selectFrom('repository_policies as p').select('p.kind').whereRef('p.repository_id', '=', 'r.id').where('p.kind', '=', kind)));
    if (opts.afterId !== undefined) q = q.where('r.id', '>', opts.afterId);
    return (await q.orderBy('r.id').limit(opts.limit).execute()).map((r) => RepositoryStore.row(r));
  }

  /** Sets (or, with null, removes) a policy document of the repository. */
  async putPolicyText(id: number, kind: RepositoryPolicyKind, text: string | null, now: number): Promise<void> {
    if (text === null) {
      await this.db.deleteFrom('repository_policies').where('repository_id', '=', id).where('kind', '=', kind).execute();
      return;
    }
    await this.db
      .insertInto('repository_policies')
      .values({ repository_id: id, kind, text, updated_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'kind']).doUpdateSet({ text, updated_at: now }))
      .execute();
  }
}

export class BlobStoreMeta {
  private readonly db: Db;
  private readonly dialect: 'sqlite' | 'postgres';
  constructor(db: Db, dialect: 'sqlite' | 'postgres' = 'sqlite') {
    this.db = db;
    this.dialect = dialect;
  }

  /** Records a blob that is durably stored. Idempotent: an existing row is left as it is. */
  async put(digest: string, size: number, now: number): Promise<void> {
    await this.db.insertInto('blobs').values({ digest, size, created_at: now, touched_at: now }).onConflict((oc) => oc.column('digest').doNothing()).execute();
  }

  /**
   * Touch-before-write (ADR 0014): creates the blob's row, or sets its `touched_at` to `now`, and
   * holds the row lock until the transaction ends (on PostgreSQL it first waits for a collector
   * that holds the row). A new row gets `size`; an existing one keeps its size unless `setSize`.
   */
  async touch(digest: string, size: number, now: number, opts: { setSize?: boolean } = {}): Promise<void> {
    await this.db
      .insertInto('blobs')
      .values({ digest, size, created_at: now, touched_at: now })
      .onConflict((oc) => oc.column('digest').doUpdateSet(opts.setSize === true ? { touched_at: now, size } : { touched_at: now }))
      .execute();
  }

  /** Sets `touched_at` back from `from` to `to`, if it is still `from` (an upload taking its touch back). */
  async setTouchedAt(digest: string, from: number, to: number): Promise<boolean> {
    const r = await this.db.updateTable('blobs').set({ touched_at: to }).where('digest', '=', digest).where('touched_at', '=', from).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Sets `touched_at` of an existing row (locking it); false when there is no row. */
  async touchExisting(digest: string, now: number): Promise<boolean> {
    const r = await this.db.updateTable('blobs').set({ touched_at: now }).where('digest', '=', digest).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * The blob's row, locked FOR UPDATE until the transaction ends (PostgreSQL; SQLite has a single
   * writer). Read after the lock is granted, so it is the latest committed version.
   */
  async lock(digest: string): Promise<{ digest: string; size: number; touchedAt: number } | undefined> {
    let q = this.db.selectFrom('blobs').select(['digest', 'size', 'touched_at']).where('digest', '=', digest);
    if (this.dialect === 'postgres') q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r === undefined ? undefined : { digest: r.digest, size: Number(r.size), touchedAt: Number(r.touched_at) };
  }

  /** The blob's row with its touch time, unlocked. */
  async getRow(digest: string): Promise<{ digest: string; size: number; createdAt: number; touchedAt: number } | undefined> {
    const r = await this.db.selectFrom('blobs').select(['digest', 'size', 'created_at', 'touched_at']).where('digest', '=', digest).executeTakeFirst();
    return r === undefined ? undefined : { digest: r.digest, size: Number(r.size), createdAt: Number(r.created_at), touchedAt: Number(r.touched_at) };
  }

  /** Removes the blob's row (garbage collection, once its bytes are deleted). */
  async delete(digest: string): Promise<boolean> {
    const r = await this.db.deleteFrom('blobs').where('digest', '=', digest).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** How many repositories hold the blob. */
  async countLinks(digest: string): Promise<number> {
    const r = await this.db.selectFrom('repository_blobs').select((eb) => eb.fn.countAll<number>().as('n')).where('digest', '=', digest).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * The repository's link to the blob, with its creation time; `lock` takes it FOR UPDATE until the
   * transaction ends (PostgreSQL), so that a manifest PUT referencing it waits, or it waits for one.
   */
  async getLink(repositoryId: number, digest: string, opts: { lock?: boolean } = {}): Promise<{ createdAt: number } | undefined> {
    let q = this.db.selectFrom('repository_blobs').select('created_at').where('repository_id', '=', repositoryId).where('digest', '=', digest);
    if (opts.lock === true && this.dialect === 'postgres') q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r === undefined ? undefined : { createdAt: Number(r.created_at) };
  }

  /**
   * Sizes of those of `digests` linked into the repository, each link locked FOR SHARE until the
   * transaction ends (PostgreSQL): a manifest PUT calls it in the transaction that stores the
   * manifest, so a collector deciding one of these links waits for it, or it finds the link gone.
   */
  async lockInRepository(repositoryId: number, digests: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const sorted = [...new Set(digests)].sort();
    for (let i = 0; i < sorted.length; i += 500) {
      const part = sorted.slice(i, i + 500);
      let q = this.db
        .selectFrom('repository_blobs as rb')
        .innerJoin('blobs as b', 'b.digest', 'rb.digest')
        .select(['b.digest', 'b.size'])
        .where('rb.repository_id', '=', repositoryId)
        .where('rb.digest', 'in', part)
        .orderBy('rb.digest');
      if (this.dialect === 'postgres') q = q.forShare('rb');
      const rows = await q.execute();
      for (const r of rows) out.set(r.digest, Number(r.size));
    }
    return out;
  }

  async get(digest: string): Promise<{ digest: string; size: number } | undefined> {
    const r = await this.db.selectFrom('blobs').select(['digest', 'size']).where('digest', '=', digest).executeTakeFirst();
    return r === undefined ? undefined : { digest: r.digest, size: Number(r.size) };
  }

  /** The blob's size if it is linked into the repository. */
  async getInRepository(repositoryId: number, digest: string): Promise<{ digest: string; size: number } | undefined> {
    const r = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.digest', 'b.size'])
      .where('rb.repository_id', '=', repositoryId)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    return r === undefined ? undefined : { digest: r.digest, size: Number(r.size) };
  }

  /** Sizes of those of `digests` linked into the repository. */
  async sizesInRepository(repositoryId: number, digests: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < digests.length; i += 500) {
      const part = digests.slice(i, i + 500);
      const rows = await this.db
        .selectFrom('repository_blobs as rb')
        .innerJoin('blobs as b', 'b.digest', 'rb.digest')
        .select(['b.digest', 'b.size'])
        .where('rb.repository_id', '=', repositoryId)
        .where('rb.digest', 'in', part)
        .execute();
      for (const r of rows) out.set(r.digest, Number(r.size));
    }
    return out;
  }

  async link(repositoryId: number, digest: string, now: number): Promise<void> {
    await this.db
      .insertInto('repository_blobs')
      .values({ repository_id: repositoryId, digest, created_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .execute();
  }

  /**
   * Removes the repository's link to the blob; the blob becomes a garbage-collection candidate
   * due from `gcDueAt` on (default: at once).
   */
  async unlink(repositoryId: number, digest: string, gcDueAt = 0): Promise<boolean> {
    const r = await this.db.deleteFrom('repository_blobs').where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    const removed = Number(r.numDeletedRows) > 0;
    if (removed) await queueCandidates(this.db, [{ kind: 'blob', repositoryId: 0, digest }], gcDueAt);
    return removed;
  }
}

export class ManifestStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(repositoryId: number, digest: string): Promise<Manifest | undefined> {
    const r = await this.db.selectFrom('manifests').selectAll().where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    if (r === undefined) return undefined;
    return { ...toManifestMeta(r), body: Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength) };
  }

  async getMeta(repositoryId: number, digest: string): Promise<ManifestMeta | undefined> {
    const r = await this.db.selectFrom('manifests').select(MANIFEST_META_COLUMNS).where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    return r === undefined ? undefined : toManifestMeta(r);
  }

  /** Sizes of those of `digests` stored in the repository. */
  async sizes(repositoryId: number, digests: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db
        .selectFrom('manifests')
        .select(['digest', 'size'])
        .where('repository_id', '=', repositoryId)
        .where('digest', 'in', digests.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.digest, Number(r.size));
    }
    return out;
  }

  /** Stores the manifest and its references unless it exists. Returns whether it was inserted. */
  async put(m: NewManifest): Promise<boolean> {
    const r = await this.db
      .insertInto('manifests')
      .values({
        repository_id: m.repositoryId,
        digest: m.digest,
        media_type: m.mediaType,
        size: m.size,
        artifact_type: m.artifactType,
        subject_digest: m.subjectDigest,
        config_digest: m.configDigest,
        annotations: m.annotations === null ? null : JSON.stringify(m.annotations),
        body: m.body,
        pushed_at: m.pushedAt,
        last_pulled_at: null,
        status: 'ACTIVE',
        archived_at: null,
        activated_at: null,
      })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .executeTakeFirst();
    const inserted = Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    if (inserted && m.references.length > 0) {
      const seen = new Set<string>();
      const rows = [];
      for (const ref of m.references) {
        const k = `${ref.kind} ${ref.childDigest}`;
        if (seen.has(k)) continue;
        seen.add(k);
        rows.push({ repository_id: m.repositoryId, parent_digest: m.digest, child_digest: ref.childDigest, kind: ref.kind });
      }
      for (let i = 0; i < rows.length; i += 200) await this.db.insertInto('manifest_references').values(rows.slice(i, i + 200)).execute();
    }
    return inserted;
  }

  /**
   * Deletes the manifest, its tags and its references. The repository's links to the blobs it
   * referenced become garbage-collection candidates due from `gcDueAt` on (default: at once).
   */
  async delete(repositoryId: number, digest: string, gcDueAt = 0): Promise<boolean> {
    await queueLinksOfManifest(this.db, repositoryId, digest, gcDueAt);
    await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
    await this.db.deleteFrom('manifest_references').where('repository_id', '=', repositoryId).where('parent_digest', '=', digest).execute();
    const r = await this.db.deleteFrom('manifests').where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Digests of the manifests (indexes) in the repository that list `digest` as a child. */
  async parents(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('manifest_references')
      .select('parent_digest')
      .where('repository_id', '=', repositoryId)
      .where('child_digest', '=', digest)
      .where('kind', '=', 'manifest')
      .execute();
    return rows.map((r) => r.parent_digest);
  }

  /** The manifests (indexes) of the repository that list each of `digests` (itself excluded), for many at once. */
  async parentsOf(repositoryId: number, digests: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db
        .selectFrom('manifest_references')
        .select(['child_digest', 'parent_digest'])
        .where('repository_id', '=', repositoryId)
        .where('kind', '=', 'manifest')
        .where('child_digest', 'in', digests.slice(i, i + 500))
        .execute();
      for (const r of rows) {
        if (r.parent_digest === r.child_digest) continue;
        const list = out.get(r.child_digest) ?? [];
        list.push(r.parent_digest);
        out.set(r.child_digest, list);
      }
    }
    return out;
  }

  /** Manifests of the repository that use the blob as config or layer (at most `limit`). */
  async blobUsers(repositoryId: number, digest: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('manifest_references')
      .select('parent_digest')
      .where('repository_id', '=', repositoryId)
      .where('child_digest', '=', digest)
      .where('kind', '=', 'blob')
      .limit(limit)
      .execute();
    return rows.map((r) => r.parent_digest);
  }

  async references(repositoryId: number, digest: string): Promise<ManifestReference[]> {
    const rows = await this.db
      .selectFrom('manifest_references')
      .select(['child_digest', 'kind'])
      .where('repository_id', '=', repositoryId)
      .where('parent_digest', '=', digest)
      .execute();
    return rows.map((r) => ({ childDigest: r.child_digest, kind: r.kind === 'manifest' ? 'manifest' : 'blob' }));
  }

  /** Manifests of the repository whose subject is `subject`, optionally of one artifact type. */
  async referrers(repositoryId: number, subject: string, artifactType?: string): Promise<ManifestMeta[]> {
    let q = this.db.selectFrom('manifests').select(MANIFEST_META_COLUMNS).where('repository_id', '=', repositoryId).where('subject_digest', '=', subject);
    if (artifactType !== undefined) q = q.where('artifact_type', '=', artifactType);
    const rows = await q.orderBy('pushed_at').orderBy('digest').execute();
    return rows.map(toManifestMeta);
  }

  async recordPull(repositoryId: number, digest: string, now: number): Promise<void> {
    await this.recordPulls([{ repositoryId, digest, at: now }]);
  }

  /** Last pull times, each kept only when later than the stored one (writers in any order, any process). */
  async recordPulls(pulls: ReadonlyArray<{ repositoryId: number; digest: string; at: number }>): Promise<void> {
    for (const p of pulls) {
      await this.db
        .updateTable('manifests')
        .set({ last_pulled_at: p.at })
        .where('repository_id', '=', p.repositoryId)
        .where('digest', '=', p.digest)
        .where((eb) => eb.or([eb('last_pulled_at', 'is', null), eb('last_pulled_at', '<', p.at)]))
        .execute();
    }
  }

  /**
   * Moves manifests of the repository to `status`: ARCHIVED stamps archived_at, ACTIVE (from the
   * archive) stamps activated_at. Returns the digests whose status changed.
   */
  async setStatus(repositoryId: number, digests: readonly string[], status: ImageStatus, now: number): Promise<string[]> {
    if (digests.length === 0) return [];
    const stamp = status === 'ARCHIVED' ? { archived_at: now } : status === 'ACTIVE' ? { activated_at: now } : {};
    const rows = await this.db
      .updateTable('manifests')
      .set({ status, ...stamp })
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...digests])
      .where('status', '<>', status)
      .returning('digest')
      .execute();
    return rows.map((r) => r.digest);
  }

  async count(repositoryId: number): Promise<number> {
    const r = await this.db.selectFrom('manifests').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repositoryId).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * Manifests of the repository in digest order, from `from` (inclusive) or after `after`, at most
   * `limit`; `tagged` true keeps those with a tag, false those without, undefined all; `status`
   * keeps those in that status.
   */
  async list(
    repositoryId: number,
    opts: { after?: string | undefined; from?: string | undefined; limit: number; tagged?: boolean | undefined; status?: ImageStatus | undefined },
  ): Promise<ManifestMeta[]> {
    let q = this.db.selectFrom('manifests as m').select(MANIFEST_META_COLUMNS.map((c) => `m.${c}` as const)).where('m.repository_id', '=', repositoryId);
    if (opts.status !== undefined) q = q.where('m.status', '=', opts.status);
    if (opts.after !== undefined) q = q.where('m.digest', '>', opts.after);
    if (opts.from !== undefined) q = q.where('m.digest', '>=', opts.from);
    if (opts.tagged !== undefined) {
      const tagged = (eb: ExpressionBuilder<Database & { m: ManifestsTable }, 'm'>) =>
        eb.exists(eb.selectFrom('tags as t').select('t.tag').whereRef('t.repository_id', '=', 'm.repository_id').whereRef('t.digest', '=', 'm.digest'));
      q = q.where((eb) => (opts.tagged === true ? tagged(eb) : eb.not(tagged(eb))));
    }
    const rows = await q.orderBy('m.digest').limit(opts.limit).execute();
    return rows.map(toManifestMeta);
  }
}

export class TagStore {
  private readonly db: Db;
  private readonly dialect: 'sqlite' | 'postgres';
  constructor(db: Db, dialect: 'sqlite' | 'postgres') {
    this.db = db;
    this.dialect = dialect;
  }

  /**
   * Serialises changes of one tag across processes until the end of the current transaction: call it
   * first in a transaction that reads a tag and then moves or deletes it, so that two processes moving
   * the same tag leave it at one of the two digests and record the moves (with the digest each one
   * replaced) in the order they happened. PostgreSQL: a transaction-scoped advisory lock on a 64-bit
   * hash of `<repository id>:<tag>` (a hash collision only serialises two unrelated tags). SQLite has a
   * single writer: nothing to do. Outside a transaction it has no lasting effect.
   */
  async lock(repositoryId: number, tag: string): Promise<void> {
    if (this.dialect !== 'postgres') return;
    await sql`select pg_advisory_xact_lock(hashtextextended(${`${repositoryId}:${tag}`}, 0))`.execute(this.db);
  }

  async get(repositoryId: number, tag: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('tags').select('digest').where('repository_id', '=', repositoryId).where('tag', '=', tag).executeTakeFirst();
    return r?.digest;
  }

  /** Points the tag at `digest`; returns the digest it pointed at before, if any. */
  async put(repositoryId: number, tag: string, digest: string, now: number): Promise<string | undefined> {
    const before = await this.get(repositoryId, tag);
    if (before === digest) return before;
    await this.db
      .insertInto('tags')
      .values({ repository_id: repositoryId, tag, digest, updated_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'tag']).doUpdateSet({ digest, updated_at: now }))
      .execute();
    return before;
  }

  /** Removes the tag; returns the digest it pointed at, if it existed. */
  async delete(repositoryId: number, tag: string): Promise<string | undefined> {
    const r = await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('tag', '=', tag).returning('digest').executeTakeFirst();
    return r?.digest;
  }

  async list(repositoryId: number, page: Page): Promise<string[]> {
    let q = this.db.selectFrom('tags').select('tag').where('repository_id', '=', repositoryId);
    if (page.after !== undefined) q = q.where('tag', '>', page.after);
    const rows = await q.orderBy('tag').limit(page.limit).execute();
    return rows.map((r) => r.tag);
  }

  async forDigest(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db.selectFrom('tags').select('tag').where('repository_id', '=', repositoryId).where('digest', '=', digest).orderBy('tag').execute();
    return rows.map((r) => r.tag);
  }

  /** The tags of each of `digests` (in byte order; digests without tags are absent from the map). */
  async forDigests(repositoryId: number, digests: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (let i = 0; i < digests.length; i += 500) {
      const part = digests.slice(i, i + 500);
      const rows = await this.db.selectFrom('tags').select(['digest', 'tag']).where('repository_id', '=', repositoryId).where('digest', 'in', part).orderBy('digest').orderBy('tag').execute();
      for (const r of rows) {
        const list = out.get(r.digest);
        if (list === undefined) out.set(r.digest, [r.tag]);
        else list.push(r.tag);
      }
    }
    return out;
  }
}

export class UploadStoreMeta {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async create(u: Upload): Promise<void> {
    await this.db.insertInto('uploads').values({ id: u.id, repository_id: u.repositoryId, created_at: u.createdAt, updated_at: u.updatedAt }).execute();
  }

  async get(id: string): Promise<Upload | undefined> {
    const r = await this.db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
    return r === undefined ? undefined : { id: r.id, repositoryId: Number(r.repository_id), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable('uploads').set({ updated_at: now }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('uploads').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** The state of a segmented upload (see SegmentedUploadStore). */
  async loadState(id: string): Promise<{ size: number; state: string | null; version: number } | undefined> {
    const r = await this.db.selectFrom('uploads').select(['size', 'state', 'version']).where('id', '=', id).executeTakeFirst();
    return r === undefined ? undefined : { size: Number(r.size), state: r.state, version: Number(r.version) };
  }

  /** Saves a segmented upload's state if its version is still `version`; false when another writer won. */
  async saveState(id: string, size: number, state: string, version: number, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('uploads')
      .set({ size, state, version: version + 1, updated_at: now })
      .where('id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async staleIds(updatedBefore: number, limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom('uploads').select('id').where('updated_at', '<', updatedBefore).orderBy('updated_at').limit(limit).execute();
    return rows.map((r) => r.id);
  }
}

export class EventStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async append(e: NewEvent): Promise<void> {
    await this.db
      .insertInto('events')
      .values({
        account_id: e.accountId,
        type: e.type,
        repository: e.repository ?? null,
        digest: e.digest ?? null,
        tag: e.tag ?? null,
        detail: JSON.stringify(e.detail),
        created_at: e.createdAt,
      })
      .execute();
  }

  async list(afterId: number, limit: number): Promise<EventRecord[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      accountId: r.account_id,
      type: r.type,
      repository: r.repository,
      digest: r.digest,
      tag: r.tag,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
      createdAt: Number(r.created_at),
    }));
  }
}

export class AccountSettingsStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(accountId: string, name: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('account_settings').select('value').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r?.value;
  }

  async put(accountId: string, name: string, value: string): Promise<void> {
    await this.db
      .insertInto('account_settings')
      .values({ account_id: accountId, name, value })
      .onConflict((oc) => oc.columns(['account_id', 'name']).doUpdateSet({ value }))
      .execute();
  }
}

export type AccountPolicyKind = 'registry' | 'scanning' | 'quarantine';

/** Policy documents of an account: its registry policy. */
export class AccountPoliciesStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(accountId: string, kind: AccountPolicyKind): Promise<string | undefined> {
    const r = await this.db.selectFrom('account_policies').select('text').where('account_id', '=', accountId).where('kind', '=', kind).executeTakeFirst();
    return r?.text;
  }

  /** Sets (or, with null, removes) the account's policy document of that kind. */
  async put(accountId: string, kind: AccountPolicyKind, text: string | null, now: number): Promise<void> {
    if (text === null) {
      await this.db.deleteFrom('account_policies').where('account_id', '=', accountId).where('kind', '=', kind).execute();
      return;
    }
    await this.db
      .insertInto('account_policies')
      .values({ account_id: accountId, kind, text, updated_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'kind']).doUpdateSet({ text, updated_at: now }))
      .execute();
  }
}

export interface CreationTemplateRow {
  accountId: string;
  prefix: string;
  /** The template as ECR describes it (RepositoryCreationTemplate). */
  template: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export class CreationTemplateStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  private static row(r: { account_id: string; prefix: string; template: string; created_at: number; updated_at: number }): CreationTemplateRow {
    return { accountId: r.account_id, prefix: r.prefix, template: JSON.parse(r.template) as Record<string, unknown>, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
  }

  async get(accountId: string, prefix: string): Promise<CreationTemplateRow | undefined> {
    const r = await this.db.selectFrom('creation_templates').selectAll().where('account_id', '=', accountId).where('prefix', '=', prefix).executeTakeFirst();
    return r === undefined ? undefined : CreationTemplateStore.row(r);
  }

  /** Inserts a template; false when one exists for the prefix. */
  async create(t: CreationTemplateRow): Promise<boolean> {
    const r = await this.db
      .insertInto('creation_templates')
      .values({ account_id: t.accountId, prefix: t.prefix, template: JSON.stringify(t.template), created_at: t.createdAt, updated_at: t.updatedAt })
      .onConflict((oc) => oc.columns(['account_id', 'prefix']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async update(t: CreationTemplateRow): Promise<boolean> {
    const r = await this.db
      .updateTable('creation_templates')
      .set({ template: JSON.stringify(t.template), updated_at: t.updatedAt })
      .where('account_id', '=', t.accountId)
      .where('prefix', '=', t.prefix)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async delete(accountId: string, prefix: string): Promise<boolean> {
    const r = await this.db.deleteFrom('creation_templates').where('account_id', '=', accountId).where('prefix', '=', prefix).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Every template of the account, by prefix in byte order. */
  async list(accountId: string): Promise<CreationTemplateRow[]> {
    const rows = await this.db.selectFrom('creation_templates').selectAll().where('account_id', '=', accountId).orderBy('prefix').execute();
    return rows.map((r) => CreationTemplateStore.row(r));
  }
}

/** A garbage-collection candidate (ADR 0014): a repository's link to a blob, or a blob (repositoryId 0). */
export interface GcCandidate {
  kind: 'link' | 'blob';
  repositoryId: number;
  digest: string;
}

export interface GcEntry extends GcCandidate {
  dueAt: number;
}

/** The queue's upsert: a candidate already queued keeps the later of the two due times. */
function keepLaterDue(oc: OnConflictBuilder<Database, 'gc_queue'>): OnConflictUpdateBuilder<Database, 'gc_queue'> {
  return oc
    .columns(['kind', 'repository_id', 'digest'])
    .doUpdateSet({ due_at: (eb) => eb.ref('excluded.due_at') })
    .where((eb) => eb('gc_queue.due_at', '<', eb.ref('excluded.due_at')));
}

/** Upserts candidates; an entry already queued keeps the later of the two due times. */
async function queueCandidates(db: Db, candidates: readonly GcCandidate[], dueAt: number): Promise<void> {
  const seen = new Set<string>();
  const rows: Array<{ kind: string; repository_id: number; digest: string; due_at: number }> = [];
  for (const c of candidates) {
    const k = `${c.kind} ${c.repositoryId} ${c.digest}`;
    if (seen.has(k)) continue;
    seen.add(k);
    rows.push({ kind: c.kind, repository_id: c.kind === 'blob' ? 0 : c.repositoryId, digest: c.digest, due_at: dueAt });
  }
  // One order for every writer: two transactions queueing overlapping candidates lock them alike.
  rows.sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.repository_id - b.repository_id || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)));
  for (let i = 0; i < rows.length; i += 200) {
    await db
      .insertInto('gc_queue')
      .values(rows.slice(i, i + 200))
      .onConflict(keepLaterDue)
      .execute();
  }
}

/** A due time as an SQL value of both dialects (an INSERT ... SELECT parameter needs its type). */
function dueValue(dueAt: number): RawBuilder<number> {
  if (!Number.isSafeInteger(dueAt)) throw new TypeError(`bad due time ${dueAt}`);
  return sql<number>`cast(${dueAt} as bigint)`;
}

/** Queues the repository's links to the blobs a manifest references (before the manifest goes). */
async function queueLinksOfManifest(db: Db, repositoryId: number, digest: string, dueAt: number): Promise<void> {
  await db
    .insertInto('gc_queue')
    .columns(['kind', 'repository_id', 'digest', 'due_at'])
    .expression(
      db
        .selectFrom('manifest_references as mr')
        .select([sql<string>`'link'`.as('kind'), 'mr.repository_id', 'mr.child_digest', dueValue(dueAt).as('due_at')])
        .where('mr.repository_id', '=', repositoryId)
        .where('mr.parent_digest', '=', digest)
        .where('mr.kind', '=', 'blob')
        .orderBy('mr.child_digest'),
    )
    .onConflict(keepLaterDue)
    .execute();
}

/** Queues every blob the repository holds (before its links go), in one INSERT ... SELECT, in digest order. */
async function queueBlobsOfRepository(db: Db, repositoryId: number, dueAt: number): Promise<void> {
  await db
    .insertInto('gc_queue')
    .columns(['kind', 'repository_id', 'digest', 'due_at'])
    .expression(
      db
        .selectFrom('repository_blobs as rb')
        .select([sql<string>`'blob'`.as('kind'), sql<number>`0`.as('repository_id'), 'rb.digest', dueValue(dueAt).as('due_at')])
        .where('rb.repository_id', '=', repositoryId)
        .orderBy('rb.digest'),
    )
    .onConflict(keepLaterDue)
    .execute();
}

/**
 * The garbage-collection queue (ADR 0014): candidates are added in the transaction that makes them
 * possible garbage; the collector takes due ones, decides each and removes it in the same
 * transaction. Every decision is idempotent, so entries left by a crash are simply decided again.
 */
export class GcQueueStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Queues candidates due from `dueAt` on; one already queued keeps the later due time. */
  async add(candidates: readonly GcCandidate[], dueAt: number): Promise<void> {
    await queueCandidates(this.db, candidates, dueAt);
  }

  /** Due entries (due_at <= now), by due time, at most `limit`, after `after` in that order. */
  async due(now: number, limit: number, after?: GcEntry): Promise<GcEntry[]> {
    let q = this.db.selectFrom('gc_queue').selectAll().where('due_at', '<=', now);
    if (after !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb('due_at', '>', after.dueAt),
          eb.and([eb('due_at', '=', after.dueAt), eb('kind', '>', after.kind)]),
          eb.and([eb('due_at', '=', after.dueAt), eb('kind', '=', after.kind), eb('repository_id', '>', after.repositoryId)]),
          eb.and([eb('due_at', '=', after.dueAt), eb('kind', '=', after.kind), eb('repository_id', '=', after.repositoryId), eb('digest', '>', after.digest)]),
        ]),
      );
    }
    const rows = await q.orderBy('due_at').orderBy('kind').orderBy('repository_id').orderBy('digest').limit(limit).execute();
    return rows.map((r) => ({ kind: r.kind === 'link' ? 'link' : 'blob', repositoryId: Number(r.repository_id), digest: r.digest, dueAt: Number(r.due_at) }));
  }

  /**
   * Removes the entry if it is still due at `now`: the first statement of a decision. False when
   * another collector took it or a writer queued it again for later. On SQLite this write also
   * takes the database's write lock first, so the whole decision runs under it.
   */
  async take(c: GcCandidate, now: number): Promise<boolean> {
    const r = await this.db
      .deleteFrom('gc_queue')
      .where('kind', '=', c.kind)
      .where('repository_id', '=', c.kind === 'blob' ? 0 : c.repositoryId)
      .where('digest', '=', c.digest)
      .where('due_at', '<=', now)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Removes the entry if it is still due at `dueAt` exactly (a writer taking its candidate back). */
  async remove(c: GcCandidate, dueAt: number): Promise<boolean> {
    const r = await this.db
      .deleteFrom('gc_queue')
      .where('kind', '=', c.kind)
      .where('repository_id', '=', c.kind === 'blob' ? 0 : c.repositoryId)
      .where('digest', '=', c.digest)
      .where('due_at', '=', dueAt)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Moves the entry from due time `from` to `to`, if it is still due at `from`. */
  async reschedule(c: GcCandidate, from: number, to: number): Promise<boolean> {
    const r = await this.db
      .updateTable('gc_queue')
      .set({ due_at: to })
      .where('kind', '=', c.kind)
      .where('repository_id', '=', c.kind === 'blob' ? 0 : c.repositoryId)
      .where('digest', '=', c.digest)
      .where('due_at', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async get(c: GcCandidate): Promise<GcEntry | undefined> {
    const r = await this.db
      .selectFrom('gc_queue')
      .selectAll()
      .where('kind', '=', c.kind)
      .where('repository_id', '=', c.kind === 'blob' ? 0 : c.repositoryId)
      .where('digest', '=', c.digest)
      .executeTakeFirst();
    return r === undefined ? undefined : { kind: c.kind, repositoryId: Number(r.repository_id), digest: r.digest, dueAt: Number(r.due_at) };
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('gc_queue').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * Queues, due at `dueAt`, every blob no repository holds and every link no manifest of its
   * repository uses: a walk of the rows (not of storage), for `berth gc --full`. Returns how many
   * entries were added or moved earlier.
   */
  async seedUnreferenced(dueAt: number): Promise<number> {
    const before = await this.count();
    await this.db
      .insertInto('gc_queue')
      .columns(['kind', 'repository_id', 'digest', 'due_at'])
      .expression(
        this.db
          .selectFrom('blobs as b')
          .select([sql<string>`'blob'`.as('kind'), sql<number>`0`.as('repository_id'), 'b.digest', dueValue(dueAt).as('due_at')])
          .where((eb) => eb.not(eb.exists(eb.selectFrom('repository_blobs as rb').select('rb.digest').whereRef('rb.digest', '=', 'b.digest')))),
      )
      .onConflict((oc) => oc.columns(['kind', 'repository_id', 'digest']).doNothing())
      .execute();
    await this.db
      .insertInto('gc_queue')
      .columns(['kind', 'repository_id', 'digest', 'due_at'])
      .expression(
        this.db
          .selectFrom('repository_blobs as rb')
          .select([sql<string>`'link'`.as('kind'), 'rb.repository_id', 'rb.digest', dueValue(dueAt).as('due_at')])
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('manifest_references as mr')
                  .select('mr.child_digest')
                  .whereRef('mr.repository_id', '=', 'rb.repository_id')
                  .whereRef('mr.child_digest', '=', 'rb.digest')
                  .where('mr.kind', '=', 'blob'),
              ),
            ),
          ),
      )
      .onConflict((oc) => oc.columns(['kind', 'repository_id', 'digest']).doNothing())
      .execute();
    return (await this.count()) - before;
  }
}

/** The metadata seam: small stores per aggregate and a transaction that spans them. */
/** Principals whose pulls leave an image's last recorded pull time alone (per registry). */
export class PullTimeExclusionStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Adds the exclusion; false when it was there. */
  async add(accountId: string, principalArn: string, now: number): Promise<boolean> {
    const r = await this.db
      .insertInto('pull_time_exclusions')
      .values({ account_id: accountId, principal_arn: principalArn, created_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'principal_arn']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async remove(accountId: string, principalArn: string): Promise<boolean> {
    const r = await this.db.deleteFrom('pull_time_exclusions').where('account_id', '=', accountId).where('principal_arn', '=', principalArn).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** The registry's exclusions in ARN order, after `after`, at most `limit`. */
  async list(accountId: string, opts: { after?: string | undefined; limit: number }): Promise<Array<{ principalArn: string; createdAt: number }>> {
    let q = this.db.selectFrom('pull_time_exclusions').select(['principal_arn', 'created_at']).where('account_id', '=', accountId);
    if (opts.after !== undefined) q = q.where('principal_arn', '>', opts.after);
    const rows = await q.orderBy('principal_arn').limit(opts.limit).execute();
    return rows.map((r) => ({ principalArn: r.principal_arn, createdAt: Number(r.created_at) }));
  }

  async count(accountId: string): Promise<number> {
    const r = await this.db.selectFrom('pull_time_exclusions').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

export class MetaStore {
  readonly settings: SettingsStore;
  readonly accounts: AccountStore;
  readonly accessKeys: AccessKeyStore;
  readonly repositories: RepositoryStore;
  readonly blobs: BlobStoreMeta;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: UploadStoreMeta;
  readonly events: EventStore;
  readonly accountSettings: AccountSettingsStore;
  readonly accountPolicies: AccountPoliciesStore;
  readonly iam: IamStore;
  readonly creationTemplates: CreationTemplateStore;
  readonly gcQueue: GcQueueStore;
  readonly pullTimeExclusions: PullTimeExclusionStore;
  readonly vulns: VulnStore;
  readonly scans: ScanStore;
  readonly secrets: SecretStore;
  readonly pullThroughCacheRules: PullThroughCacheRuleStore;
  readonly replication: ReplicationStore;

  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  private readonly closer: () => Promise<void>;
  private readonly inTransaction: boolean;

  constructor(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', closer: () => Promise<void>, inTransaction = false) {
    this.db = db;
    this.dialect = dialect;
    this.closer = closer;
    this.inTransaction = inTransaction;
    this.settings = new SettingsStore(db);
    this.accounts = new AccountStore(db);
    this.accessKeys = new AccessKeyStore(db);
    this.repositories = new RepositoryStore(db);
    this.blobs = new BlobStoreMeta(db, dialect);
    this.manifests = new ManifestStore(db);
    this.tags = new TagStore(db, dialect);
    this.uploads = new UploadStoreMeta(db);
    this.events = new EventStore(db);
    this.accountSettings = new AccountSettingsStore(db);
    this.accountPolicies = new AccountPoliciesStore(db);
    this.iam = new IamStore(db);
    this.creationTemplates = new CreationTemplateStore(db);
    this.gcQueue = new GcQueueStore(db);
    this.pullTimeExclusions = new PullTimeExclusionStore(db);
    this.vulns = new VulnStore(db);
    this.scans = new ScanStore(db);
    this.secrets = new SecretStore(db);
    this.pullThroughCacheRules = new PullThroughCacheRuleStore(db);
    this.replication = new ReplicationStore(db);
  }

  /** Runs `fn` in one database transaction; nested calls join the outer transaction. */
  async transaction<T>(fn: (tx: MetaStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return await fn(this);
    return await this.db.transaction().execute(async (trx: Transaction<Database>) => await fn(new MetaStore(trx, this.dialect, this.closer, true)));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.closer();
  }
}
