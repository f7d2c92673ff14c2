// The shared MetaStore suite: SQLite and PostgreSQL register these tests with a factory that returns
// an empty, migrated store, and both must pass all of them. Every store method in store.ts is
// exercised here, in one dialect-independent way.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../core/digest.ts';
import { DEFAULT_REPOSITORY_SETTINGS, type MetaStore, type NewManifest, type ManifestReference } from './store.ts';
import { customerPolicyArn, type IamPrincipal, type IamPrincipalKind } from './iam.ts';

export interface MetaFixture {
  meta: MetaStore;
  cleanup(): Promise<void>;
}

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const T0 = 1_700_000_000_000;

/** The byte-wise (UTF-8, memcmp) order that repository and tag listings must follow. */
export function byteOrder(values: readonly string[]): string[] {
  return [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function d(label: string): string {
  return digestOf(label);
}

function manifest(repositoryId: number, label: string, extra: Partial<NewManifest> = {}): NewManifest {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, label }));
  return {
    repositoryId,
    digest: digestOf(body),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: body.length,
    artifactType: null,
    subjectDigest: null,
    configDigest: null,
    annotations: null,
    body,
    pushedAt: T0,
    references: [],
    ...extra,
  };
}

async function repo(meta: MetaStore, name = 'team/app', account = ACCOUNT): Promise<number> {
  await meta.accounts.ensure(account, T0);
  return (await meta.repositories.ensure(account, name, T0)).repository.id;
}

/** Puts a manifest and returns its digest. */
async function putManifest(meta: MetaStore, repositoryId: number, label: string, extra: Partial<NewManifest> = {}): Promise<string> {
  const m = manifest(repositoryId, label, extra);
  assert.equal(await meta.manifests.put(m), true);
  return m.digest;
}

async function pageAll<T>(fetch: (after: string | undefined) => Promise<T[]>, keyOf: (t: T) => string): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await fetch(after);
    if (page.length === 0) return out;
    out.push(...page);
    after = keyOf(page[page.length - 1] as T);
  }
  throw new Error('pagination did not end');
}

function sortedRefs(refs: ManifestReference[]): ManifestReference[] {
  return [...refs].sort((a, b) => `${a.kind} ${a.childDigest}`.localeCompare(`${b.kind} ${b.childDigest}`));
}

/** Registers a test (node:test's promise is only for nested tests; these are top-level in a describe). */
function it(name: string, fn: () => Promise<void>): void {
  void test(name, fn);
}

