// IAM's API over AWS's query protocol, through @aws-sdk/client-iam: every operation berth serves,
// with the exact fields IAM answers (ARNs with paths, AIDA/AGPA/AROA/ANPA ids, URL-encoded policy
// documents, creation dates), pagination with MaxItems and Marker, and every refusal IAM gives:
// NoSuchEntity, EntityAlreadyExists (names are case-insensitive), DeleteConflict, LimitExceeded,
// MalformedPolicyDocument, ValidationError and AccessDenied. Each refusal is checked to have changed
// nothing (everything the account holds is listed before and after). Then what the entities do:
// deactivated and deleted keys sign nothing, managed and group policies decide ECR requests.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateOpenIDConnectProviderCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeleteOpenIDConnectProviderCommand,
  DeletePolicyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  ListOpenIDConnectProvidersCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  UpdateAccessKeyCommand,
  UpdateAssumeRolePolicyCommand,
  type AccessKeyMetadata,
  type Group,
  type Policy,
  type Role,
  type User,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Kysely } from 'kysely';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { hashSecret, newSecretAccessKey } from '../../src/auth/index.ts';
import { IAM_HANDLERS, IAM_META } from '../../src/iam/index.ts';
import { IAM_OPERATIONS } from '../../scripts/gen-aws-model.ts';
import { refusal, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';

const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const POWER_USER = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser';
const IAM_TABLES = ['access_keys', 'iam_principals', 'iam_group_members', 'iam_policies', 'iam_attachments', 'iam_inline_policies', 'iam_oidc_providers', 'sts_sessions'];

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

/** An identity policy allowing the actions on the resources. */
const allow = (action: string | string[], resource: string | string[]): string => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] });

/** How IAM answers policy documents: URL-encoded, every character but RFC 3986's unreserved ones escaped. */
function assertEncodedDocument(answered: string | undefined, original: string): void {
  assert.ok(answered !== undefined);
  assert.match(answered, /^[A-Za-z0-9\-_.~%]+$/, 'URL-encoded');
  assert.equal(decodeURIComponent(answered), original);
}

/** A Date within the span of a test (the server stores milliseconds; the XML carries them). */
function assertDateBetween(d: Date | undefined, from: number, to: number): void {
  assert.ok(d instanceof Date, `a Date, not ${String(d)}`);
  assert.ok(d.getTime() >= from - 1000 && d.getTime() <= to + 1000, `${d.toISOString()} not within ${new Date(from).toISOString()}..${new Date(to).toISOString()}`);
}