export function metaSuite(name: string, make: () => Promise<MetaFixture>): void {
  const withMeta = (fn: (meta: MetaStore) => Promise<void>) => async (): Promise<void> => {
    const fixture = await make();
    try {
      await fn(fixture.meta);
    } finally {
      await fixture.cleanup();
    }
  };

  void describe(`MetaStore suite: ${name}`, () => {
    it('ping', withMeta(async (meta) => {
      await meta.ping();
    }));

    it('settings: get, set, setIfAbsent keeps the first value', withMeta(async (meta) => {
      assert.equal(await meta.settings.get('k'), undefined);
      assert.equal(await meta.settings.setIfAbsent('k', 'first'), 'first');
      assert.equal(await meta.settings.setIfAbsent('k', 'second'), 'first');
      assert.equal(await meta.settings.get('k'), 'first');
      await meta.settings.set('k', 'third');
      assert.equal(await meta.settings.get('k'), 'third');
      await meta.settings.set('other', '');
      assert.equal(await meta.settings.get('other'), '');
      assert.equal(await meta.settings.setIfAbsent('other', 'x'), '');
    }));

    it('accounts: ensure is idempotent and keeps the first creation time', withMeta(async (meta) => {
      assert.equal(await meta.accounts.get(ACCOUNT), undefined);
      assert.deepEqual(await meta.accounts.ensure(ACCOUNT, T0), { id: ACCOUNT, createdAt: T0 });
      assert.deepEqual(await meta.accounts.ensure(ACCOUNT, T0 + 5000), { id: ACCOUNT, createdAt: T0 });
      assert.deepEqual(await meta.accounts.get(ACCOUNT), { id: ACCOUNT, createdAt: T0 });
      assert.deepEqual(await meta.accounts.ensure(OTHER_ACCOUNT, T0 + 1), { id: OTHER_ACCOUNT, createdAt: T0 + 1 });
    }));

    it('access keys: put/get, put updates, listForUser filters by account and user in creation order', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      await meta.accounts.ensure(OTHER_ACCOUNT, T0);
      assert.equal(await meta.accessKeys.get('AKIAABSENT'), undefined);
      const k1 = { accessKeyId: 'AKIA0000000000000001', accountId: ACCOUNT, userName: 'alice', secretHash: 'scrypt$1', secretEnc: null, status: 'Active' as const, createdAt: T0 + 20 };
      const k2 = { accessKeyId: 'AKIA0000000000000002', accountId: ACCOUNT, userName: 'alice', secretHash: 'scrypt$2', secretEnc: null, status: 'Inactive' as const, createdAt: T0 + 10 };
      const k3 = { accessKeyId: 'AKIA0000000000000003', accountId: ACCOUNT, userName: 'bob', secretHash: 'scrypt$3', secretEnc: null, status: 'Active' as const, createdAt: T0 };
      const k4 = { accessKeyId: 'AKIA0000000000000004', accountId: OTHER_ACCOUNT, userName: 'alice', secretHash: 'scrypt$4', secretEnc: null, status: 'Active' as const, createdAt: T0 };
      for (const k of [k1, k2, k3, k4]) await meta.accessKeys.put(k);
      assert.deepEqual(await meta.accessKeys.get(k1.accessKeyId), k1);
      assert.deepEqual(await meta.accessKeys.get(k2.accessKeyId), k2);
      assert.deepEqual(await meta.accessKeys.listForUser(ACCOUNT, 'alice'), [k2, k1]);
      assert.deepEqual(await meta.accessKeys.listForUser(ACCOUNT, 'bob'), [k3]);
      assert.deepEqual(await meta.accessKeys.listForUser(OTHER_ACCOUNT, 'alice'), [k4]);
      assert.deepEqual(await meta.accessKeys.listForUser(ACCOUNT, 'carol'), []);
      // put again updates the secret (hash and sealed), status and user, not the creation time nor the account.
      const updated = { ...k1, secretHash: 'scrypt$new', secretEnc: 'v1:iv:tag:body', status: 'Inactive' as const, userName: 'alice2', createdAt: T0 + 999 };
      await meta.accessKeys.put(updated);
      assert.deepEqual(await meta.accessKeys.get(k1.accessKeyId), { ...updated, createdAt: k1.createdAt });
      assert.deepEqual(await meta.accessKeys.listForUser(ACCOUNT, 'alice'), [k2]);
    }));

    it('repositories: ensure creates once, get finds by account and name', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      await meta.accounts.ensure(OTHER_ACCOUNT, T0);
      assert.equal(await meta.repositories.get(ACCOUNT, 'app'), undefined);
      const first = await meta.repositories.ensure(ACCOUNT, 'app', T0);
      assert.equal(first.created, true);
      assert.deepEqual(first.repository, { id: first.repository.id, accountId: ACCOUNT, name: 'app', createdAt: T0, settings: DEFAULT_REPOSITORY_SETTINGS });
      assert.equal(typeof first.repository.id, 'number');
      const again = await meta.repositories.ensure(ACCOUNT, 'app', T0 + 1000);
      assert.equal(again.created, false);
      assert.deepEqual(again.repository, first.repository);
      assert.deepEqual(await meta.repositories.get(ACCOUNT, 'app'), first.repository);
      const other = await meta.repositories.ensure(OTHER_ACCOUNT, 'app', T0);
      assert.equal(other.created, true);
      assert.notEqual(other.repository.id, first.repository.id);
      assert.equal(await meta.repositories.get(ACCOUNT, 'App'), undefined, 'names are case-sensitive');
    }));

    it('repositories: settings given at creation and updated later; resource tags put, replaced, deleted, removed with the repository', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      const settings = { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' as const, tagMutabilityExclusions: [{ filterType: 'WILDCARD', filter: 'latest*' }], scanOnPush: true, encryptionType: 'KMS', kmsKey: 'arn:aws:kms:us-east-1:111122223333:key/k' };
      const { repository } = await meta.repositories.ensure(ACCOUNT, 'configured', T0, settings);
      assert.deepEqual(repository.settings, settings);
      assert.deepEqual((await meta.repositories.get(ACCOUNT, 'configured'))?.settings, settings);
      await meta.repositories.updateSettings(repository.id, { ...settings, imageTagMutability: 'MUTABLE', tagMutabilityExclusions: [] });
      assert.deepEqual((await meta.repositories.get(ACCOUNT, 'configured'))?.settings, { ...settings, imageTagMutability: 'MUTABLE', tagMutabilityExclusions: [] });
      await meta.repositories.putTags(repository.id, [{ key: 'team', value: 'a' }, { key: 'env', value: 'dev' }]);
      await meta.repositories.putTags(repository.id, [{ key: 'team', value: 'b' }]);
      assert.deepEqual(await meta.repositories.tags(repository.id), [{ key: 'env', value: 'dev' }, { key: 'team', value: 'b' }]);
      await meta.repositories.deleteTags(repository.id, ['env', 'absent']);
      assert.deepEqual(await meta.repositories.tags(repository.id), [{ key: 'team', value: 'b' }]);
      await meta.repositories.delete(repository.id);
      assert.deepEqual(await meta.repositories.tags(repository.id), []);
    }));

    it('repositories: tag mutability and scan-on-push set alone leave the other settings; policy documents put, replaced, removed, gone with the repository', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      const settings = { ...DEFAULT_REPOSITORY_SETTINGS, encryptionType: 'KMS', kmsKey: 'arn:aws:kms:us-east-1:111122223333:key/k' };
      const { repository } = await meta.repositories.ensure(ACCOUNT, 'policies', T0, settings);
      const other = (await meta.repositories.ensure(ACCOUNT, 'other', T0)).repository;
      const exclusions = [{ filterType: 'WILDCARD', filter: 'dev-*' }];
      await meta.repositories.setTagMutability(repository.id, { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: exclusions });
      await meta.repositories.setScanOnPush(repository.id, true);
      assert.deepEqual((await meta.repositories.get(ACCOUNT, 'policies'))?.settings, { ...settings, imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: exclusions, scanOnPush: true });
      assert.deepEqual((await meta.repositories.get(ACCOUNT, 'other'))?.settings, DEFAULT_REPOSITORY_SETTINGS);

      assert.equal(await meta.repositories.policyText(repository.id, 'repository'), undefined);
      await meta.repositories.putPolicyText(repository.id, 'repository', '{"Version":"2012-10-17"}', T0);
      await meta.repositories.putPolicyText(repository.id, 'lifecycle', '{"rules":[]}', T0);
      await meta.repositories.putPolicyText(other.id, 'repository', '{"other":true}', T0);
      await meta.repositories.putPolicyText(repository.id, 'repository', '{"Version":"2008-10-17"}', T0 + 1);
      assert.equal(await meta.repositories.policyText(repository.id, 'repository'), '{"Version":"2008-10-17"}');
      assert.equal(await meta.repositories.policyText(repository.id, 'lifecycle'), '{"rules":[]}');
      await meta.repositories.putPolicyText(repository.id, 'lifecycle', null, T0 + 2);
      assert.equal(await meta.repositories.policyText(repository.id, 'lifecycle'), undefined);
      await meta.repositories.delete(repository.id);
      assert.equal(await meta.repositories.policyText(repository.id, 'repository'), undefined);
      assert.equal(await meta.repositories.policyText(other.id, 'repository'), '{"other":true}');
    }));

    it('iam: users, groups and roles by kind; names unique per kind ignoring case; listed by name and path, paged', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      const user = (name: string, path = '/'): IamPrincipal => ({ accountId: ACCOUNT, kind: 'user', name, id: `AIDA${name.toUpperCase().padEnd(17, 'X')}`, path, tags: [], createdAt: T0 });
      assert.equal(await meta.iam.create(user('ci', '/build/')), true);
      assert.equal(await meta.iam.create(user('CI')), false, 'IAM names are case-insensitive');
      assert.equal(await meta.iam.create(user('alice')), true);
      assert.equal(await meta.iam.create(user('bob', '/build/x/')), true);
      assert.equal(await meta.iam.create({ accountId: ACCOUNT, kind: 'role', name: 'ci', id: 'AROAEXAMPLEROLE00001', path: '/', trustPolicy: '{"t":1}', maxSessionSeconds: 3600, tags: [{ Key: 'team', Value: 'red' }], createdAt: T0 }), true, 'another kind, same name');
      assert.deepEqual(await meta.iam.get(ACCOUNT, 'role', 'ci'), { accountId: ACCOUNT, kind: 'role', name: 'ci', id: 'AROAEXAMPLEROLE00001', path: '/', trustPolicy: '{"t":1}', maxSessionSeconds: 3600, tags: [{ Key: 'team', Value: 'red' }], createdAt: T0 });
      assert.deepEqual((await meta.iam.list(ACCOUNT, 'user', { limit: 10 })).map((u) => u.name), ['alice', 'bob', 'ci']);
      assert.deepEqual((await meta.iam.list(ACCOUNT, 'user', { limit: 1, after: 'alice' })).map((u) => u.name), ['bob']);
      assert.deepEqual((await meta.iam.list(ACCOUNT, 'user', { limit: 10, pathPrefix: '/build/' })).map((u) => u.name), ['bob', 'ci']);
      assert.equal(await meta.iam.get(ACCOUNT, 'user', 'nobody'), undefined);
    }));

    it('iam: the policies that apply to a user are its own and its groups\', inline and attached; deleting takes its rows along', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      const p = (kind: IamPrincipalKind, name: string, id: string): IamPrincipal => ({ accountId: ACCOUNT, kind, name, id, path: '/', tags: [], createdAt: T0 });
      await meta.iam.create(p('user', 'ci', 'AIDAEXAMPLEUSER00001'));
      await meta.iam.create(p('group', 'builders', 'AGPAEXAMPLEGROUP0001'));
      assert.equal(await meta.iam.createPolicy({ accountId: ACCOUNT, name: 'Push', id: 'ANPAEXAMPLEPOLICY001', path: '/team/', document: '{"push":1}', createdAt: T0, updatedAt: T0 }), true);
      assert.equal(await meta.iam.createPolicy({ accountId: ACCOUNT, name: 'Push', id: 'ANPAEXAMPLEPOLICY002', path: '/', document: '{}', createdAt: T0, updatedAt: T0 }), false);
      const push = customerPolicyArn(ACCOUNT, '/team/', 'Push');
      const readOnly = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
      await meta.iam.putInline(ACCOUNT, 'user', 'ci', 'Own', '{"own":1}');
      await meta.iam.putInline(ACCOUNT, 'user', 'ci', 'Own', '{"own":2}');
      await meta.iam.attach(ACCOUNT, 'user', 'ci', readOnly);
      await meta.iam.attach(ACCOUNT, 'user', 'ci', readOnly);
      await meta.iam.addToGroup(ACCOUNT, 'builders', 'ci');
      await meta.iam.attach(ACCOUNT, 'group', 'builders', push);
      await meta.iam.putInline(ACCOUNT, 'group', 'builders', 'Shared', '{"shared":1}');
      assert.deepEqual(await meta.iam.applied(ACCOUNT, 'user', 'ci'), [
        { source: 'user ci inline policy Own', document: '{"own":2}' },
        { source: readOnly, arn: readOnly },
        { source: 'group builders inline policy Shared', document: '{"shared":1}' },
        { source: push, arn: push, document: '{"push":1}' },
      ]);
      assert.equal(await meta.iam.attachmentCount(ACCOUNT, push), 1);
      assert.deepEqual(await meta.iam.groupsOf(ACCOUNT, 'ci'), ['builders']);
      assert.deepEqual(await meta.iam.membersOf(ACCOUNT, 'builders'), ['ci']);
      assert.equal(await meta.iam.detach(ACCOUNT, 'user', 'ci', readOnly), true);
      assert.equal(await meta.iam.detach(ACCOUNT, 'user', 'ci', readOnly), false);
      assert.equal(await meta.iam.putInline(ACCOUNT, 'user', 'ci', 'Own', null), true);
      assert.equal(await meta.iam.putInline(ACCOUNT, 'user', 'ci', 'Own', null), false);
      assert.equal(await meta.iam.delete(ACCOUNT, 'user', 'ci'), true);
      assert.deepEqual(await meta.iam.membersOf(ACCOUNT, 'builders'), [], 'membership went with the user');
      assert.deepEqual(await meta.iam.applied(ACCOUNT, 'user', 'ci'), []);
      assert.equal(await meta.iam.delete(ACCOUNT, 'group', 'builders'), true);
      assert.equal(await meta.iam.attachmentCount(ACCOUNT, push), 0, 'attachments went with the group');
      assert.equal(await meta.iam.deletePolicy(ACCOUNT, 'Push'), true);
      assert.deepEqual(await meta.iam.listPolicies(ACCOUNT, { limit: 10 }), []);
    }));

    it('account policies: put, replaced, removed, one per account', withMeta(async (meta) => {
      const OTHER = '444455556666';
      assert.equal(await meta.accountPolicies.get(ACCOUNT, 'registry'), undefined);
      await meta.accountPolicies.put(ACCOUNT, 'registry', '{"a":1}', T0);
      await meta.accountPolicies.put(OTHER, 'registry', '{"b":2}', T0);
      await meta.accountPolicies.put(ACCOUNT, 'registry', '{"a":3}', T0 + 1);
      assert.equal(await meta.accountPolicies.get(ACCOUNT, 'registry'), '{"a":3}');
      await meta.accountPolicies.put(ACCOUNT, 'registry', null, T0 + 2);
      assert.equal(await meta.accountPolicies.get(ACCOUNT, 'registry'), undefined);
      assert.equal(await meta.accountPolicies.get(OTHER, 'registry'), '{"b":2}');
    }));

    it('manifests.list filters by tag status and pages by digest; tags.forDigests groups tags by digest', withMeta(async (meta) => {
      const r = await repo(meta);
      const digests = [];
      for (let i = 0; i < 7; i++) digests.push(await putManifest(meta, r, `list-${i}`));
      const sorted = [...digests].sort();
      const tagged = new Set([sorted[1], sorted[4], sorted[6]]);
      for (const [i, dg] of sorted.entries()) if (tagged.has(dg)) await meta.tags.put(r, `t${i}`, dg, T0);
      await meta.tags.put(r, 'second', sorted[4] as string, T0);
      const all = await pageAll((after) => meta.manifests.list(r, { after, limit: 2 }), (m) => m.digest);
      assert.deepEqual(all.map((m) => m.digest), sorted);
      assert.deepEqual((await meta.manifests.list(r, { limit: 10, tagged: true })).map((m) => m.digest), sorted.filter((x) => tagged.has(x)));
      assert.deepEqual((await meta.manifests.list(r, { limit: 10, tagged: false })).map((m) => m.digest), sorted.filter((x) => !tagged.has(x)));
      assert.deepEqual((await meta.manifests.list(r, { limit: 2, from: sorted[4] })).map((m) => m.digest), sorted.slice(4, 6));
      const byDigest = await meta.tags.forDigests(r, sorted);
      assert.deepEqual([...byDigest.keys()].sort(), sorted.filter((x) => tagged.has(x)));
      assert.deepEqual(byDigest.get(sorted[4] as string), ['second', 't4']);
      assert.deepEqual(await meta.tags.forDigests(r, []), new Map());
    }));

    it('account settings and repository creation templates', withMeta(async (meta) => {
      assert.equal(await meta.accountSettings.get(ACCOUNT, 'BLOB_MOUNTING'), undefined);
      await meta.accountSettings.put(ACCOUNT, 'BLOB_MOUNTING', 'DISABLED');
      await meta.accountSettings.put(ACCOUNT, 'BLOB_MOUNTING', 'ENABLED');
      assert.equal(await meta.accountSettings.get(ACCOUNT, 'BLOB_MOUNTING'), 'ENABLED');
      assert.equal(await meta.accountSettings.get(OTHER_ACCOUNT, 'BLOB_MOUNTING'), undefined);
      const t = { accountId: ACCOUNT, prefix: 'team-a', template: { prefix: 'team-a', appliedFor: ['CREATE_ON_PUSH'] }, createdAt: T0, updatedAt: T0 };
      assert.equal(await meta.creationTemplates.create(t), true);
      assert.equal(await meta.creationTemplates.create(t), false, 'one template per prefix');
      assert.equal(await meta.creationTemplates.create({ ...t, prefix: 'ROOT', template: { prefix: 'ROOT' } }), true);
      assert.deepEqual((await meta.creationTemplates.list(ACCOUNT)).map((x) => x.prefix), ['ROOT', 'team-a']);
      assert.equal(await meta.creationTemplates.update({ ...t, template: { prefix: 'team-a', appliedFor: ['REPLICATION'] }, updatedAt: T0 + 5 }), true);
      assert.deepEqual(await meta.creationTemplates.get(ACCOUNT, 'team-a'), { ...t, template: { prefix: 'team-a', appliedFor: ['REPLICATION'] }, updatedAt: T0 + 5 });
      assert.equal(await meta.creationTemplates.update({ ...t, prefix: 'absent' }), false);
      assert.equal(await meta.creationTemplates.delete(ACCOUNT, 'team-a'), true);
      assert.equal(await meta.creationTemplates.delete(ACCOUNT, 'team-a'), false);
      assert.deepEqual(await meta.creationTemplates.list(OTHER_ACCOUNT), []);
    }));

    it('repositories: list pages with after+limit in byte order, per account', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      await meta.accounts.ensure(OTHER_ACCOUNT, T0);
      const names = ['ab', 'a/b', 'a', 'a-b', 'a.b', 'a_b', 'b', 'a/b/c', 'a0', 'z9', 'a/a', 'aa'];
      for (const n of names) await meta.repositories.ensure(ACCOUNT, n, T0);
      await meta.repositories.ensure(OTHER_ACCOUNT, 'a-other', T0);
      const expected = ['a', 'a-b', 'a.b', 'a/a', 'a/b', 'a/b/c', 'a0', 'a_b', 'aa', 'ab', 'b', 'z9'];
      assert.deepEqual(byteOrder(names), expected, 'the expectation itself is byte order');
      const all = await meta.repositories.list(ACCOUNT, { limit: 100 });
      assert.deepEqual(
        all.map((r) => r.name),
        expected,
      );
      for (const limit of [1, 2, 5]) {
        const paged = await pageAll((after) => meta.repositories.list(ACCOUNT, { after, limit }), (r) => r.name);
        assert.deepEqual(
          paged.map((r) => r.name),
          expected,
          `limit ${limit}`,
        );
      }
      assert.deepEqual(
        (await meta.repositories.list(ACCOUNT, { after: 'a/b', limit: 3 })).map((r) => r.name),
        ['a/b/c', 'a0', 'a_b'],
      );
      assert.deepEqual(
        (await meta.repositories.list(ACCOUNT, { after: 'a.', limit: 2 })).map((r) => r.name),
        ['a.b', 'a/a'],
        'after need not be an existing name',
      );
      assert.deepEqual(await meta.repositories.list(ACCOUNT, { after: 'z9', limit: 10 }), []);
      assert.deepEqual(
        (await meta.repositories.list(OTHER_ACCOUNT, { limit: 10 })).map((r) => r.name),
        ['a-other'],
      );
      assert.deepEqual(await meta.repositories.list('999999999999', { limit: 10 }), []);
    }));

    it('repositories: delete removes its manifests, tags, references, blob links and uploads, and nothing else', withMeta(async (meta) => {
      const id = await repo(meta, 'doomed');
      const keep = await repo(meta, 'kept');
      const layer = d('layer');
      await meta.blobs.put(layer, 10, T0);
      for (const r of [id, keep]) {
        await meta.blobs.link(r, layer, T0);
        const m = await putManifest(meta, r, 'shared', { references: [{ childDigest: layer, kind: 'blob' }] });
        const idx = await putManifest(meta, r, 'index', { references: [{ childDigest: m, kind: 'manifest' }] });
        await meta.tags.put(r, 'latest', idx, T0);
        await meta.uploads.create({ id: `upload-${r}`, repositoryId: r, createdAt: T0, updatedAt: T0 });
      }
      const m = manifest(id, 'shared').digest;
      assert.equal(await meta.repositories.delete(id), true);
      assert.equal(await meta.repositories.get(ACCOUNT, 'doomed'), undefined);
      assert.equal(await meta.manifests.get(id, m), undefined);
      assert.equal(await meta.manifests.count(id), 0);
      assert.equal(await meta.tags.get(id, 'latest'), undefined);
      assert.deepEqual(await meta.tags.list(id, { limit: 10 }), []);
      assert.deepEqual(await meta.manifests.parents(id, m), []);
      assert.deepEqual(await meta.manifests.blobUsers(id, layer, 10), []);
      assert.deepEqual(await meta.manifests.references(id, m), []);
      assert.equal(await meta.blobs.getInRepository(id, layer), undefined);
      assert.equal(await meta.uploads.get(`upload-${id}`), undefined);
      // The blob itself is global (garbage collection decides), and the other repository is intact.
      assert.deepEqual(await meta.blobs.get(layer), { digest: layer, size: 10 });
      assert.equal(await meta.manifests.count(keep), 2);
      assert.notEqual(await meta.tags.get(keep, 'latest'), undefined);
      assert.deepEqual(await meta.blobs.getInRepository(keep, layer), { digest: layer, size: 10 });
      assert.deepEqual(await meta.manifests.parents(keep, manifest(keep, 'shared').digest), [manifest(keep, 'index').digest]);
      assert.notEqual(await meta.uploads.get(`upload-${keep}`), undefined);
      assert.equal(await meta.repositories.delete(id), false);
      // The name can be created again, empty.
      const recreated = await meta.repositories.ensure(ACCOUNT, 'doomed', T0 + 1);
      assert.equal(recreated.created, true);
      assert.equal(await meta.manifests.count(recreated.repository.id), 0);
    }));

    it('blobs: put is idempotent, link/unlink, getInRepository', withMeta(async (meta) => {
      const r1 = await repo(meta, 'one');
      const r2 = await repo(meta, 'two');
      const b = d('blob');
      assert.equal(await meta.blobs.get(b), undefined);
      await meta.blobs.put(b, 1234, T0);
      await meta.blobs.put(b, 1234, T0 + 1);
      await meta.blobs.put(b, 99, T0 + 2);
      assert.deepEqual(await meta.blobs.get(b), { digest: b, size: 1234 }, 'the first record stays');
      assert.equal(await meta.blobs.getInRepository(r1, b), undefined, 'not linked yet');
      await meta.blobs.link(r1, b, T0);
      await meta.blobs.link(r1, b, T0 + 1);
      assert.deepEqual(await meta.blobs.getInRepository(r1, b), { digest: b, size: 1234 });
      assert.equal(await meta.blobs.getInRepository(r2, b), undefined, 'links are per repository');
      assert.equal(await meta.blobs.unlink(r1, b), true);
      assert.equal(await meta.blobs.unlink(r1, b), false);
      assert.equal(await meta.blobs.getInRepository(r1, b), undefined);
      assert.deepEqual(await meta.blobs.get(b), { digest: b, size: 1234 }, 'unlink keeps the blob record');
      // Sizes beyond 32 bits survive.
      const big = d('big');
      await meta.blobs.put(big, 50 * 1024 * 1024 * 1024, T0);
      assert.deepEqual(await meta.blobs.get(big), { digest: big, size: 50 * 1024 * 1024 * 1024 });
    }));

    it('blobs: sizesInRepository over more than 500 digests', withMeta(async (meta) => {
      const r = await repo(meta);
      const other = await repo(meta, 'other');
      const digests = Array.from({ length: 1234 }, (_, i) => d(`blob-${i}`));
      const expected = new Map<string, number>();
      await meta.transaction(async (tx) => {
        for (const [i, dg] of digests.entries()) {
          await tx.blobs.put(dg, 1000 + i, T0);
          if (i % 7 === 3) {
            await tx.blobs.link(other, dg, T0);
            continue;
          }
          await tx.blobs.link(r, dg, T0);
          expected.set(dg, 1000 + i);
        }
      });
      const asked = [...digests, d('unknown-1'), d('unknown-2')];
      const sizes = await meta.blobs.sizesInRepository(r, asked);
      assert.equal(sizes.size, expected.size);
      assert.ok(expected.size > 1000);
      assert.deepEqual(new Map([...sizes].sort()), new Map([...expected].sort()));
      assert.deepEqual(await meta.blobs.sizesInRepository(r, []), new Map());
    }));

    it('manifests: put stores once, get returns the exact body bytes and metadata', withMeta(async (meta) => {
      const r = await repo(meta);
      // Not UTF-8: invalid sequences and a NUL byte must survive.
      const body = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('"}')]);
      const m: NewManifest = {
        repositoryId: r,
        digest: digestOf(body),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: body.length,
        artifactType: 'application/vnd.example+type',
        subjectDigest: d('subject'),
        configDigest: d('config'),
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'é': 'ünïcödé' },
        body,
        pushedAt: T0 + 5,
        references: [
          { childDigest: d('config'), kind: 'blob' },
          { childDigest: d('layer'), kind: 'blob' },
        ],
      };
      assert.equal(await meta.manifests.get(r, m.digest), undefined);
      assert.equal(await meta.manifests.getMeta(r, m.digest), undefined);
      assert.equal(await meta.manifests.put(m), true);
      assert.equal(await meta.manifests.put({ ...m, body: Buffer.from('different'), size: 9, mediaType: 'x/y' }), false);
      const got = await meta.manifests.get(r, m.digest);
      assert.ok(got !== undefined);
      assert.ok(Buffer.isBuffer(got.body));
      assert.ok(got.body.equals(body), 'the body is byte-for-byte what was put');
      assert.equal(digestOf(got.body), m.digest);
      const expectedMeta = {
        repositoryId: r,
        digest: m.digest,
        mediaType: m.mediaType,
        size: body.length,
        artifactType: m.artifactType,
        subjectDigest: m.subjectDigest,
        configDigest: m.configDigest,
        annotations: m.annotations,
        pushedAt: T0 + 5,
        lastPulledAt: null,
        status: 'ACTIVE',
        archivedAt: null,
        activatedAt: null,
      };
      const { body: _body, ...gotMeta } = got;
      assert.deepEqual(gotMeta, expectedMeta);
      const onlyMeta = await meta.manifests.getMeta(r, m.digest);
      assert.deepEqual(onlyMeta, expectedMeta);
      assert.equal(onlyMeta !== undefined && 'body' in onlyMeta, false, 'getMeta does not load the body');
      assert.deepEqual(sortedRefs(await meta.manifests.references(r, m.digest)), sortedRefs(m.references));
      assert.equal(await meta.manifests.count(r), 1);
      // Null optional fields round-trip as null.
      const plain = manifest(r, 'plain');
      await meta.manifests.put(plain);
      const gotPlain = await meta.manifests.getMeta(r, plain.digest);
      assert.equal(gotPlain?.artifactType, null);
      assert.equal(gotPlain?.subjectDigest, null);
      assert.equal(gotPlain?.configDigest, null);
      assert.equal(gotPlain?.annotations, null);
      assert.equal(await meta.manifests.count(r), 2);
      // Manifests are per repository.
      const other = await repo(meta, 'other');
      assert.equal(await meta.manifests.get(other, m.digest), undefined);
      assert.equal(await meta.manifests.put({ ...m, repositoryId: other }), true);
    }));

    it('manifests: duplicate references are tolerated and stored once; many references are stored', withMeta(async (meta) => {
      const r = await repo(meta);
      const layer = d('layer');
      const refs: ManifestReference[] = [
        { childDigest: layer, kind: 'blob' },
        { childDigest: layer, kind: 'blob' },
        { childDigest: d('config'), kind: 'blob' },
        { childDigest: layer, kind: 'manifest' },
      ];
      const m = await putManifest(meta, r, 'dups', { references: refs });
      assert.deepEqual(sortedRefs(await meta.manifests.references(r, m)), sortedRefs([refs[0], refs[2], refs[3]] as ManifestReference[]));
      const many = Array.from({ length: 450 }, (_, i): ManifestReference => ({ childDigest: d(`many-${i}`), kind: i % 2 === 0 ? 'blob' : 'manifest' }));
      const big = await putManifest(meta, r, 'many', { references: many });
      assert.deepEqual(sortedRefs(await meta.manifests.references(r, big)), sortedRefs(many));
    }));

    it('manifests: sizes over more than 500 digests', withMeta(async (meta) => {
      const r = await repo(meta);
      const expected = new Map<string, number>();
      await meta.transaction(async (tx) => {
        for (let i = 0; i < 620; i++) {
          const m = manifest(r, `m-${i}`, { size: 100 + i });
          await tx.manifests.put(m);
          expected.set(m.digest, 100 + i);
        }
      });
      const sizes = await meta.manifests.sizes(r, [...expected.keys(), d('absent')]);
      assert.deepEqual(new Map([...sizes].sort()), new Map([...expected].sort()));
      assert.equal(await meta.manifests.count(r), 620);
    }));

    it('manifests: parents and blobUsers follow references of their kind, per repository', withMeta(async (meta) => {
      const r = await repo(meta);
      const other = await repo(meta, 'other');
      const config = d('config');
      const layer = d('layer');
      const m1 = await putManifest(meta, r, 'm1', { configDigest: config, references: [{ childDigest: config, kind: 'blob' }, { childDigest: layer, kind: 'blob' }] });
      const m2 = await putManifest(meta, r, 'm2', { references: [{ childDigest: layer, kind: 'blob' }] });
      const i1 = await putManifest(meta, r, 'i1', { references: [{ childDigest: m1, kind: 'manifest' }, { childDigest: m2, kind: 'manifest' }] });
      const i2 = await putManifest(meta, r, 'i2', { references: [{ childDigest: m1, kind: 'manifest' }] });
      await putManifest(meta, other, 'i-other', { references: [{ childDigest: m1, kind: 'manifest' }, { childDigest: layer, kind: 'blob' }] });
      assert.deepEqual((await meta.manifests.parents(r, m1)).sort(), [i1, i2].sort());
      assert.deepEqual(await meta.manifests.parents(r, m2), [i1]);
      assert.deepEqual(await meta.manifests.parents(r, i1), []);
      assert.deepEqual(await meta.manifests.parents(r, layer), [], 'a blob reference is not a parent link');
      assert.deepEqual((await meta.manifests.blobUsers(r, layer, 10)).sort(), [m1, m2].sort());
      assert.deepEqual(await meta.manifests.blobUsers(r, config, 10), [m1]);
      const one = await meta.manifests.blobUsers(r, layer, 1);
      assert.equal(one.length, 1);
      assert.ok(one[0] === m1 || one[0] === m2);
      assert.deepEqual(await meta.manifests.blobUsers(r, m1, 10), [], 'a manifest reference is not a blob use');
      assert.deepEqual(await meta.manifests.blobUsers(r, d('unused'), 10), []);
    }));

    it('manifests: referrers by subject, with and without artifactType, in push order', withMeta(async (meta) => {
      const r = await repo(meta);
      const other = await repo(meta, 'other');
      const subject = await putManifest(meta, r, 'subject');
      const sig = 'application/vnd.dev.cosign.signature';
      const sbom = 'application/spdx+json';
      const r1 = await putManifest(meta, r, 'r1', { subjectDigest: subject, artifactType: sig, pushedAt: T0 + 20 });
      const r2 = await putManifest(meta, r, 'r2', { subjectDigest: subject, artifactType: sbom, pushedAt: T0 + 10 });
      const r3 = await putManifest(meta, r, 'r3', { subjectDigest: subject, artifactType: sig, pushedAt: T0 + 30, annotations: { a: 'b' } });
      await putManifest(meta, r, 'unrelated', { subjectDigest: d('another subject'), artifactType: sig });
      await putManifest(meta, other, 'r-other', { subjectDigest: subject, artifactType: sig });
      const all = await meta.manifests.referrers(r, subject);
      assert.deepEqual(
        all.map((m) => m.digest),
        [r2, r1, r3],
      );
      assert.deepEqual(all[2]?.annotations, { a: 'b' });
      assert.equal(all[0]?.artifactType, sbom);
      assert.equal(all.some((m) => 'body' in m), false);
      assert.deepEqual(
        (await meta.manifests.referrers(r, subject, sig)).map((m) => m.digest),
        [r1, r3],
      );
      assert.deepEqual(
        (await meta.manifests.referrers(r, subject, sbom)).map((m) => m.digest),
        [r2],
      );
      assert.deepEqual(await meta.manifests.referrers(r, subject, 'application/none'), []);
      assert.deepEqual(await meta.manifests.referrers(r, d('nothing refers to this')), []);
      // The same push time orders by digest.
      const s2 = await putManifest(meta, r, 'subject2');
      const x = await putManifest(meta, r, 'x', { subjectDigest: s2, pushedAt: T0 });
      const y = await putManifest(meta, r, 'y', { subjectDigest: s2, pushedAt: T0 });
      assert.deepEqual(
        (await meta.manifests.referrers(r, s2)).map((m) => m.digest),
        [x, y].sort(),
      );
    }));

    it('manifests: delete removes the manifest, its tags and its references only', withMeta(async (meta) => {
      const r = await repo(meta);
      const layer = d('layer');
      const m = await putManifest(meta, r, 'm', { references: [{ childDigest: layer, kind: 'blob' }] });
      const keep = await putManifest(meta, r, 'keep', { references: [{ childDigest: layer, kind: 'blob' }] });
      const idx = await putManifest(meta, r, 'idx', { references: [{ childDigest: m, kind: 'manifest' }] });
      await meta.tags.put(r, 't1', m, T0);
      await meta.tags.put(r, 't2', m, T0);
      await meta.tags.put(r, 'kept', keep, T0);
      assert.equal(await meta.manifests.delete(r, m), true);
      assert.equal(await meta.manifests.get(r, m), undefined);
      assert.equal(await meta.tags.get(r, 't1'), undefined);
      assert.equal(await meta.tags.get(r, 't2'), undefined);
      assert.deepEqual(await meta.tags.forDigest(r, m), []);
      assert.deepEqual(await meta.manifests.references(r, m), []);
      assert.deepEqual(await meta.manifests.blobUsers(r, layer, 10), [keep]);
      assert.equal(await meta.tags.get(r, 'kept'), keep);
      // The index's own reference to the deleted child is the index's business (registry checks it first).
      assert.deepEqual(await meta.manifests.parents(r, m), [idx]);
      assert.equal(await meta.manifests.delete(r, m), false);
      assert.equal(await meta.manifests.count(r), 2);
      // It can be pushed again, with its references.
      assert.equal(await meta.manifests.put(manifest(r, 'm', { references: [{ childDigest: layer, kind: 'blob' }] })), true);
      assert.deepEqual((await meta.manifests.blobUsers(r, layer, 10)).sort(), [m, keep].sort());
    }));

    it('manifests: recordPull sets lastPulledAt', withMeta(async (meta) => {
      const r = await repo(meta);
      const m = await putManifest(meta, r, 'pulled');
      assert.equal((await meta.manifests.getMeta(r, m))?.lastPulledAt, null);
      await meta.manifests.recordPull(r, m, T0 + 100);
      assert.equal((await meta.manifests.getMeta(r, m))?.lastPulledAt, T0 + 100);
      await meta.manifests.recordPull(r, m, T0 + 200);
      assert.equal((await meta.manifests.get(r, m))?.lastPulledAt, T0 + 200);
      await meta.manifests.recordPull(r, d('absent'), T0 + 300);
      // Batches from several processes arrive in any order: the later time stays.
      await meta.manifests.recordPulls([{ repositoryId: r, digest: m, at: T0 + 150 }]);
      assert.equal((await meta.manifests.getMeta(r, m))?.lastPulledAt, T0 + 200);
    }));

    it('manifests: setStatus moves images between the storage classes with their times; list filters by status', withMeta(async (meta) => {
      const r = await repo(meta);
      const a = await putManifest(meta, r, 'a');
      const b = await putManifest(meta, r, 'b');
      assert.deepEqual(await meta.manifests.setStatus(r, [a], 'ARCHIVED', T0 + 10), [a]);
      assert.deepEqual(await meta.manifests.setStatus(r, [a, b], 'ARCHIVED', T0 + 20).then((x) => x.sort()), [b], 'only what changed');
      const ma = await meta.manifests.getMeta(r, a);
      assert.equal(ma?.status, 'ARCHIVED');
      assert.equal(ma?.archivedAt, T0 + 10);
      assert.deepEqual((await meta.manifests.list(r, { limit: 10, status: 'ARCHIVED' })).map((m) => m.digest).sort(), [a, b].sort());
      assert.deepEqual(await meta.manifests.setStatus(r, [a], 'ACTIVE', T0 + 30), [a]);
      const back = await meta.manifests.getMeta(r, a);
      assert.equal(back?.status, 'ACTIVE');
      assert.equal(back?.activatedAt, T0 + 30);
      assert.equal(back?.archivedAt, T0 + 10, 'the last archive time stays');
      assert.deepEqual((await meta.manifests.list(r, { limit: 10, status: 'ACTIVE' })).map((m) => m.digest), [a]);
      assert.equal((await meta.manifests.list(r, { limit: 10 })).length, 2);
    }));

    it('vulnerability data: upsert keeps one row per advisory, candidates by family and name, withdrawn left out, generation moves', withMeta(async (meta) => {
      const rec = (id: string, name: string, extra: Record<string, unknown> = {}) => ({
        id,
        modified: '2026-01-01T00:00:00Z',
        withdrawn: extra.withdrawn !== undefined,
        record: JSON.stringify({ id, name, ...extra }),
        packages: [{ family: 'npm', nameKey: name }],
      });
      assert.deepEqual(await meta.vulns.generation(), { generation: 0, updatedAt: undefined });
      assert.equal(await meta.vulns.upsert('src', [rec('A-1', 'lodash'), rec('A-2', 'lodash'), rec('A-3', 'minimist', { withdrawn: 'x' })], T0), 3);
      assert.equal(await meta.vulns.upsert('src', [rec('A-1', 'lodash')], T0 + 1), 0, 'unchanged records are not rewritten');
      assert.equal(await meta.vulns.upsert('src', [rec('A-1', 'left-pad', { v: 2 })], T0 + 2), 1);
      const c = await meta.vulns.candidates('npm', ['lodash', 'left-pad', 'minimist', 'absent']);
      assert.deepEqual([...c.keys()].sort(), ['left-pad', 'lodash']);
      assert.equal(c.get('lodash')?.length, 1, 'A-1 moved to left-pad');
      assert.equal((await meta.vulns.candidates('PyPI', ['lodash'])).size, 0);
      assert.equal(await meta.vulns.count(), 3);
      assert.equal(await meta.vulns.bumpGeneration(T0 + 3), 1);
      assert.deepEqual(await meta.vulns.generation(), { generation: 1, updatedAt: T0 + 3 });
      await meta.vulns.putSource({ name: 'npm', location: '/x', records: 3, errors: 0, importedAt: T0 });
      await meta.vulns.putSource({ name: 'npm', location: '/y', records: 4, errors: 1, importedAt: T0 + 1 });
      assert.deepEqual(await meta.vulns.sources(), [{ name: 'npm', location: '/y', records: 4, errors: 1, importedAt: T0 + 1 }]);
    }));

    it('image scans: start, finish only the current scan, summaries, refresh by generation, stale ones, gone with the manifest', withMeta(async (meta) => {
      const r = await repo(meta);
      const m = await putManifest(meta, r, 'scanned');
      await meta.scans.start(r, m, 'ENHANCED', T0);
      assert.equal((await meta.scans.get(r, m))?.status, 'IN_PROGRESS');
      assert.equal(await meta.scans.finish(r, m, T0 - 1, { status: 'COMPLETE', description: null, completedAt: T0 + 1, generation: 1, dataUpdatedAt: null, counts: {} }), false, 'an older scan does not overwrite');
      const inventory = { packages: [{ name: 'x', version: '1' }] };
      assert.equal(await meta.scans.finish(r, m, T0, { status: 'COMPLETE', description: 'ok', completedAt: T0 + 1, generation: 1, dataUpdatedAt: T0, counts: { HIGH: 2 }, inventory, findings: [{ n: 1 }] }), true);
      const got = await meta.scans.get(r, m);
      assert.deepEqual(got?.inventory, inventory);
      assert.deepEqual(got?.findings, [{ n: 1 }]);
      assert.deepEqual((await meta.scans.summaries(r, [m, d('other')])).get(m)?.counts, { HIGH: 2 });
      assert.equal((await meta.scans.summaries(r, [m])).get(m)?.inventory, null, 'summaries carry no bodies');
      assert.deepEqual(await meta.scans.stale(2, 10), [{ repositoryId: r, digest: m, generation: 1 }]);
      assert.deepEqual(await meta.scans.stale(1, 10), []);
      assert.equal(await meta.scans.refresh(r, m, 0, { generation: 2, dataUpdatedAt: T0 + 5, counts: {}, findings: [], now: T0 + 6 }), false, 'not from a generation it is not at');
      assert.equal(await meta.scans.refresh(r, m, 1, { generation: 2, dataUpdatedAt: T0 + 5, counts: { LOW: 1 }, findings: [{ n: 2 }], now: T0 + 6 }), true);
      assert.deepEqual((await meta.scans.get(r, m))?.findings, [{ n: 2 }]);
      assert.deepEqual(await meta.scans.stale(2, 10), []);
      await meta.manifests.delete(r, m);
      assert.equal(await meta.scans.get(r, m), undefined);
    }));

    it('pull-time exclusions: add once, list in ARN order with pages, remove, per registry', withMeta(async (meta) => {
      const acct = '111111111111';
      const u = (n: string): string => `arn:aws:iam::${acct}:user/${n}`;
      assert.equal(await meta.pullTimeExclusions.add(acct, u('b'), T0), true);
      assert.equal(await meta.pullTimeExclusions.add(acct, u('a'), T0 + 1), true);
      assert.equal(await meta.pullTimeExclusions.add(acct, u('a'), T0 + 2), false);
      assert.equal(await meta.pullTimeExclusions.add('222222222222', u('a'), T0), true);
      assert.deepEqual(await meta.pullTimeExclusions.list(acct, { limit: 10 }), [
        { principalArn: u('a'), createdAt: T0 + 1 },
        { principalArn: u('b'), createdAt: T0 },
      ]);
      assert.deepEqual((await meta.pullTimeExclusions.list(acct, { after: u('a'), limit: 10 })).map((e) => e.principalArn), [u('b')]);
      assert.equal(await meta.pullTimeExclusions.count(acct), 2);
      assert.equal(await meta.pullTimeExclusions.remove(acct, u('a')), true);
      assert.equal(await meta.pullTimeExclusions.remove(acct, u('a')), false);
      assert.equal(await meta.pullTimeExclusions.count(acct), 1);
      assert.equal(await meta.pullTimeExclusions.count('222222222222'), 1);
    }));

    it('tags: put returns the previous digest, get, delete returns the digest', withMeta(async (meta) => {
      const r = await repo(meta);
      const m1 = await putManifest(meta, r, 'm1');
      const m2 = await putManifest(meta, r, 'm2');
      assert.equal(await meta.tags.get(r, 'latest'), undefined);
      assert.equal(await meta.tags.put(r, 'latest', m1, T0), undefined);
      assert.equal(await meta.tags.get(r, 'latest'), m1);
      assert.equal(await meta.tags.put(r, 'latest', m1, T0 + 1), m1, 'the same digest again');
      assert.equal(await meta.tags.put(r, 'latest', m2, T0 + 2), m1);
      assert.equal(await meta.tags.get(r, 'latest'), m2);
      assert.equal(await meta.tags.get(r, 'LATEST'), undefined, 'tags are case-sensitive');
      assert.equal(await meta.tags.delete(r, 'latest'), m2);
      assert.equal(await meta.tags.delete(r, 'latest'), undefined);
      assert.equal(await meta.tags.get(r, 'latest'), undefined);
      assert.notEqual(await meta.manifests.get(r, m2), undefined, 'deleting a tag keeps the manifest');
    }));

    it('tags: list pages with after+limit in byte order; forDigest', withMeta(async (meta) => {
      const r = await repo(meta);
      const other = await repo(meta, 'other');
      const m1 = await putManifest(meta, r, 'm1');
      const m2 = await putManifest(meta, r, 'm2');
      const tags = ['b', 'a', 'B', 'A', 'v1.9', 'v1.10', 'v1.10-rc1', 'latest', '_x', '1.0', 'v1.9.1', 'Z'];
      for (const [i, t] of tags.entries()) await meta.tags.put(r, t, i % 3 === 0 ? m2 : m1, T0);
      const om = await putManifest(meta, other, 'm1');
      await meta.tags.put(other, 'a-other', om, T0);
      const expected = ['1.0', 'A', 'B', 'Z', '_x', 'a', 'b', 'latest', 'v1.10', 'v1.10-rc1', 'v1.9', 'v1.9.1'];
      assert.deepEqual(byteOrder(tags), expected, 'the expectation itself is byte order');
      assert.deepEqual(await meta.tags.list(r, { limit: 100 }), expected);
      for (const limit of [1, 3, 5]) {
        assert.deepEqual(await pageAll((after) => meta.tags.list(r, { after, limit }), (t) => t), expected, `limit ${limit}`);
      }
      assert.deepEqual(await meta.tags.list(r, { after: 'B', limit: 3 }), ['Z', '_x', 'a']);
      assert.deepEqual(await meta.tags.list(r, { after: 'v1.10', limit: 2 }), ['v1.10-rc1', 'v1.9']);
      assert.deepEqual(await meta.tags.list(r, { after: 'v1.9.1', limit: 2 }), []);
      assert.deepEqual(await meta.tags.list(other, { limit: 10 }), ['a-other']);
      assert.deepEqual(await meta.tags.forDigest(r, m2), byteOrder(tags.filter((_, i) => i % 3 === 0)));
      assert.deepEqual(await meta.tags.forDigest(r, m1), byteOrder(tags.filter((_, i) => i % 3 !== 0)));
      assert.deepEqual(await meta.tags.forDigest(r, d('untagged')), []);
    }));

    it('uploads: create, get, touch, delete, staleIds', withMeta(async (meta) => {
      const r = await repo(meta);
      assert.equal(await meta.uploads.get('u-absent'), undefined);
      await meta.uploads.create({ id: 'u-1', repositoryId: r, createdAt: T0, updatedAt: T0 + 30 });
      await meta.uploads.create({ id: 'u-2', repositoryId: r, createdAt: T0, updatedAt: T0 + 10 });
      await meta.uploads.create({ id: 'u-3', repositoryId: r, createdAt: T0, updatedAt: T0 + 20 });
      await meta.uploads.create({ id: 'u-4', repositoryId: r, createdAt: T0, updatedAt: T0 + 100 });
      assert.deepEqual(await meta.uploads.get('u-1'), { id: 'u-1', repositoryId: r, createdAt: T0, updatedAt: T0 + 30 });
      await assert.rejects(meta.uploads.create({ id: 'u-1', repositoryId: r, createdAt: T0, updatedAt: T0 }), 'upload ids are unique');
      assert.deepEqual(await meta.uploads.staleIds(T0 + 50, 10), ['u-2', 'u-3', 'u-1']);
      assert.deepEqual(await meta.uploads.staleIds(T0 + 50, 2), ['u-2', 'u-3']);
      assert.deepEqual(await meta.uploads.staleIds(T0 + 10, 10), [], 'strictly before');
      await meta.uploads.touch('u-2', T0 + 200);
      assert.deepEqual(await meta.uploads.get('u-2'), { id: 'u-2', repositoryId: r, createdAt: T0, updatedAt: T0 + 200 });
      assert.deepEqual(await meta.uploads.staleIds(T0 + 150, 10), ['u-3', 'u-1', 'u-4']);
      await meta.uploads.touch('u-absent', T0);
      assert.equal(await meta.uploads.delete('u-3'), true);
      assert.equal(await meta.uploads.delete('u-3'), false);
      assert.equal(await meta.uploads.get('u-3'), undefined);
      assert.deepEqual(await meta.uploads.staleIds(T0 + 1000, 10), ['u-1', 'u-4', 'u-2']);
    }));

    it('events: append and list in order, after an id, with a limit', withMeta(async (meta) => {
      assert.deepEqual(await meta.events.list(0, 10), []);
      await meta.events.append({ accountId: ACCOUNT, type: 'ECR Image Action', repository: 'app', digest: d('x'), tag: 'v1', detail: { 'action-type': 'PUSH', nested: { n: 1, list: [1, 'two', null] } }, createdAt: T0 });
      await meta.events.append({ accountId: ACCOUNT, type: 'ECR Image Action', detail: {}, createdAt: T0 + 1 });
      await meta.events.append({ accountId: OTHER_ACCOUNT, type: 'ECR Scan', repository: null, digest: null, tag: null, detail: { ok: true }, createdAt: T0 + 2 });
      const all = await meta.events.list(0, 10);
      assert.equal(all.length, 3);
      const [e1, e2, e3] = all;
      assert.ok(e1 !== undefined && e2 !== undefined && e3 !== undefined);
      assert.ok(e1.id < e2.id && e2.id < e3.id, 'ids increase in append order');
      assert.deepEqual(e1, { id: e1.id, accountId: ACCOUNT, type: 'ECR Image Action', repository: 'app', digest: d('x'), tag: 'v1', detail: { 'action-type': 'PUSH', nested: { n: 1, list: [1, 'two', null] } }, createdAt: T0 });
      assert.deepEqual(e2, { id: e2.id, accountId: ACCOUNT, type: 'ECR Image Action', repository: null, digest: null, tag: null, detail: {}, createdAt: T0 + 1 });
      assert.deepEqual(e3.detail, { ok: true });
      assert.deepEqual(
        (await meta.events.list(e1.id, 1)).map((e) => e.id),
        [e2.id],
      );
      assert.deepEqual(
        (await meta.events.list(e1.id, 10)).map((e) => e.id),
        [e2.id, e3.id],
      );
      assert.deepEqual(await meta.events.list(e3.id, 10), []);
    }));

    it('the database refuses rows that point at nothing (foreign keys)', withMeta(async (meta) => {
      const r = await repo(meta);
      const missing = d('no such manifest');
      await assert.rejects(meta.tags.put(r, 'dangling', missing, T0), 'a tag must point at an existing manifest');
      assert.equal(await meta.tags.get(r, 'dangling'), undefined);
      assert.deepEqual(await meta.tags.list(r, { limit: 10 }), []);
      // A manifest of the same digest in another repository does not count.
      const other = await repo(meta, 'other');
      const m = await putManifest(meta, other, 'elsewhere');
      await assert.rejects(meta.tags.put(r, 'cross', m, T0));
      assert.equal(await meta.tags.get(r, 'cross'), undefined);
      await assert.rejects(meta.repositories.ensure('000000000000', 'no-account', T0), 'a repository needs its account');
      assert.equal(await meta.repositories.get('000000000000', 'no-account'), undefined);
      await assert.rejects(meta.blobs.link(r, d('no such blob'), T0), 'a link needs its blob');
      assert.equal(await meta.blobs.getInRepository(r, d('no such blob')), undefined);
      await assert.rejects(meta.manifests.put(manifest(987654, 'orphan')), 'a manifest needs its repository');
      await assert.rejects(meta.uploads.create({ id: 'u-orphan', repositoryId: 987654, createdAt: T0, updatedAt: T0 }), 'an upload needs its repository');
      assert.equal(await meta.uploads.get('u-orphan'), undefined);
      // The store is still usable afterwards (no transaction left aborted).
      assert.equal(await meta.tags.put(r, 'fine', await putManifest(meta, r, 'fine'), T0), undefined);
    }));

    it('transaction() commits everything together and returns the function result', withMeta(async (meta) => {
      await meta.accounts.ensure(ACCOUNT, T0);
      const result = await meta.transaction(async (tx) => {
        const { repository } = await tx.repositories.ensure(ACCOUNT, 'tx-app', T0);
        const m = manifest(repository.id, 'tx');
        await tx.manifests.put(m);
        await tx.tags.put(repository.id, 'v1', m.digest, T0);
        // Reads inside the transaction see its own writes.
        assert.equal(await tx.tags.get(repository.id, 'v1'), m.digest);
        return { id: repository.id, digest: m.digest };
      });
      assert.equal(await meta.tags.get(result.id, 'v1'), result.digest);
    }));

    it('transaction() rolls back everything when the function throws', withMeta(async (meta) => {
      const r = await repo(meta);
      const m = await putManifest(meta, r, 'before');
      await meta.tags.put(r, 'stable', m, T0);
      const boom = new Error('boom');
      await assert.rejects(
        meta.transaction(async (tx) => {
          await tx.settings.set('tx-setting', 'x');
          await tx.accounts.ensure(OTHER_ACCOUNT, T0);
          await tx.repositories.ensure(ACCOUNT, 'tx-created', T0);
          await tx.blobs.put(d('tx-blob'), 1, T0);
          await tx.blobs.link(r, d('tx-blob'), T0);
          await tx.manifests.put(manifest(r, 'tx-manifest'));
          await tx.tags.put(r, 'stable', manifest(r, 'tx-manifest').digest, T0);
          await tx.manifests.delete(r, m);
          await tx.uploads.create({ id: 'u-tx', repositoryId: r, createdAt: T0, updatedAt: T0 });
          await tx.events.append({ accountId: ACCOUNT, type: 't', detail: {}, createdAt: T0 });
          throw boom;
        }),
        (e: unknown) => e === boom,
      );
      assert.equal(await meta.settings.get('tx-setting'), undefined);
      assert.equal(await meta.accounts.get(OTHER_ACCOUNT), undefined);
      assert.equal(await meta.repositories.get(ACCOUNT, 'tx-created'), undefined);
      assert.equal(await meta.blobs.get(d('tx-blob')), undefined);
      assert.equal(await meta.manifests.get(r, manifest(r, 'tx-manifest').digest), undefined);
      assert.notEqual(await meta.manifests.get(r, m), undefined, 'the delete was rolled back');
      assert.equal(await meta.tags.get(r, 'stable'), m);
      assert.equal(await meta.uploads.get('u-tx'), undefined);
      assert.deepEqual(await meta.events.list(0, 10), []);
      // A failing statement inside the transaction rolls it back too.
      await assert.rejects(
        meta.transaction(async (tx) => {
          await tx.settings.set('tx-setting-2', 'x');
          await tx.tags.put(r, 'dangling', d('missing'), T0);
        }),
      );
      assert.equal(await meta.settings.get('tx-setting-2'), undefined);
    }));

    it('a nested transaction() joins the outer one', withMeta(async (meta) => {
      const r = await repo(meta);
      await assert.rejects(
        meta.transaction(async (outer) => {
          await outer.settings.set('outer', '1');
          const inner = await outer.transaction(async (tx) => {
            await tx.settings.set('inner', '1');
            await tx.manifests.put(manifest(r, 'nested'));
            // The joined transaction sees the outer writes.
            assert.equal(await tx.settings.get('outer'), '1');
            return 'inner result';
          });
          assert.equal(inner, 'inner result');
          assert.equal(await outer.settings.get('inner'), '1');
          throw new Error('outer fails after the inner one finished');
        }),
        /outer fails/,
      );
      assert.equal(await meta.settings.get('outer'), undefined);
      assert.equal(await meta.settings.get('inner'), undefined, 'the inner writes rolled back with the outer transaction');
      assert.equal(await meta.manifests.get(r, manifest(r, 'nested').digest), undefined);
      // And when the outer transaction commits, so do the inner writes.
      await meta.transaction(async (outer) => {
        await outer.transaction(async (tx) => {
          await tx.settings.set('inner', '2');
        });
      });
      assert.equal(await meta.settings.get('inner'), '2');
    }));

    it('blobs (garbage collection): touch creates or refreshes a row, lock, getRow, countLinks, delete', withMeta(async (meta) => {
      const r1 = await repo(meta, 'one');
      const r2 = await repo(meta, 'two');
      const b = d('touched');
      await meta.blobs.touch(b, 10, T0);
      assert.deepEqual(await meta.blobs.getRow(b), { digest: b, size: 10, createdAt: T0, touchedAt: T0 });
      // A touch refreshes touched_at only; with setSize it also corrects the size.
      await meta.blobs.touch(b, 99, T0 + 5);
      assert.deepEqual(await meta.blobs.getRow(b), { digest: b, size: 10, createdAt: T0, touchedAt: T0 + 5 });
      await meta.blobs.touch(b, 12, T0 + 6, { setSize: true });
      assert.deepEqual(await meta.blobs.getRow(b), { digest: b, size: 12, createdAt: T0, touchedAt: T0 + 6 });
      assert.equal(await meta.blobs.touchExisting(b, T0 + 7), true);
      assert.equal(await meta.blobs.touchExisting(d('absent'), T0 + 7), false);
      assert.equal(await meta.blobs.getRow(d('absent')), undefined, 'touchExisting creates nothing');
      // put records touched_at = created_at, and leaves an existing row alone.
      await meta.blobs.put(d('put'), 3, T0 + 1);
      assert.deepEqual(await meta.blobs.getRow(d('put')), { digest: d('put'), size: 3, createdAt: T0 + 1, touchedAt: T0 + 1 });
      await meta.blobs.put(b, 1, T0 + 100);
      assert.equal((await meta.blobs.getRow(b))?.touchedAt, T0 + 7);
      // lock (inside a transaction) reads the row; countLinks counts repositories.
      const locked = await meta.transaction(async (tx) => await tx.blobs.lock(b));
      assert.deepEqual(locked, { digest: b, size: 12, touchedAt: T0 + 7 });
      assert.equal(await meta.transaction(async (tx) => await tx.blobs.lock(d('absent'))), undefined);
      assert.equal(await meta.blobs.countLinks(b), 0);
      await meta.blobs.link(r1, b, T0 + 8);
      await meta.blobs.link(r2, b, T0 + 9);
      assert.equal(await meta.blobs.countLinks(b), 2);
      assert.deepEqual(await meta.blobs.getLink(r1, b), { createdAt: T0 + 8 });
      assert.deepEqual(await meta.transaction(async (tx) => await tx.blobs.getLink(r2, b, { lock: true })), { createdAt: T0 + 9 });
      assert.equal(await meta.blobs.getLink(r1, d('absent')), undefined);
      // A linked row cannot be deleted (the link's foreign key); an unlinked one can, once.
      await assert.rejects(meta.blobs.delete(b));
      assert.equal(await meta.blobs.delete(d('put')), true);
      assert.equal(await meta.blobs.delete(d('put')), false);
      assert.equal(await meta.blobs.getRow(d('put')), undefined);
    }));

    it('blobs: lockInRepository gives the sizes of the linked blobs, like sizesInRepository, over more than 500 digests', withMeta(async (meta) => {
      const r = await repo(meta);
      const other = await repo(meta, 'other');
      const digests = Array.from({ length: 620 }, (_, i) => d(`lock-${i}`));
      await meta.transaction(async (tx) => {
        for (const [i, dg] of digests.entries()) {
          await tx.blobs.put(dg, 100 + i, T0);
          await tx.blobs.link(i % 5 === 0 ? other : r, dg, T0);
        }
      });
      const asked = [...digests, digests[1] as string, d('unknown')];
      const locked = await meta.transaction(async (tx) => await tx.blobs.lockInRepository(r, asked));
      assert.deepEqual(new Map([...locked].sort()), new Map([...(await meta.blobs.sizesInRepository(r, asked))].sort()));
      assert.equal(locked.size, 496);
      assert.deepEqual(await meta.transaction(async (tx) => await tx.blobs.lockInRepository(r, [])), new Map());
    }));

    it('gc queue: add keeps one entry per candidate with the later due time; due lists in order, with a key to continue after', withMeta(async (meta) => {
      const r = await repo(meta);
      assert.equal(await meta.gcQueue.count(), 0);
      await meta.gcQueue.add([{ kind: 'link', repositoryId: r, digest: d('a') }, { kind: 'link', repositoryId: r, digest: d('a') }], T0 + 10);
      await meta.gcQueue.add([{ kind: 'link', repositoryId: r, digest: d('a') }], T0 + 5);
      assert.deepEqual(await meta.gcQueue.get({ kind: 'link', repositoryId: r, digest: d('a') }), { kind: 'link', repositoryId: r, digest: d('a'), dueAt: T0 + 10 }, 'an earlier due time does not move the entry');
      await meta.gcQueue.add([{ kind: 'link', repositoryId: r, digest: d('a') }], T0 + 20);
      assert.equal((await meta.gcQueue.get({ kind: 'link', repositoryId: r, digest: d('a') }))?.dueAt, T0 + 20, 'a later one does');
      // A blob entry has repository 0 whatever the caller passes.
      await meta.gcQueue.add([{ kind: 'blob', repositoryId: 42, digest: d('b') }, { kind: 'blob', repositoryId: 0, digest: d('c') }], T0);
      assert.equal((await meta.gcQueue.get({ kind: 'blob', repositoryId: 0, digest: d('b') }))?.repositoryId, 0);
      assert.equal(await meta.gcQueue.count(), 3);
      assert.deepEqual(
        (await meta.gcQueue.due(T0 + 19, 10)).map((e) => e.digest),
        [d('b'), d('c')].sort(),
        'due: only entries due by then, oldest first',
      );
      const all = await meta.gcQueue.due(T0 + 20, 10);
      assert.deepEqual(all.map((e) => [e.kind, e.digest]), [...[d('b'), d('c')].sort().map((x) => ['blob', x]), ['link', d('a')]]);
      const first = await meta.gcQueue.due(T0 + 20, 1);
      const rest = await meta.gcQueue.due(T0 + 20, 10, first[0]);
      assert.deepEqual([...first, ...rest], all);
      // take removes an entry only while it is due.
      assert.equal(await meta.gcQueue.take({ kind: 'link', repositoryId: r, digest: d('a') }, T0 + 19), false);
      assert.equal(await meta.gcQueue.take({ kind: 'link', repositoryId: r, digest: d('a') }, T0 + 20), true);
      assert.equal(await meta.gcQueue.take({ kind: 'link', repositoryId: r, digest: d('a') }, T0 + 20), false);
      assert.equal(await meta.gcQueue.take({ kind: 'blob', repositoryId: 0, digest: d('b') }, T0), true);
      assert.equal(await meta.gcQueue.count(), 1);
    }));

    it('gc queue: unlinking a blob, deleting a manifest or a repository queues what they referenced', withMeta(async (meta) => {
      const r = await repo(meta, 'app');
      const keep = await repo(meta, 'kept');
      const [config, layer, loose] = [d('config'), d('layer'), d('loose')];
      for (const b of [config, layer, loose]) {
        await meta.blobs.put(b, 1, T0);
        await meta.blobs.link(r, b, T0);
      }
      await meta.blobs.link(keep, layer, T0);
      const child = await putManifest(meta, r, 'child', { references: [{ childDigest: config, kind: 'blob' }, { childDigest: layer, kind: 'blob' }] });
      const index = await putManifest(meta, r, 'index', { references: [{ childDigest: child, kind: 'manifest' }] });
      // Unlink: the blob, due when asked; nothing for a link that was not there.
      assert.equal(await meta.blobs.unlink(r, loose, T0 + 1), true);
      assert.equal(await meta.blobs.unlink(r, loose, T0 + 2), false);
      assert.deepEqual(await meta.gcQueue.due(Number.MAX_SAFE_INTEGER, 10), [{ kind: 'blob', repositoryId: 0, digest: loose, dueAt: T0 + 1 }]);
      assert.equal(await meta.gcQueue.take({ kind: 'blob', repositoryId: 0, digest: loose }, T0 + 1), true);
      // An index references manifests, not blobs: nothing to queue.
      assert.equal(await meta.manifests.delete(r, index, T0 + 3), true);
      assert.equal(await meta.gcQueue.count(), 0);
      // A manifest: the repository's links to its blobs.
      assert.equal(await meta.manifests.delete(r, child, T0 + 4), true);
      assert.deepEqual(
        await meta.gcQueue.due(Number.MAX_SAFE_INTEGER, 10),
        [config, layer].sort().map((digest) => ({ kind: 'link', repositoryId: r, digest, dueAt: T0 + 4 })),
      );
      for (const digest of [config, layer]) await meta.gcQueue.take({ kind: 'link', repositoryId: r, digest }, T0 + 4);
      // A repository: every blob it held (the default due time is at once).
      await meta.gcQueue.add([{ kind: 'blob', repositoryId: 0, digest: layer }], T0 + 50);
      assert.equal(await meta.repositories.delete(r), true);
      assert.deepEqual(
        (await meta.gcQueue.due(Number.MAX_SAFE_INTEGER, 10)).map((e) => [e.kind, e.repositoryId, e.digest, e.dueAt]),
        [
          ['blob', 0, config, 0],
          ['blob', 0, layer, T0 + 50],
        ].sort((a, b) => Number(a[3]) - Number(b[3]) || String(a[2]).localeCompare(String(b[2]))),
        'one entry per blob, keeping a later due time already queued',
      );
      assert.deepEqual(await meta.blobs.getInRepository(keep, layer), { digest: layer, size: 1 }, 'the other repository keeps its link');
    }));

    it('gc queue: seedUnreferenced queues unlinked blobs and links no manifest of their repository uses', withMeta(async (meta) => {
      const r = await repo(meta, 'app');
      const other = await repo(meta, 'other');
      const [used, unusedHere, orphan] = [d('used'), d('unused-here'), d('orphan')];
      for (const b of [used, unusedHere, orphan]) await meta.blobs.put(b, 1, T0);
      await meta.blobs.link(r, used, T0);
      await meta.blobs.link(r, unusedHere, T0);
      await meta.blobs.link(other, used, T0);
      await putManifest(meta, r, 'm', { references: [{ childDigest: used, kind: 'blob' }] });
      // A manifest of another repository using the blob does not count for this repository's link.
      await putManifest(meta, other, 'elsewhere', { references: [{ childDigest: unusedHere, kind: 'blob' }] });
      await meta.gcQueue.add([{ kind: 'blob', repositoryId: 0, digest: orphan }], T0 + 99);
      assert.equal(await meta.gcQueue.seedUnreferenced(T0), 2);
      assert.deepEqual(
        (await meta.gcQueue.due(Number.MAX_SAFE_INTEGER, 10)).map((e) => [e.kind, e.repositoryId, e.digest, e.dueAt]),
        [
          ['link', other, used, T0],
          ['link', r, unusedHere, T0],
          ['blob', 0, orphan, T0 + 99],
        ].sort((a, b) => Number(a[3]) - Number(b[3]) || String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1])),
      );
      assert.equal(await meta.gcQueue.seedUnreferenced(T0), 0, 'nothing new the second time');
    }));
  });
}