describe('the IAM API through @aws-sdk/client-iam', () => {
  let t: EcrTestApp;
  let A: string;
  let iam: IAMClient;
  const clients: Array<{ destroy(): void }> = [];
  const track = <C extends { destroy(): void }>(c: C): C => {
    clients.push(c);
    return c;
  };
  const iamFor = (c: Creds): IAMClient => track(new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: c, maxAttempts: 1 }));
  const stsFor = (c: Creds): STSClient => track(new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: c, maxAttempts: 1 }));
  const ecrFor = (c: Creds): ECRClient => track(t.client(c));
  const userArn = (name: string, path = '/'): string => `arn:aws:iam::${A}:user${path}${name}`;
  const policyArn = (name: string, path = '/'): string => `arn:aws:iam::${A}:policy${path}${name}`;
  const trust = (principal = `arn:aws:iam::${A}:root`): string => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }] });

  /** A user with an access key, made through the API; its credentials. */
  const userWithKey = async (name: string): Promise<Creds> => {
    await iam.send(new CreateUserCommand({ UserName: name }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
    return { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
  };

  /** Every item of a paginated list, following Marker. */
  async function all<T>(fetchPage: (marker: string | undefined) => Promise<{ items: T[] | undefined; IsTruncated?: boolean | undefined; Marker?: string | undefined }>): Promise<T[]> {
    const out: T[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const p = await fetchPage(marker);
      out.push(...(p.items ?? []));
      if (p.IsTruncated !== true) return out;
      assert.ok(p.Marker !== undefined && p.Marker !== '', 'a truncated page has a Marker');
      marker = p.Marker;
    }
    throw new Error('more than 1000 pages');
  }

  /**
   * Everything IAM holds: every row of the IAM tables (users, groups, roles, memberships, managed
   * and inline policies, attachments, OIDC providers, access keys, role sessions), and the users,
   * groups, roles and customer managed policies as the API lists them.
   */
  async function state(): Promise<Record<string, unknown>> {
    const db = t.app.meta.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const out: Record<string, unknown> = {};
    for (const table of IAM_TABLES) out[table] = (await db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r)).sort();
    out.users = await all(async (Marker) => {
      const r = await iam.send(new ListUsersCommand({ ...(Marker !== undefined ? { Marker } : {}) }));
      return { items: r.Users, IsTruncated: r.IsTruncated, Marker: r.Marker };
    });
    out.groups = await all(async (Marker) => {
      const r = await iam.send(new ListGroupsCommand({ ...(Marker !== undefined ? { Marker } : {}) }));
      return { items: r.Groups, IsTruncated: r.IsTruncated, Marker: r.Marker };
    });
    out.roles = await all(async (Marker) => {
      const r = await iam.send(new ListRolesCommand({ ...(Marker !== undefined ? { Marker } : {}) }));
      return { items: r.Roles, IsTruncated: r.IsTruncated, Marker: r.Marker };
    });
    out.policies = await all(async (Marker) => {
      const r = await iam.send(new ListPoliciesCommand({ Scope: 'Local', ...(Marker !== undefined ? { Marker } : {}) }));
      return { items: r.Policies, IsTruncated: r.IsTruncated, Marker: r.Marker };
    });
    return out;
  }

  /** The refusal of the call, checked to have changed nothing. */
  async function refusedUnchanged(call: () => Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
    const before = await state();
    const r = await refusal(call());
    assert.deepEqual(await state(), before, `${r.name} changed nothing`);
    return r;
  }

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
    iam = iamFor({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await t.close();
  });

  describe('the handlers and the model', () => {
    test('every handler is an operation of the generated model, and every operation of the model has a handler', () => {
      const handlers = Object.keys(IAM_HANDLERS).sort();
      const operations = Object.keys(IAM_META.operations).sort();
      for (const h of handlers) assert.ok(Object.hasOwn(IAM_META.operations, h), `handler ${h} has no model operation`);
      assert.deepEqual(handlers, operations);
    });

    test('every operation the generator is told to keep (IAM_OPERATIONS) has a handler', () => {
      for (const op of IAM_OPERATIONS) assert.ok(Object.hasOwn(IAM_HANDLERS, op), `IAM_OPERATIONS lists ${op}, which has no handler`);
      assert.equal(new Set(IAM_OPERATIONS).size, IAM_OPERATIONS.length, 'IAM_OPERATIONS names each operation once');
      assert.deepEqual([...IAM_OPERATIONS].sort(), Object.keys(IAM_HANDLERS).sort());
    });
  });

  describe('users', () => {
    test('CreateUser answers the user: path, name, an AIDA id, the ARN with its path, the creation date and tags; GetUser answers the same', async () => {
      const from = Date.now();
      const plain = (await iam.send(new CreateUserCommand({ UserName: 'alice' }))).User as User;
      const tagged = (await iam.send(new CreateUserCommand({ UserName: 'bob', Path: '/team/blue/', Tags: [{ Key: 'team', Value: 'blue' }, { Key: 'cost-center', Value: '42' }] }))).User as User;
      const to = Date.now();
      assert.deepEqual(Object.keys(plain).sort(), ['Arn', 'CreateDate', 'Path', 'UserId', 'UserName']);
      assert.equal(plain.Path, '/');
      assert.equal(plain.UserName, 'alice');
      assert.match(plain.UserId ?? '', /^AIDA[A-Z2-7]{17}$/);
      assert.equal(plain.Arn, userArn('alice'));
      assertDateBetween(plain.CreateDate, from, to);
      assert.equal(tagged.Path, '/team/blue/');
      assert.equal(tagged.Arn, `arn:aws:iam::${A}:user/team/blue/bob`);
      assert.deepEqual(tagged.Tags, [{ Key: 'team', Value: 'blue' }, { Key: 'cost-center', Value: '42' }]);
      assert.notEqual(tagged.UserId, plain.UserId);
      assert.deepEqual((await iam.send(new GetUserCommand({ UserName: 'alice' }))).User, plain);
      assert.deepEqual((await iam.send(new GetUserCommand({ UserName: 'bob' }))).User, tagged);
    });

    test('GetUser without a name: the root user of the account for root, the caller itself for an IAM user', async () => {
      const root = (await iam.send(new GetUserCommand({}))).User as User;
      assert.equal(root.Arn, `arn:aws:iam::${A}:root`);
      assert.equal(root.UserId, A);
      assert.equal(root.Path, '/');
      assert.ok(root.CreateDate instanceof Date);
      const c = await userWithKey('self-aware');
      await iam.send(new PutUserPolicyCommand({ UserName: 'self-aware', PolicyName: 'self', PolicyDocument: allow('iam:GetUser', userArn('self-aware')) }));
      const me = (await iamFor(c).send(new GetUserCommand({}))).User;
      assert.deepEqual(me, (await iam.send(new GetUserCommand({ UserName: 'self-aware' }))).User);
      // Another user is not the caller's own: no policy allows it.
      assert.equal((await refusal(iamFor(c).send(new GetUserCommand({ UserName: 'alice' })))).name, 'AccessDenied');
    });

    test('ListUsers: in name order, filtered by path prefix, in pages of MaxItems with a Marker until IsTruncated is false', async () => {
      const names = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
      for (const n of names) await iam.send(new CreateUserCommand({ UserName: n, Path: '/paged/' }));
      await iam.send(new CreateUserCommand({ UserName: 'page-z', Path: '/paged-not/' }));
      const p1 = await iam.send(new ListUsersCommand({ PathPrefix: '/paged/', MaxItems: 2 }));
      assert.deepEqual(p1.Users?.map((u) => u.UserName), ['page-a', 'page-b']);
      assert.equal(p1.IsTruncated, true);
      assert.ok(p1.Marker !== undefined);
      const p2 = await iam.send(new ListUsersCommand({ PathPrefix: '/paged/', MaxItems: 2, Marker: p1.Marker }));
      assert.deepEqual(p2.Users?.map((u) => u.UserName), ['page-c', 'page-d']);
      assert.equal(p2.IsTruncated, true);
      const p3 = await iam.send(new ListUsersCommand({ PathPrefix: '/paged/', MaxItems: 2, Marker: p2.Marker }));
      assert.deepEqual(p3.Users?.map((u) => u.UserName), ['page-e']);
      assert.equal(p3.IsTruncated, false);
      assert.equal(p3.Marker, undefined);
      // Exactly a full page: not truncated.
      const exact = await iam.send(new ListUsersCommand({ PathPrefix: '/paged/', MaxItems: 5 }));
      assert.equal(exact.Users?.length, 5);
      assert.equal(exact.IsTruncated, false);
      // Each user as GetUser answers it; all of them in name order, page by page.
      assert.deepEqual(p1.Users?.[0], (await iam.send(new GetUserCommand({ UserName: 'page-a' }))).User);
      const everyone = await all(async (Marker) => {
        const r = await iam.send(new ListUsersCommand({ MaxItems: 3, ...(Marker !== undefined ? { Marker } : {}) }));
        return { items: r.Users, IsTruncated: r.IsTruncated, Marker: r.Marker };
      });
      const listed = everyone.map((u) => u.UserName ?? '');
      assert.deepEqual(listed, [...listed].sort());
      assert.deepEqual(listed, (await iam.send(new ListUsersCommand({}))).Users?.map((u) => u.UserName));
      for (const n of [...names, 'page-z', 'alice', 'bob']) assert.ok(listed.includes(n), n);
      assert.deepEqual((await iam.send(new ListUsersCommand({ PathPrefix: '/team/' }))).Users?.map((u) => u.UserName), ['bob']);
    });

    test('a Marker that no page gave is a ValidationError', async () => {
      const r = await refusal(iam.send(new ListUsersCommand({ Marker: 'not-a-marker' })));
      assert.deepEqual({ name: r.name, status: r.status }, { name: 'ValidationError', status: 400 });
    });

    test('DeleteUser removes the user; then it cannot be found (NoSuchEntity, 404)', async () => {
      await iam.send(new CreateUserCommand({ UserName: 'short-lived' }));
      await iam.send(new DeleteUserCommand({ UserName: 'short-lived' }));
      assert.ok(!(await iam.send(new ListUsersCommand({}))).Users?.some((u) => u.UserName === 'short-lived'));
      assert.deepEqual(await refusal(iam.send(new GetUserCommand({ UserName: 'short-lived' }))), { name: 'NoSuchEntityException', message: 'The user with name short-lived cannot be found.', status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteUserCommand({ UserName: 'short-lived' }))), { name: 'NoSuchEntityException', message: 'The user with name short-lived cannot be found.', status: 404 });
    });

    test('a name taken in any case is EntityAlreadyExists (409), and the existing user is untouched', async () => {
      for (const name of ['alice', 'ALICE', 'Alice']) {
        const r = await refusedUnchanged(() => iam.send(new CreateUserCommand({ UserName: name, Path: '/other/' })));
        assert.deepEqual(r, { name: 'EntityAlreadyExistsException', message: `User with name ${name} already exists.`, status: 409 });
      }
      assert.equal((await iam.send(new GetUserCommand({ UserName: 'alice' }))).User?.Path, '/');
    });

    test('a name or path outside the model\'s patterns and lengths is a ValidationError (400) naming the member', async () => {
      for (const input of [{ UserName: 'bad name!' }, { UserName: 'a/b' }, { UserName: 'x'.repeat(65) }, { UserName: '' }]) {
        const r = await refusedUnchanged(() => iam.send(new CreateUserCommand(input)));
        assert.equal(r.name, 'ValidationError', JSON.stringify(input));
        assert.equal(r.status, 400);
        assert.match(r.message, /^1 validation error detected: .*'userName' failed to satisfy constraint: Member must /);
      }
      // The value and the path of a list item's member, as IAM words them.
      const tag = await refusedUnchanged(() => iam.send(new CreateUserCommand({ UserName: 'tagless', Tags: [{ Key: 'ok', Value: 'x' }, { Key: 'bad key!', Value: 'x' }] })));
      assert.deepEqual({ name: tag.name, status: tag.status }, { name: 'ValidationError', status: 400 });
      assert.match(tag.message, /^1 validation error detected: Value 'bad key!' at 'tags\.2\.member\.key' failed to satisfy constraint: Member must satisfy regular expression/);
      const reserved = await refusedUnchanged(() => iam.send(new CreateUserCommand({ UserName: 'tagless', Tags: [{ Key: 'aws:owner', Value: 'x' }] })));
      assert.deepEqual({ name: reserved.name, status: reserved.status }, { name: 'InvalidInputException', status: 400 });
      for (const Path of ['team', '/team', 'team/', '//x y/']) {
        const r = await refusedUnchanged(() => iam.send(new CreateUserCommand({ UserName: 'pathless', Path })));
        assert.equal(r.name, 'ValidationError', Path);
        assert.equal(r.status, 400);
        assert.match(r.message, /'path'/);
      }
    });

    test('the name root (in any case) is the root user\'s: CreateUser refuses it, so that no IAM user gets keys that sign as the root user', async () => {
      for (const name of ['root', 'Root', 'ROOT']) {
        const r = await refusedUnchanged(() => iam.send(new CreateUserCommand({ UserName: name })));
        assert.deepEqual(r, { name: 'InvalidInputException', message: "The user name root is reserved for the account's root user.", status: 400 }, name);
      }
      // Named explicitly, `root` is no IAM user: its keys are not reachable that way.
      assert.deepEqual(await refusedUnchanged(() => iam.send(new CreateAccessKeyCommand({ UserName: 'root' }))), { name: 'NoSuchEntityException', message: 'The user with name root cannot be found.', status: 404 });
      assert.deepEqual(await refusal(iam.send(new ListAccessKeysCommand({ UserName: 'root' }))), { name: 'NoSuchEntityException', message: 'The user with name root cannot be found.', status: 404 });
      // Unnamed, the root user lists its own.
      assert.deepEqual((await iam.send(new ListAccessKeysCommand({}))).AccessKeyMetadata?.map((k) => ({ UserName: k.UserName, AccessKeyId: k.AccessKeyId, Status: k.Status })), [{ UserName: 'root', AccessKeyId: t.accessKeyId, Status: 'Active' }]);
    });

    test('DeleteUser refuses a user with access keys, inline policies, attached policies or groups: DeleteConflict (409)', async () => {
      const c = await userWithKey('entangled');
      let r = await refusedUnchanged(() => iam.send(new DeleteUserCommand({ UserName: 'entangled' })));
      assert.deepEqual(r, { name: 'DeleteConflictException', message: 'Cannot delete entity, must delete access keys first.', status: 409 });
      await iam.send(new DeleteAccessKeyCommand({ UserName: 'entangled', AccessKeyId: c.accessKeyId }));

      await iam.send(new PutUserPolicyCommand({ UserName: 'entangled', PolicyName: 'inline', PolicyDocument: allow('ecr:ListImages', '*') }));
      r = await refusedUnchanged(() => iam.send(new DeleteUserCommand({ UserName: 'entangled' })));
      assert.deepEqual(r, { name: 'DeleteConflictException', message: 'Cannot delete entity, must delete policies first.', status: 409 });
      await iam.send(new DeleteUserPolicyCommand({ UserName: 'entangled', PolicyName: 'inline' }));

      await iam.send(new AttachUserPolicyCommand({ UserName: 'entangled', PolicyArn: READ_ONLY }));
      r = await refusedUnchanged(() => iam.send(new DeleteUserCommand({ UserName: 'entangled' })));
      assert.deepEqual(r, { name: 'DeleteConflictException', message: 'Cannot delete entity, must detach all policies first.', status: 409 });
      await iam.send(new DetachUserPolicyCommand({ UserName: 'entangled', PolicyArn: READ_ONLY }));

      await iam.send(new CreateGroupCommand({ GroupName: 'entangling' }));
      await iam.send(new AddUserToGroupCommand({ GroupName: 'entangling', UserName: 'entangled' }));
      r = await refusedUnchanged(() => iam.send(new DeleteUserCommand({ UserName: 'entangled' })));
      assert.deepEqual(r, { name: 'DeleteConflictException', message: 'Cannot delete entity, must remove users from group first.', status: 409 });
      await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'entangling', UserName: 'entangled' }));

      await iam.send(new DeleteUserCommand({ UserName: 'entangled' }));
      assert.equal((await refusal(iam.send(new GetUserCommand({ UserName: 'entangled' })))).name, 'NoSuchEntityException');
      assert.deepEqual((await iam.send(new GetGroupCommand({ GroupName: 'entangling' }))).Users, []);
      await iam.send(new DeleteGroupCommand({ GroupName: 'entangling' }));
    });
  });

  describe('access keys', () => {
    test('CreateAccessKey answers the key with its secret once; ListAccessKeys answers its metadata without it', async () => {
      await iam.send(new CreateUserCommand({ UserName: 'keyholder' }));
      const from = Date.now();
      const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'keyholder' }))).AccessKey;
      const to = Date.now();
      assert.ok(k !== undefined);
      assert.deepEqual(Object.keys(k).sort(), ['AccessKeyId', 'CreateDate', 'SecretAccessKey', 'Status', 'UserName']);
      assert.equal(k.UserName, 'keyholder');
      assert.match(k.AccessKeyId ?? '', /^AKIA[A-Z0-9]{16}$/);
      assert.match(k.SecretAccessKey ?? '', /^[A-Za-z0-9+/]{40}$/);
      assert.equal(k.Status, 'Active');
      assertDateBetween(k.CreateDate, from, to);
      const listed = await iam.send(new ListAccessKeysCommand({ UserName: 'keyholder' }));
      assert.deepEqual(listed.AccessKeyMetadata, [{ UserName: 'keyholder', AccessKeyId: k.AccessKeyId, Status: 'Active', CreateDate: k.CreateDate }]);
      assert.equal(listed.IsTruncated, false);
      // The key works: STS knows who signs with it.
      const who = await stsFor({ accessKeyId: k.AccessKeyId ?? '', secretAccessKey: k.SecretAccessKey ?? '' }).send(new GetCallerIdentityCommand({}));
      assert.equal(who.Arn, userArn('keyholder'));
    });

    test('a third key is LimitExceeded (409): two per user', async () => {
      await iam.send(new CreateAccessKeyCommand({ UserName: 'keyholder' }));
      const r = await refusedUnchanged(() => iam.send(new CreateAccessKeyCommand({ UserName: 'keyholder' })));
      assert.deepEqual(r, { name: 'LimitExceededException', message: 'Cannot exceed quota for AccessKeysPerUser: 2', status: 409 });
      assert.equal((await iam.send(new ListAccessKeysCommand({ UserName: 'keyholder' }))).AccessKeyMetadata?.length, 2);
    });

    test('ListAccessKeys in pages of one returns each key once, whatever order the ids and creation dates are in', async () => {
      await iam.send(new CreateUserCommand({ UserName: 'paged-keys' }));
      // The later key has the smaller id: a page boundary must not lose it.
      const keys = [
        { accessKeyId: 'AKIAZZZZZZZZZZZZZZZ1', createdAt: Date.UTC(2024, 0, 1) },
        { accessKeyId: 'AKIAAAAAAAAAAAAAAAA1', createdAt: Date.UTC(2025, 0, 1) },
      ];
      for (const k of keys) {
        const secret = newSecretAccessKey();
        await t.app.meta.accessKeys.put({ ...k, accountId: A, userName: 'paged-keys', secretHash: await hashSecret(secret), secretEnc: t.app.keyring.encrypt(secret), status: 'Active' });
      }
      const seen = await all(async (Marker) => {
        const r = await iam.send(new ListAccessKeysCommand({ UserName: 'paged-keys', MaxItems: 1, ...(Marker !== undefined ? { Marker } : {}) }));
        assert.ok((r.AccessKeyMetadata?.length ?? 0) <= 1);
        return { items: r.AccessKeyMetadata, IsTruncated: r.IsTruncated, Marker: r.Marker };
      });
      assert.deepEqual(seen.map((k) => k.AccessKeyId).sort(), keys.map((k) => k.accessKeyId).sort());
      for (const k of keys) await iam.send(new DeleteAccessKeyCommand({ UserName: 'paged-keys', AccessKeyId: k.accessKeyId }));
      await iam.send(new DeleteUserCommand({ UserName: 'paged-keys' }));
    });

    test('an inactive key signs nothing for ECR or STS, and works again once reactivated', async () => {
      const c = await userWithKey('switchable');
      await iam.send(new AttachUserPolicyCommand({ UserName: 'switchable', PolicyArn: READ_ONLY }));
      const ecr = ecrFor(c);
      const sts = stsFor(c);
      await ecr.send(new DescribeRepositoriesCommand({}));
      assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, userArn('switchable'));

      await iam.send(new UpdateAccessKeyCommand({ UserName: 'switchable', AccessKeyId: c.accessKeyId, Status: 'Inactive' }));
      assert.equal((await iam.send(new ListAccessKeysCommand({ UserName: 'switchable' }))).AccessKeyMetadata?.[0]?.Status, 'Inactive');
      assert.deepEqual(await refusal(sts.send(new GetCallerIdentityCommand({}))), { name: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.', status: 403 });
      const e = await refusal(ecr.send(new DescribeRepositoriesCommand({})));
      assert.equal(e.name, 'UnrecognizedClientException');

      await iam.send(new UpdateAccessKeyCommand({ UserName: 'switchable', AccessKeyId: c.accessKeyId, Status: 'Active' }));
      assert.equal((await iam.send(new ListAccessKeysCommand({ UserName: 'switchable' }))).AccessKeyMetadata?.[0]?.Status, 'Active');
      await ecr.send(new DescribeRepositoriesCommand({}));
      assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, userArn('switchable'));
    });

    test('a deleted key is refused: InvalidClientTokenId on STS, UnrecognizedClientException on ECR; deleting it again is NoSuchEntity', async () => {
      const c = await userWithKey('revoked');
      await iam.send(new AttachUserPolicyCommand({ UserName: 'revoked', PolicyArn: READ_ONLY }));
      const ecr = ecrFor(c);
      await ecr.send(new DescribeRepositoriesCommand({}));
      await iam.send(new DeleteAccessKeyCommand({ UserName: 'revoked', AccessKeyId: c.accessKeyId }));
      assert.deepEqual((await iam.send(new ListAccessKeysCommand({ UserName: 'revoked' }))).AccessKeyMetadata, []);
      assert.deepEqual(await refusal(stsFor(c).send(new GetCallerIdentityCommand({}))), { name: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.', status: 403 });
      const e = await refusal(ecr.send(new DescribeRepositoriesCommand({})));
      assert.deepEqual({ name: e.name, status: e.status }, { name: 'UnrecognizedClientException', status: 400 });
      const again = await refusedUnchanged(() => iam.send(new DeleteAccessKeyCommand({ UserName: 'revoked', AccessKeyId: c.accessKeyId })));
      assert.deepEqual(again, { name: 'NoSuchEntityException', message: `The Access Key with id ${c.accessKeyId} cannot be found.`, status: 404 });
    });

    test('a key of another user is not found under this one (NoSuchEntity), for Update and Delete alike', async () => {
      const c = await userWithKey('owner-one');
      await iam.send(new CreateUserCommand({ UserName: 'owner-two' }));
      for (const call of [
        () => iam.send(new UpdateAccessKeyCommand({ UserName: 'owner-two', AccessKeyId: c.accessKeyId, Status: 'Inactive' })),
        () => iam.send(new DeleteAccessKeyCommand({ UserName: 'owner-two', AccessKeyId: c.accessKeyId })),
        () => iam.send(new DeleteAccessKeyCommand({ AccessKeyId: c.accessKeyId })),
      ]) {
        assert.deepEqual(await refusedUnchanged(call), { name: 'NoSuchEntityException', message: `The Access Key with id ${c.accessKeyId} cannot be found.`, status: 404 });
      }
      assert.equal((await iam.send(new ListAccessKeysCommand({ UserName: 'owner-one' }))).AccessKeyMetadata?.[0]?.Status, 'Active');
    });

    test('keys of a user that does not exist: NoSuchEntity', async () => {
      for (const call of [() => iam.send(new CreateAccessKeyCommand({ UserName: 'ghost' })), () => iam.send(new ListAccessKeysCommand({ UserName: 'ghost' }))]) {
        assert.deepEqual(await refusedUnchanged(call), { name: 'NoSuchEntityException', message: 'The user with name ghost cannot be found.', status: 404 });
      }
    });

    test('UpdateAccessKey to Expired is a ValidationError; the key stays active', async () => {
      const k = (await iam.send(new ListAccessKeysCommand({ UserName: 'owner-one' }))).AccessKeyMetadata?.[0] as AccessKeyMetadata;
      const r = await refusedUnchanged(() => iam.send(new UpdateAccessKeyCommand({ UserName: 'owner-one', AccessKeyId: k.AccessKeyId, Status: 'Expired' })));
      assert.deepEqual({ name: r.name, status: r.status }, { name: 'ValidationError', status: 400 });
    });

    test('a user manages its own keys without naming itself, when its policies allow it on its own ARN', async () => {
      const c = await userWithKey('self-service');
      const me = iamFor(c);
      assert.equal((await refusal(me.send(new ListAccessKeysCommand({})))).name, 'AccessDenied');
      await iam.send(new PutUserPolicyCommand({ UserName: 'self-service', PolicyName: 'own-keys', PolicyDocument: allow(['iam:ListAccessKeys', 'iam:CreateAccessKey', 'iam:DeleteAccessKey'], userArn('self-service')) }));
      const second = (await me.send(new CreateAccessKeyCommand({}))).AccessKey;
      assert.equal(second?.UserName, 'self-service');
      const mine = (await me.send(new ListAccessKeysCommand({}))).AccessKeyMetadata?.map((k) => k.AccessKeyId).sort();
      assert.deepEqual(mine, [c.accessKeyId, second?.AccessKeyId].sort());
      await me.send(new DeleteAccessKeyCommand({ AccessKeyId: second?.AccessKeyId ?? '' }));
      assert.deepEqual((await me.send(new ListAccessKeysCommand({}))).AccessKeyMetadata?.map((k) => k.AccessKeyId), [c.accessKeyId]);
    });

    test('a policy scoped to a path covers the access keys of the users under it', async () => {
      await iam.send(new CreateUserCommand({ UserName: 'pathed-keys', Path: '/ops/' }));
      const admin = await userWithKey('ops-admin');
      await iam.send(new PutUserPolicyCommand({ UserName: 'ops-admin', PolicyName: 'ops', PolicyDocument: allow(['iam:CreateAccessKey', 'iam:ListAccessKeys'], `arn:aws:iam::${A}:user/ops/*`) }));
      const k = (await iamFor(admin).send(new CreateAccessKeyCommand({ UserName: 'pathed-keys' }))).AccessKey;
      assert.equal(k?.UserName, 'pathed-keys');
      assert.equal((await iamFor(admin).send(new ListAccessKeysCommand({ UserName: 'pathed-keys' }))).AccessKeyMetadata?.length, 1);
      const denied = await refusedUnchanged(() => iamFor(admin).send(new CreateAccessKeyCommand({ UserName: 'alice' })));
      assert.equal(denied.message, `User: ${userArn('ops-admin')} is not authorized to perform: iam:CreateAccessKey on resource: ${userArn('alice')} because no identity-based policy allows the iam:CreateAccessKey action`);
    });
  });

  describe('groups', () => {
    test('CreateGroup, AddUserToGroup, GetGroup, ListGroupsForUser, ListGroups, RemoveUserFromGroup, DeleteGroup', async () => {
      const from = Date.now();
      const g = (await iam.send(new CreateGroupCommand({ GroupName: 'devs', Path: '/eng/' }))).Group as Group;
      const to = Date.now();
      assert.deepEqual(Object.keys(g).sort(), ['Arn', 'CreateDate', 'GroupId', 'GroupName', 'Path']);
      assert.equal(g.GroupName, 'devs');
      assert.equal(g.Path, '/eng/');
      assert.match(g.GroupId ?? '', /^AGPA[A-Z2-7]{17}$/);
      assert.equal(g.Arn, `arn:aws:iam::${A}:group/eng/devs`);
      assertDateBetween(g.CreateDate, from, to);

      for (const u of ['dev-b', 'dev-a', 'dev-c']) {
        await iam.send(new CreateUserCommand({ UserName: u }));
        await iam.send(new AddUserToGroupCommand({ GroupName: 'devs', UserName: u }));
      }
      await iam.send(new AddUserToGroupCommand({ GroupName: 'devs', UserName: 'dev-a' }));
      const got = await iam.send(new GetGroupCommand({ GroupName: 'devs' }));
      assert.deepEqual(got.Group, g);
      assert.deepEqual(got.Users?.map((u) => u.UserName), ['dev-a', 'dev-b', 'dev-c']);
      assert.deepEqual(got.Users?.[0], (await iam.send(new GetUserCommand({ UserName: 'dev-a' }))).User);
      assert.equal(got.IsTruncated, false);
      const page1 = await iam.send(new GetGroupCommand({ GroupName: 'devs', MaxItems: 2 }));
      assert.deepEqual(page1.Users?.map((u) => u.UserName), ['dev-a', 'dev-b']);
      assert.equal(page1.IsTruncated, true);
      const page2 = await iam.send(new GetGroupCommand({ GroupName: 'devs', MaxItems: 2, Marker: page1.Marker }));
      assert.deepEqual(page2.Users?.map((u) => u.UserName), ['dev-c']);
      assert.equal(page2.IsTruncated, false);

      await iam.send(new CreateGroupCommand({ GroupName: 'admins' }));
      await iam.send(new AddUserToGroupCommand({ GroupName: 'admins', UserName: 'dev-a' }));
      const forUser = await iam.send(new ListGroupsForUserCommand({ UserName: 'dev-a' }));
      assert.deepEqual(forUser.Groups?.map((x) => x.GroupName), ['admins', 'devs']);
      assert.deepEqual(forUser.Groups?.[1], g);
      const paged = await iam.send(new ListGroupsForUserCommand({ UserName: 'dev-a', MaxItems: 1 }));
      assert.deepEqual(paged.Groups?.map((x) => x.GroupName), ['admins']);
      assert.equal(paged.IsTruncated, true);
      assert.deepEqual((await iam.send(new ListGroupsForUserCommand({ UserName: 'dev-a', Marker: paged.Marker }))).Groups?.map((x) => x.GroupName), ['devs']);

      const groups = await iam.send(new ListGroupsCommand({}));
      assert.deepEqual(groups.Groups?.map((x) => x.GroupName), ['admins', 'devs']);
      assert.deepEqual((await iam.send(new ListGroupsCommand({ PathPrefix: '/eng/' }))).Groups, [g]);
      const g1 = await iam.send(new ListGroupsCommand({ MaxItems: 1 }));
      assert.deepEqual({ names: g1.Groups?.map((x) => x.GroupName), truncated: g1.IsTruncated }, { names: ['admins'], truncated: true });
      const g2 = await iam.send(new ListGroupsCommand({ MaxItems: 1, Marker: g1.Marker }));
      assert.deepEqual({ names: g2.Groups?.map((x) => x.GroupName), truncated: g2.IsTruncated }, { names: ['devs'], truncated: false });

      await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'admins', UserName: 'dev-a' }));
      assert.deepEqual((await iam.send(new ListGroupsForUserCommand({ UserName: 'dev-a' }))).Groups?.map((x) => x.GroupName), ['devs']);
      await iam.send(new DeleteGroupCommand({ GroupName: 'admins' }));
      assert.deepEqual((await iam.send(new ListGroupsCommand({}))).Groups?.map((x) => x.GroupName), ['devs']);
      assert.deepEqual(await refusal(iam.send(new GetGroupCommand({ GroupName: 'admins' }))), { name: 'NoSuchEntityException', message: 'The group with name admins cannot be found.', status: 404 });
    });

    test('group refusals: a taken name in any case, unknown group or user, a non-member, a group with members or policies', async () => {
      assert.deepEqual(await refusedUnchanged(() => iam.send(new CreateGroupCommand({ GroupName: 'DEVS' }))), { name: 'EntityAlreadyExistsException', message: 'Group with name DEVS already exists.', status: 409 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AddUserToGroupCommand({ GroupName: 'nogroup', UserName: 'dev-a' }))), { name: 'NoSuchEntityException', message: 'The group with name nogroup cannot be found.', status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AddUserToGroupCommand({ GroupName: 'devs', UserName: 'nobody' }))), { name: 'NoSuchEntityException', message: 'The user with name nobody cannot be found.', status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new ListGroupsForUserCommand({ UserName: 'nobody' }))), { name: 'NoSuchEntityException', message: 'The user with name nobody cannot be found.', status: 404 });
      const notMember = await refusedUnchanged(() => iam.send(new RemoveUserFromGroupCommand({ GroupName: 'devs', UserName: 'alice' })));
      assert.deepEqual({ name: notMember.name, status: notMember.status }, { name: 'NoSuchEntityException', status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteGroupCommand({ GroupName: 'devs' }))), { name: 'DeleteConflictException', message: 'Cannot delete entity, must remove users from group first.', status: 409 });
      for (const u of ['dev-a', 'dev-b', 'dev-c']) await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'devs', UserName: u }));

      await iam.send(new PutGroupPolicyCommand({ GroupName: 'devs', PolicyName: 'inline', PolicyDocument: allow('ecr:ListImages', '*') }));
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteGroupCommand({ GroupName: 'devs' }))), { name: 'DeleteConflictException', message: 'Cannot delete entity, must delete policies first.', status: 409 });
      await iam.send(new DeleteGroupPolicyCommand({ GroupName: 'devs', PolicyName: 'inline' }));
      await iam.send(new AttachGroupPolicyCommand({ GroupName: 'devs', PolicyArn: READ_ONLY }));
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteGroupCommand({ GroupName: 'devs' }))), { name: 'DeleteConflictException', message: 'Cannot delete entity, must detach all policies first.', status: 409 });
      await iam.send(new DetachGroupPolicyCommand({ GroupName: 'devs', PolicyArn: READ_ONLY }));
      await iam.send(new DeleteGroupCommand({ GroupName: 'devs' }));
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteGroupCommand({ GroupName: 'devs' }))), { name: 'NoSuchEntityException', message: 'The group with name devs cannot be found.', status: 404 });
    });

    test('the policies of a group, inline and attached, apply to its members and stop applying when they leave', async () => {
      const c = await userWithKey('member');
      await iam.send(new CreateGroupCommand({ GroupName: 'readers' }));
      const ecr = ecrFor(c);
      assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException');
      await iam.send(new AddUserToGroupCommand({ GroupName: 'readers', UserName: 'member' }));
      await iam.send(new AttachGroupPolicyCommand({ GroupName: 'readers', PolicyArn: READ_ONLY }));
      await ecr.send(new DescribeRepositoriesCommand({}));
      assert.equal((await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'group/made' })))).name, 'AccessDeniedException');
      await iam.send(new PutGroupPolicyCommand({ GroupName: 'readers', PolicyName: 'create-group', PolicyDocument: allow('ecr:CreateRepository', `arn:aws:ecr:*:${A}:repository/group/*`) }));
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'group/made' }));
      assert.equal((await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'elsewhere' })))).name, 'AccessDeniedException');
      await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'readers', UserName: 'member' }));
      assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException');
      assert.equal((await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'group/again' })))).name, 'AccessDeniedException');
    });
  });

  describe('roles', () => {
    test('CreateRole answers the role with an AROA id, its trust policy URL-encoded, MaxSessionDuration and Description; GetRole and ListRoles the same', async () => {
      const doc = trust();
      const from = Date.now();
      const r = (await iam.send(new CreateRoleCommand({ RoleName: 'deployer', Path: '/ci/', AssumeRolePolicyDocument: doc, Description: `deploys <things> & "more" ('now')`, MaxSessionDuration: 7200, Tags: [{ Key: 'env', Value: 'prod' }] }))).Role as Role;
      const to = Date.now();
      assert.equal(r.RoleName, 'deployer');
      assert.equal(r.Path, '/ci/');
      assert.match(r.RoleId ?? '', /^AROA[A-Z2-7]{17}$/);
      assert.equal(r.Arn, `arn:aws:iam::${A}:role/ci/deployer`);
      assertEncodedDocument(r.AssumeRolePolicyDocument, doc);
      assert.equal(r.Description, `deploys <things> & "more" ('now')`, 'escaped in the XML, intact in the SDK');
      assert.equal(r.MaxSessionDuration, 7200);
      assert.deepEqual(r.Tags, [{ Key: 'env', Value: 'prod' }]);
      assertDateBetween(r.CreateDate, from, to);
      assert.deepEqual((await iam.send(new GetRoleCommand({ RoleName: 'deployer' }))).Role, r);

      const plain = (await iam.send(new CreateRoleCommand({ RoleName: 'plain', AssumeRolePolicyDocument: doc }))).Role as Role;
      assert.equal(plain.MaxSessionDuration, 3600);
      assert.equal(plain.Path, '/');
      assert.equal(plain.Description, undefined);
      const listed = await iam.send(new ListRolesCommand({}));
      assert.deepEqual(listed.Roles, [r, plain]);
      assert.deepEqual((await iam.send(new ListRolesCommand({ PathPrefix: '/ci/' }))).Roles, [r]);
      const p1 = await iam.send(new ListRolesCommand({ MaxItems: 1 }));
      assert.deepEqual({ roles: p1.Roles, truncated: p1.IsTruncated }, { roles: [r], truncated: true });
      const p2 = await iam.send(new ListRolesCommand({ MaxItems: 1, Marker: p1.Marker }));
      assert.deepEqual({ roles: p2.Roles, truncated: p2.IsTruncated, marker: p2.Marker }, { roles: [plain], truncated: false, marker: undefined });
    });

    test('UpdateAssumeRolePolicy replaces the trust policy; a malformed one changes nothing', async () => {
      const doc = trust(userArn('alice'));
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'plain', PolicyDocument: doc }));
      assertEncodedDocument((await iam.send(new GetRoleCommand({ RoleName: 'plain' }))).Role?.AssumeRolePolicyDocument, doc);
      const before = (await iam.send(new GetRoleCommand({ RoleName: 'plain' }))).Role;
      const r = await refusedUnchanged(() => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'plain', PolicyDocument: allow('sts:AssumeRole', '*') })));
      assert.deepEqual({ name: r.name, status: r.status }, { name: 'MalformedPolicyDocumentException', status: 400 });
      assert.match(r.message, /Principal/);
      assert.deepEqual((await iam.send(new GetRoleCommand({ RoleName: 'plain' }))).Role, before);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'absent', PolicyDocument: doc }))), { name: 'NoSuchEntityException', message: 'The role with name absent cannot be found.', status: 404 });
    });

    test('role refusals: a taken name in any case, a trust policy that is no trust policy or too long, a role with policies', async () => {
      assert.deepEqual(await refusedUnchanged(() => iam.send(new CreateRoleCommand({ RoleName: 'DEPLOYER', AssumeRolePolicyDocument: trust() }))), { name: 'EntityAlreadyExistsException', message: 'Role with name DEPLOYER already exists.', status: 409 });
      for (const doc of ['{"Version":"2012-10-17","Statement":[', allow('sts:AssumeRole', '*'), JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Condition: { StringEqualz: { 'aws:username': 'x' } } }] })]) {
        const r = await refusedUnchanged(() => iam.send(new CreateRoleCommand({ RoleName: 'malformed', AssumeRolePolicyDocument: doc })));
        assert.deepEqual({ name: r.name, status: r.status }, { name: 'MalformedPolicyDocumentException', status: 400 }, doc);
      }
      const long = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: Array.from({ length: 60 }, (_, i) => `arn:aws:iam::${A}:user/user-number-${i}`) }, Action: 'sts:AssumeRole' }] });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new CreateRoleCommand({ RoleName: 'long', AssumeRolePolicyDocument: long }))), { name: 'LimitExceededException', message: 'Cannot exceed quota for ACLSizePerRole: 2048', status: 409 });

      await iam.send(new PutRolePolicyCommand({ RoleName: 'plain', PolicyName: 'inline', PolicyDocument: allow('ecr:ListImages', '*') }));
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteRoleCommand({ RoleName: 'plain' }))), { name: 'DeleteConflictException', message: 'Cannot delete entity, must delete policies first.', status: 409 });
      await iam.send(new DeleteRolePolicyCommand({ RoleName: 'plain', PolicyName: 'inline' }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: 'plain', PolicyArn: READ_ONLY }));
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteRoleCommand({ RoleName: 'plain' }))), { name: 'DeleteConflictException', message: 'Cannot delete entity, must detach all policies first.', status: 409 });
      await iam.send(new DetachRolePolicyCommand({ RoleName: 'plain', PolicyArn: READ_ONLY }));
      await iam.send(new DeleteRoleCommand({ RoleName: 'plain' }));
      assert.deepEqual(await refusal(iam.send(new GetRoleCommand({ RoleName: 'plain' }))), { name: 'NoSuchEntityException', message: 'The role with name plain cannot be found.', status: 404 });
      assert.deepEqual((await iam.send(new ListRolesCommand({}))).Roles?.map((r) => r.RoleName), ['deployer']);
    });
  });

  describe('customer managed policies and attachments', () => {
    test('CreatePolicy answers the policy with an ANPA id, its ARN with the path, version v1 and no attachments; GetPolicy the same', async () => {
      const from = Date.now();
      const p = (await iam.send(new CreatePolicyCommand({ PolicyName: 'ReadTeam', Path: '/team/', PolicyDocument: allow('ecr:DescribeRepositories', '*'), Description: 'reads team repositories' }))).Policy as Policy;
      const to = Date.now();
      assert.equal(p.PolicyName, 'ReadTeam');
      assert.match(p.PolicyId ?? '', /^ANPA[A-Z2-7]{17}$/);
      assert.equal(p.Arn, policyArn('ReadTeam', '/team/'));
      assert.equal(p.Path, '/team/');
      assert.equal(p.DefaultVersionId, 'v1');
      assert.equal(p.AttachmentCount, 0);
      assert.equal(p.PermissionsBoundaryUsageCount, 0);
      assert.equal(p.IsAttachable, true);
      assert.equal(p.Description, 'reads team repositories');
      assertDateBetween(p.CreateDate, from, to);
      assert.deepEqual(p.UpdateDate, p.CreateDate);
      assert.deepEqual((await iam.send(new GetPolicyCommand({ PolicyArn: p.Arn }))).Policy, p);

      const aws = (await iam.send(new GetPolicyCommand({ PolicyArn: READ_ONLY }))).Policy;
      assert.equal(aws?.PolicyName, 'AmazonEC2ContainerRegistryReadOnly');
      assert.equal(aws?.Arn, READ_ONLY);
      assert.equal(aws?.Path, '/');
      assert.equal(aws?.IsAttachable, true);
    });

    test('attachments: AttachUserPolicy, ListAttachedUserPolicies, the AttachmentCount, ListPolicies by scope, path and OnlyAttached; DetachUserPolicy', async () => {
      const arn = policyArn('ReadTeam', '/team/');
      await iam.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: arn }));
      await iam.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: READ_ONLY }));
      await iam.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: READ_ONLY }));
      const attached = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'alice' }));
      // In ARN order (the account's own ARNs, with digits, before AWS's).
      assert.deepEqual(attached.AttachedPolicies, [
        { PolicyName: 'ReadTeam', PolicyArn: arn },
        { PolicyName: 'AmazonEC2ContainerRegistryReadOnly', PolicyArn: READ_ONLY },
      ]);
      assert.equal(attached.IsTruncated, false);
      assert.deepEqual((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'alice', PathPrefix: '/team/' }))).AttachedPolicies, [{ PolicyName: 'ReadTeam', PolicyArn: arn }]);
      const a1 = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'alice', MaxItems: 1 }));
      assert.deepEqual({ arns: a1.AttachedPolicies?.map((x) => x.PolicyArn), truncated: a1.IsTruncated }, { arns: [arn], truncated: true });
      const a2 = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'alice', MaxItems: 1, Marker: a1.Marker }));
      assert.deepEqual({ arns: a2.AttachedPolicies?.map((x) => x.PolicyArn), truncated: a2.IsTruncated }, { arns: [READ_ONLY], truncated: false });

      await iam.send(new CreateGroupCommand({ GroupName: 'team' }));
      await iam.send(new AttachGroupPolicyCommand({ GroupName: 'team', PolicyArn: arn }));
      assert.deepEqual((await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'team' }))).AttachedPolicies, [{ PolicyName: 'ReadTeam', PolicyArn: arn }]);
      await iam.send(new AttachRolePolicyCommand({ RoleName: 'deployer', PolicyArn: arn }));
      assert.deepEqual((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'deployer' }))).AttachedPolicies, [{ PolicyName: 'ReadTeam', PolicyArn: arn }]);
      assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount, 3);

      const local = await iam.send(new ListPoliciesCommand({ Scope: 'Local' }));
      assert.deepEqual(local.Policies?.map((p) => p.Arn), [arn]);
      assert.deepEqual(local.Policies?.[0], (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy);
      const awsOnly = (await iam.send(new ListPoliciesCommand({ Scope: 'AWS' }))).Policies?.map((p) => p.Arn) ?? [];
      assert.ok(awsOnly.includes(READ_ONLY) && awsOnly.includes(POWER_USER) && !awsOnly.includes(arn));
      const everything = (await iam.send(new ListPoliciesCommand({}))).Policies?.map((p) => p.Arn) ?? [];
      assert.deepEqual(everything, [...everything].sort());
      assert.deepEqual([...everything].sort(), [...awsOnly, arn].sort());
      assert.deepEqual((await iam.send(new ListPoliciesCommand({ OnlyAttached: true }))).Policies?.map((p) => p.Arn), [READ_ONLY, arn].sort());
      assert.deepEqual((await iam.send(new ListPoliciesCommand({ PathPrefix: '/team/' }))).Policies?.map((p) => p.Arn), [arn]);
      const paged = await all(async (Marker) => {
        const r = await iam.send(new ListPoliciesCommand({ MaxItems: 2, ...(Marker !== undefined ? { Marker } : {}) }));
        assert.ok((r.Policies?.length ?? 0) <= 2);
        return { items: r.Policies, IsTruncated: r.IsTruncated, Marker: r.Marker };
      });
      assert.deepEqual(paged.map((p) => p.Arn), everything);

      await iam.send(new DetachGroupPolicyCommand({ GroupName: 'team', PolicyArn: arn }));
      await iam.send(new DetachRolePolicyCommand({ RoleName: 'deployer', PolicyArn: arn }));
      await iam.send(new DetachUserPolicyCommand({ UserName: 'alice', PolicyArn: READ_ONLY }));
      assert.deepEqual((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'alice' }))).AttachedPolicies, [{ PolicyName: 'ReadTeam', PolicyArn: arn }]);
      assert.deepEqual((await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'team' }))).AttachedPolicies, []);
      assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount, 1);
    });

    test('an attached policy cannot be deleted (DeleteConflict); detached, it can, and is then NoSuchEntity', async () => {
      const arn = policyArn('ReadTeam', '/team/');
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeletePolicyCommand({ PolicyArn: arn }))), { name: 'DeleteConflictException', message: 'Cannot delete a policy attached to entities.', status: 409 });
      await iam.send(new DetachUserPolicyCommand({ UserName: 'alice', PolicyArn: arn }));
      await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
      const gone = { name: 'NoSuchEntityException', message: `Policy ${arn} does not exist or is not attachable.`, status: 404 };
      assert.deepEqual(await refusal(iam.send(new GetPolicyCommand({ PolicyArn: arn }))), gone);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeletePolicyCommand({ PolicyArn: arn }))), gone);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: arn }))), gone);
      assert.deepEqual((await iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies, []);
    });

    test('policy refusals: a taken name in any case, AWS\'s policies cannot be deleted, unknown entities, detaching what is not attached', async () => {
      await iam.send(new CreatePolicyCommand({ PolicyName: 'Unique', PolicyDocument: allow('ecr:ListImages', '*') }));
      for (const name of ['Unique', 'UNIQUE', 'unique']) {
        const r = await refusedUnchanged(() => iam.send(new CreatePolicyCommand({ PolicyName: name, Path: '/elsewhere/', PolicyDocument: allow('ecr:ListImages', '*') })));
        assert.deepEqual(r, { name: 'EntityAlreadyExistsException', message: `A policy called ${name} already exists. Duplicate names are not allowed.`, status: 409 }, name);
      }
      const awsDelete = await refusedUnchanged(() => iam.send(new DeletePolicyCommand({ PolicyArn: READ_ONLY })));
      assert.deepEqual({ name: awsDelete.name, status: awsDelete.status }, { name: 'InvalidInputException', status: 400 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AttachUserPolicyCommand({ UserName: 'nobody', PolicyArn: READ_ONLY }))), { name: 'NoSuchEntityException', message: 'The user with name nobody cannot be found.', status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AttachRolePolicyCommand({ RoleName: 'nobody', PolicyArn: READ_ONLY }))), { name: 'NoSuchEntityException', message: 'The role with name nobody cannot be found.', status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AttachGroupPolicyCommand({ GroupName: 'nobody', PolicyArn: READ_ONLY }))), { name: 'NoSuchEntityException', message: 'The group with name nobody cannot be found.', status: 404 });
      const unknownAws = 'arn:aws:iam::aws:policy/AdministratorAccess';
      assert.deepEqual(await refusedUnchanged(() => iam.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: unknownAws }))), { name: 'NoSuchEntityException', message: `Policy ${unknownAws} does not exist or is not attachable.`, status: 404 });
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DetachUserPolicyCommand({ UserName: 'alice', PolicyArn: POWER_USER }))), { name: 'NoSuchEntityException', message: `Policy ${POWER_USER} was not found.`, status: 404 });
      await iam.send(new DeletePolicyCommand({ PolicyArn: policyArn('Unique') }));
    });

    test('the 11th managed policy of a user, group or role is LimitExceeded (409)', async () => {
      const arns: string[] = [];
      for (let i = 1; i <= 11; i++) {
        const p = await iam.send(new CreatePolicyCommand({ PolicyName: `quota-${String(i).padStart(2, '0')}`, Path: '/quota/', PolicyDocument: allow('ecr:ListImages', '*') }));
        arns.push(p.Policy?.Arn ?? '');
      }
      await iam.send(new CreateUserCommand({ UserName: 'collector' }));
      await iam.send(new CreateGroupCommand({ GroupName: 'collectors' }));
      await iam.send(new CreateRoleCommand({ RoleName: 'collecting', AssumeRolePolicyDocument: trust() }));
      const kinds = [
        { kind: 'User', attach: (arn: string) => iam.send(new AttachUserPolicyCommand({ UserName: 'collector', PolicyArn: arn })), detach: (arn: string) => iam.send(new DetachUserPolicyCommand({ UserName: 'collector', PolicyArn: arn })) },
        { kind: 'Group', attach: (arn: string) => iam.send(new AttachGroupPolicyCommand({ GroupName: 'collectors', PolicyArn: arn })), detach: (arn: string) => iam.send(new DetachGroupPolicyCommand({ GroupName: 'collectors', PolicyArn: arn })) },
        { kind: 'Role', attach: (arn: string) => iam.send(new AttachRolePolicyCommand({ RoleName: 'collecting', PolicyArn: arn })), detach: (arn: string) => iam.send(new DetachRolePolicyCommand({ RoleName: 'collecting', PolicyArn: arn })) },
      ];
      for (const k of kinds) {
        for (const arn of arns.slice(0, 10)) await k.attach(arn);
        // Attaching one already attached again is no new attachment.
        await k.attach(arns[0] ?? '');
        assert.deepEqual(await refusedUnchanged(() => k.attach(arns[10] ?? '')), { name: 'LimitExceededException', message: `Cannot exceed quota for PoliciesPer${k.kind}: 10`, status: 409 }, k.kind);
      }
      assert.equal((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'collector' }))).AttachedPolicies?.length, 10);
      for (const k of kinds) for (const arn of arns.slice(0, 10)) await k.detach(arn);
      for (const arn of arns) await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
      await iam.send(new DeleteUserCommand({ UserName: 'collector' }));
      await iam.send(new DeleteGroupCommand({ GroupName: 'collectors' }));
      await iam.send(new DeleteRoleCommand({ RoleName: 'collecting' }));
    });

    test('a user\'s attached AmazonEC2ContainerRegistryReadOnly lets it DescribeRepositories but not CreateRepository', async () => {
      const c = await userWithKey('ro-reader');
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'ro/existing' }));
      const ecr = ecrFor(c);
      assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException');
      await iam.send(new AttachUserPolicyCommand({ UserName: 'ro-reader', PolicyArn: READ_ONLY }));
      const repos = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['ro/existing'] }));
      assert.deepEqual(repos.repositories?.map((r) => r.repositoryName), ['ro/existing']);
      const denied = await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'ro/new' })));
      assert.deepEqual(denied, {
        name: 'AccessDeniedException',
        message: `User: ${userArn('ro-reader')} is not authorized to perform: ecr:CreateRepository on resource: arn:aws:ecr:us-east-1:${A}:repository/ro/new because no identity-based policy allows the ecr:CreateRepository action`,
        status: 400,
      });
      assert.equal((await refusal(t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['ro/new'] })))).name, 'RepositoryNotFoundException');
      // A customer managed policy attached the same way decides too.
      const p = await iam.send(new CreatePolicyCommand({ PolicyName: 'CreateRo', PolicyDocument: allow('ecr:CreateRepository', `arn:aws:ecr:us-east-1:${A}:repository/ro/*`) }));
      await iam.send(new AttachUserPolicyCommand({ UserName: 'ro-reader', PolicyArn: p.Policy?.Arn }));
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'ro/new' }));
      await iam.send(new DetachUserPolicyCommand({ UserName: 'ro-reader', PolicyArn: READ_ONLY }));
      assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException', 'detached, it no longer applies');
    });
  });

  describe('inline policies', () => {
    const docs = {
      first: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Read', Effect: 'Allow', Action: ['ecr:DescribeRepositories', 'ecr:ListImages'], Resource: `arn:aws:ecr:us-east-1:${'*'}:repository/team/*`, Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalTag/owner': 'José & <Zoë>' } } }] }, null, 2),
      second: allow('ecr:ListImages', '*'),
    };

    for (const kind of ['User', 'Group', 'Role'] as const) {
      test(`Put${kind}Policy, Get${kind}Policy (the document URL-encoded), List${kind}Policies with pages, Delete${kind}Policy`, async () => {
        const name = `inline-${kind.toLowerCase()}`;
        const ops = {
          User: {
            create: () => iam.send(new CreateUserCommand({ UserName: name })),
            put: (PolicyName: string, PolicyDocument: string) => iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName, PolicyDocument })),
            get: async (PolicyName: string) => {
              const r = await iam.send(new GetUserPolicyCommand({ UserName: name, PolicyName }));
              return { owner: r.UserName, name: r.PolicyName, doc: r.PolicyDocument };
            },
            list: async (m?: { MaxItems?: number; Marker?: string }) => {
              const r = await iam.send(new ListUserPoliciesCommand({ UserName: name, ...m }));
              return { names: r.PolicyNames, truncated: r.IsTruncated, marker: r.Marker };
            },
            del: (PolicyName: string) => iam.send(new DeleteUserPolicyCommand({ UserName: name, PolicyName })),
            remove: () => iam.send(new DeleteUserCommand({ UserName: name })),
          },
          Group: {
            create: () => iam.send(new CreateGroupCommand({ GroupName: name })),
            put: (PolicyName: string, PolicyDocument: string) => iam.send(new PutGroupPolicyCommand({ GroupName: name, PolicyName, PolicyDocument })),
            get: async (PolicyName: string) => {
              const r = await iam.send(new GetGroupPolicyCommand({ GroupName: name, PolicyName }));
              return { owner: r.GroupName, name: r.PolicyName, doc: r.PolicyDocument };
            },
            list: async (m?: { MaxItems?: number; Marker?: string }) => {
              const r = await iam.send(new ListGroupPoliciesCommand({ GroupName: name, ...m }));
              return { names: r.PolicyNames, truncated: r.IsTruncated, marker: r.Marker };
            },
            del: (PolicyName: string) => iam.send(new DeleteGroupPolicyCommand({ GroupName: name, PolicyName })),
            remove: () => iam.send(new DeleteGroupCommand({ GroupName: name })),
          },
          Role: {
            create: () => iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust() })),
            put: (PolicyName: string, PolicyDocument: string) => iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName, PolicyDocument })),
            get: async (PolicyName: string) => {
              const r = await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName }));
              return { owner: r.RoleName, name: r.PolicyName, doc: r.PolicyDocument };
            },
            list: async (m?: { MaxItems?: number; Marker?: string }) => {
              const r = await iam.send(new ListRolePoliciesCommand({ RoleName: name, ...m }));
              return { names: r.PolicyNames, truncated: r.IsTruncated, marker: r.Marker };
            },
            del: (PolicyName: string) => iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName })),
            remove: () => iam.send(new DeleteRoleCommand({ RoleName: name })),
          },
        }[kind];
        await ops.create();
        assert.deepEqual(await ops.list(), { names: [], truncated: false, marker: undefined });
        await ops.put('second', docs.second);
        await ops.put('first', docs.first);
        const got = await ops.get('first');
        assert.equal(got.owner, name);
        assert.equal(got.name, 'first');
        assertEncodedDocument(got.doc, docs.first);
        assert.deepEqual(await ops.list(), { names: ['first', 'second'], truncated: false, marker: undefined });
        const p1 = await ops.list({ MaxItems: 1 });
        assert.deepEqual({ names: p1.names, truncated: p1.truncated }, { names: ['first'], truncated: true });
        assert.deepEqual(await ops.list({ MaxItems: 1, Marker: p1.marker ?? '' }), { names: ['second'], truncated: false, marker: undefined });
        // Put again replaces the document.
        await ops.put('first', docs.second);
        assertEncodedDocument((await ops.get('first')).doc, docs.second);

        const missing = await refusedUnchanged(() => ops.get('absent'));
        assert.deepEqual(missing, { name: 'NoSuchEntityException', message: `The ${kind.toLowerCase()} policy with name absent cannot be found.`, status: 404 });
        assert.deepEqual(await refusedUnchanged(() => ops.del('absent')), missing);
        await ops.del('first');
        await ops.del('second');
        assert.deepEqual(await ops.list(), { names: [], truncated: false, marker: undefined });
        await ops.remove();
        assert.deepEqual(await refusedUnchanged(() => ops.put('late', docs.second)), { name: 'NoSuchEntityException', message: `The ${kind.toLowerCase()} with name ${name} cannot be found.`, status: 404 });
      });
    }

    test('MalformedPolicyDocument (400): a syntax error, an unknown condition operator, a Principal in an identity policy, no Resource, a bad Effect', async () => {
      const cases: Array<[string, string, RegExp]> = [
        ['syntax', '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",', /JSON/],
        ['operator', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: { StringEqualz: { 'aws:username': 'x' } } }] }), /unknown condition operator StringEqualz/],
        ['principal', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'ecr:*', Resource: '*' }] }), /Principal/],
        ['resource', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*' }] }), /Resource/],
        ['effect', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'ecr:*', Resource: '*' }] }), /Effect/],
        ['version', JSON.stringify({ Version: '2020-01-01', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] }), /Version/],
      ];
      for (const [what, doc, why] of cases) {
        for (const call of [
          () => iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'malformed', PolicyDocument: doc })),
          () => iam.send(new PutGroupPolicyCommand({ GroupName: 'team', PolicyName: 'malformed', PolicyDocument: doc })),
          () => iam.send(new PutRolePolicyCommand({ RoleName: 'deployer', PolicyName: 'malformed', PolicyDocument: doc })),
          () => iam.send(new CreatePolicyCommand({ PolicyName: 'Malformed', PolicyDocument: doc })),
        ]) {
          const r = await refusedUnchanged(call);
          assert.deepEqual({ name: r.name, status: r.status }, { name: 'MalformedPolicyDocumentException', status: 400 }, what);
          assert.match(r.message, why, what);
        }
      }
    });

    test('over-long documents: beyond the quota LimitExceeded (409), beyond the model\'s 131072 characters a ValidationError', async () => {
      // Whitespace does not count towards the quotas: a document padded with it fits.
      const padded = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:ListImages', Resource: '*' }] }, null, 2).replace(/\n/g, `\n${' '.repeat(400)}`);
      assert.ok(padded.length > 2048);
      await iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'padded', PolicyDocument: padded }));
      await iam.send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'padded' }));

      const resources = (n: number): string => allow('ecr:ListImages', Array.from({ length: n }, (_, i) => `arn:aws:ecr:us-east-1:${A}:repository/long/repository-${i}`));
      const user = resources(40);
      assert.ok(user.length > 2048 && user.length < 5120);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'long', PolicyDocument: user }))), { name: 'LimitExceededException', message: 'Maximum policy size of 2048 bytes exceeded for user alice', status: 409 });
      // The quota counts all of a user's inline policies together.
      const half = resources(15);
      await iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'half', PolicyDocument: half }));
      assert.equal((await refusedUnchanged(() => iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'other-half', PolicyDocument: half })))).name, 'LimitExceededException');
      // Replacing one is no addition.
      await iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'half', PolicyDocument: half }));
      await iam.send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'half' }));
      // Groups have 5120, roles 10240, managed policies 6144.
      await iam.send(new PutGroupPolicyCommand({ GroupName: 'team', PolicyName: 'long', PolicyDocument: user }));
      await iam.send(new DeleteGroupPolicyCommand({ GroupName: 'team', PolicyName: 'long' }));
      const group = resources(80);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new PutGroupPolicyCommand({ GroupName: 'team', PolicyName: 'long', PolicyDocument: group }))), { name: 'LimitExceededException', message: 'Maximum policy size of 5120 bytes exceeded for group team', status: 409 });
      const role = resources(160);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new PutRolePolicyCommand({ RoleName: 'deployer', PolicyName: 'long', PolicyDocument: role }))), { name: 'LimitExceededException', message: 'Maximum policy size of 10240 bytes exceeded for role deployer', status: 409 });
      const managed = resources(100);
      assert.ok(managed.length > 6144);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new CreatePolicyCommand({ PolicyName: 'Long', PolicyDocument: managed }))), { name: 'LimitExceededException', message: 'Cannot exceed quota for PolicySize: 6144', status: 409 });

      const huge = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:ListImages', Resource: '*' }] }) + ' '.repeat(131_072);
      const r = await refusedUnchanged(() => iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'huge', PolicyDocument: huge })));
      assert.deepEqual({ name: r.name, status: r.status }, { name: 'ValidationError', status: 400 });
      assert.match(r.message, /'policyDocument' failed to satisfy constraint: Member must have length less than or equal to 131072/);
    });
  });

  describe('OpenID Connect providers', () => {
    test('Create, Get, List and Delete; a second with the same URL is EntityAlreadyExists, an unknown one NoSuchEntity', async () => {
      const from = Date.now();
      const created = await iam.send(new CreateOpenIDConnectProviderCommand({ Url: 'https://token.example.com/ci', ClientIDList: ['sts.amazonaws.com', 'sts.amazonaws.com', 'berth'], ThumbprintList: ['a'.repeat(40)], Tags: [{ Key: 'ci', Value: 'yes' }] }));
      const to = Date.now();
      const arn = `arn:aws:iam::${A}:oidc-provider/token.example.com/ci`;
      assert.equal(created.OpenIDConnectProviderArn, arn);
      assert.deepEqual(created.Tags, [{ Key: 'ci', Value: 'yes' }]);
      const got = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
      assert.equal(got.Url, 'token.example.com/ci');
      assert.deepEqual(got.ClientIDList, ['sts.amazonaws.com', 'berth']);
      assert.deepEqual(got.ThumbprintList, ['a'.repeat(40)]);
      assert.deepEqual(got.Tags, [{ Key: 'ci', Value: 'yes' }]);
      assertDateBetween(got.CreateDate, from, to);
      assert.deepEqual((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList, [{ Arn: arn }]);

      const dup = await refusedUnchanged(() => iam.send(new CreateOpenIDConnectProviderCommand({ Url: 'https://token.example.com/ci', ClientIDList: ['other'] })));
      assert.deepEqual({ name: dup.name, status: dup.status }, { name: 'EntityAlreadyExistsException', status: 409 });
      const bad = await refusedUnchanged(() => iam.send(new CreateOpenIDConnectProviderCommand({ Url: 'http://token.example.com/ci' })));
      assert.deepEqual({ name: bad.name, status: bad.status }, { name: 'InvalidInputException', status: 400 });

      await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
      assert.deepEqual((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList, []);
      const gone = { name: 'NoSuchEntityException', message: `OpenIDConnect Provider not found for arn ${arn}`, status: 404 };
      assert.deepEqual(await refusal(iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }))), gone);
      assert.deepEqual(await refusedUnchanged(() => iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }))), gone);
      const other = await refusal(iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: 'arn:aws:iam::210987654321:oidc-provider/token.example.com/ci' })));
      assert.deepEqual({ name: other.name, status: other.status }, { name: 'InvalidInputException', status: 400 });
    });
  });

  describe('who may call IAM', () => {
    test('an IAM user without IAM permissions is refused everything (AccessDenied, 403) and changes nothing', async () => {
      const c = await userWithKey('powerless');
      const me = iamFor(c);
      const arn = userArn('powerless');
      const cases: Array<[() => Promise<unknown>, string, string]> = [
        [() => me.send(new CreateUserCommand({ UserName: 'made-by-powerless' })), 'iam:CreateUser', userArn('made-by-powerless')],
        [() => me.send(new ListUsersCommand({})), 'iam:ListUsers', `arn:aws:iam::${A}:user/`],
        [() => me.send(new DeleteUserCommand({ UserName: 'alice' })), 'iam:DeleteUser', userArn('alice')],
        [() => me.send(new GetUserCommand({ UserName: 'bob' })), 'iam:GetUser', `arn:aws:iam::${A}:user/team/blue/bob`],
        [() => me.send(new CreateAccessKeyCommand({ UserName: 'alice' })), 'iam:CreateAccessKey', userArn('alice')],
        [() => me.send(new CreateGroupCommand({ GroupName: 'made' })), 'iam:CreateGroup', `arn:aws:iam::${A}:group/made`],
        [() => me.send(new CreateRoleCommand({ RoleName: 'made', AssumeRolePolicyDocument: trust() })), 'iam:CreateRole', `arn:aws:iam::${A}:role/made`],
        [() => me.send(new CreatePolicyCommand({ PolicyName: 'Made', PolicyDocument: allow('*', '*') })), 'iam:CreatePolicy', policyArn('Made')],
        [() => me.send(new AttachUserPolicyCommand({ UserName: 'powerless', PolicyArn: READ_ONLY })), 'iam:AttachUserPolicy', arn],
        [() => me.send(new PutUserPolicyCommand({ UserName: 'powerless', PolicyName: 'escalate', PolicyDocument: allow('*', '*') })), 'iam:PutUserPolicy', arn],
        [() => me.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'deployer', PolicyDocument: trust(arn) })), 'iam:UpdateAssumeRolePolicy', `arn:aws:iam::${A}:role/ci/deployer`],
      ];
      for (const [call, action, resource] of cases) {
        const r = await refusedUnchanged(call);
        assert.deepEqual(r, { name: 'AccessDenied', message: `User: ${arn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`, status: 403 }, action);
      }
    });

    test('an inline policy granting iam:CreateUser on user/* allows exactly that: creating users, nothing else', async () => {
      const c = await userWithKey('user-maker');
      const me = iamFor(c);
      await iam.send(new PutUserPolicyCommand({ UserName: 'user-maker', PolicyName: 'make-users', PolicyDocument: allow('iam:CreateUser', `arn:aws:iam::${A}:user/*`) }));
      const made = (await me.send(new CreateUserCommand({ UserName: 'made-by-maker', Path: '/made/' }))).User;
      assert.equal(made?.Arn, `arn:aws:iam::${A}:user/made/made-by-maker`);
      assert.equal((await iam.send(new GetUserCommand({ UserName: 'made-by-maker' }))).User?.UserId, made?.UserId);
      for (const call of [
        () => me.send(new DeleteUserCommand({ UserName: 'made-by-maker' })),
        () => me.send(new CreateAccessKeyCommand({ UserName: 'made-by-maker' })),
        () => me.send(new CreateGroupCommand({ GroupName: 'maker-group' })),
        () => me.send(new ListUsersCommand({})),
        () => me.send(new AttachUserPolicyCommand({ UserName: 'made-by-maker', PolicyArn: READ_ONLY })),
      ]) {
        assert.equal((await refusedUnchanged(call)).name, 'AccessDenied');
      }
    });

    test('a policy scoped to a path allows creating users under it only', async () => {
      const c = await userWithKey('path-maker');
      const me = iamFor(c);
      await iam.send(new PutUserPolicyCommand({ UserName: 'path-maker', PolicyName: 'make-contractors', PolicyDocument: allow(['iam:CreateUser', 'iam:DeleteUser'], `arn:aws:iam::${A}:user/contractors/*`) }));
      await me.send(new CreateUserCommand({ UserName: 'contractor-1', Path: '/contractors/' }));
      const r = await refusedUnchanged(() => me.send(new CreateUserCommand({ UserName: 'contractor-2' })));
      assert.equal(r.message, `User: ${userArn('path-maker')} is not authorized to perform: iam:CreateUser on resource: ${userArn('contractor-2')} because no identity-based policy allows the iam:CreateUser action`);
      // The ARN of an existing user carries its path: deleting one outside it is refused.
      assert.equal((await refusedUnchanged(() => me.send(new DeleteUserCommand({ UserName: 'alice' })))).name, 'AccessDenied');
      await me.send(new DeleteUserCommand({ UserName: 'contractor-1' }));
      assert.equal((await refusal(iam.send(new GetUserCommand({ UserName: 'contractor-1' })))).name, 'NoSuchEntityException');
    });

    test('an explicit deny beats an allow', async () => {
      const c = await userWithKey('denied-maker');
      await iam.send(new PutUserPolicyCommand({ UserName: 'denied-maker', PolicyName: 'allow', PolicyDocument: allow('iam:*', '*') }));
      await iam.send(new PutUserPolicyCommand({ UserName: 'denied-maker', PolicyName: 'deny', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:CreateUser', Resource: '*' }] }) }));
      const r = await refusedUnchanged(() => iamFor(c).send(new CreateUserCommand({ UserName: 'never' })));
      assert.deepEqual(r, { name: 'AccessDenied', message: `User: ${userArn('denied-maker')} is not authorized to perform: iam:CreateUser on resource: ${userArn('never')} with an explicit deny in an identity-based policy`, status: 403 });
      await iamFor(c).send(new CreateGroupCommand({ GroupName: 'allowed-group' }));
      await iam.send(new DeleteGroupCommand({ GroupName: 'allowed-group' }));
    });
  });
});
