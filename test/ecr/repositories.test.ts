// The repository, registry and account-setting operations through @aws-sdk/client-ecr:
// PutImageTagMutability, PutImageScanningConfiguration, TagResource, UntagResource,
// ListTagsForResource, DescribeRegistry, GetAccountSetting, PutAccountSetting, and BLOB_MOUNTING on
// /v2/. Every refused request answers the exact exception and message and changes nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeRegistryCommand,
  DescribeRepositoriesCommand,
  GetAccountSettingCommand,
  ListTagsForResourceCommand,
  PutAccountSettingCommand,
  PutImageScanningConfigurationCommand,
  PutImageTagMutabilityCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type PutImageTagMutabilityCommandInput,
  type Repository,
  type Tag,
} from '@aws-sdk/client-ecr';
import { refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const OTHER_ACCOUNT = '999988887777';



describe('repository operations', () => {
  let t: EcrTestApp;
  let account: string;
  const arn = (name: string): string => `arn:aws:ecr:us-east-1:${account}:repository/${name}`;
  const describeRepo = async (name: string): Promise<Repository> => {
    const r = await t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    const repo = r.repositories?.[0];
    assert.ok(repo !== undefined);
    return repo;
  };
  const tagsOf = async (name: string): Promise<Tag[] | undefined> => (await t.ecr.send(new ListTagsForResourceCommand({ resourceArn: arn(name) }))).tags;

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  describe('PutImageTagMutability', () => {
    before(async () => {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'mut/app' }));
    });

    test('sets each of the four modes, with up to 5 exclusion filters for the *_WITH_EXCLUSION ones', async () => {
      const filters = ['latest', 'dev-*', '*-rc', 'v1.*', 'nightly_*'].map((filter) => ({ filterType: 'WILDCARD' as const, filter }));
      const cases = [
        { imageTagMutability: 'IMMUTABLE' as const },
        { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' as const, imageTagMutabilityExclusionFilters: filters },
        { imageTagMutability: 'MUTABLE_WITH_EXCLUSION' as const, imageTagMutabilityExclusionFilters: filters.slice(0, 1) },
        { imageTagMutability: 'MUTABLE' as const },
      ];
      for (const c of cases) {
        const r = await t.ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'mut/app', ...c }));
        assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined, registryId: account, repositoryName: 'mut/app', ...c });
        const repo = await describeRepo('mut/app');
        assert.equal(repo.imageTagMutability, c.imageTagMutability);
        assert.deepEqual(repo.imageTagMutabilityExclusionFilters, c.imageTagMutabilityExclusionFilters);
      }
    });

    test('registryId of the caller\'s own account is accepted', async () => {
      const r = await t.ecr.send(new PutImageTagMutabilityCommand({ registryId: account, repositoryName: 'mut/app', imageTagMutability: 'MUTABLE' }));
      assert.equal(r.registryId, account);
    });

    test('refuses bad settings and unknown repositories, changing nothing', async () => {
      await t.ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'mut/app', imageTagMutability: 'IMMUTABLE' }));
      const cases: Array<[PutImageTagMutabilityCommandInput, string, string]> = [
        [
          { repositoryName: 'mut/app', imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' },
          'InvalidParameterException',
          'Invalid parameter: imageTagMutability IMMUTABLE_WITH_EXCLUSION needs imageTagMutabilityExclusionFilters (1 to 5 WILDCARD filters)',
        ],
        [
          { repositoryName: 'mut/app', imageTagMutability: 'MUTABLE', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'x*' }] },
          'InvalidParameterException',
          'Invalid parameter: imageTagMutabilityExclusionFilters can only be given with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not MUTABLE',
        ],
        [
          {
            repositoryName: 'mut/app',
            imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
            imageTagMutabilityExclusionFilters: Array.from({ length: 6 }, (_, i) => ({ filterType: 'WILDCARD' as const, filter: `v${i}*` })),
          },
          'InvalidParameterException',
          "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'must have length less than or equal to 5'",
        ],
        [
          { repositoryName: 'mut/app', imageTagMutability: 'MUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'a b' }] },
          'InvalidParameterException',
          "Invalid parameter at 'imageTagMutabilityExclusionFilters.1.member.filter' failed to satisfy constraint: 'must satisfy regular expression '^[0-9a-zA-Z._*-]{1,128}$''",
        ],
        [
          { repositoryName: 'mut/app', imageTagMutability: 'SOMETIMES' as 'MUTABLE' },
          'InvalidParameterException',
          "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'",
        ],
        [
          { repositoryName: 'mut/nope', imageTagMutability: 'MUTABLE' },
          'RepositoryNotFoundException',
          `The repository with name 'mut/nope' does not exist in the registry with id '${account}'`,
        ],
        [
          { registryId: OTHER_ACCOUNT, repositoryName: 'mut/app', imageTagMutability: 'MUTABLE' },
          'AccessDeniedException',
          `User: arn:aws:iam::${account}:root is not authorized to perform: ecr:PutImageTagMutability on resource: arn:aws:ecr:us-east-1:${OTHER_ACCOUNT}:repository/mut/app because no resource-based policy allows the ecr:PutImageTagMutability action`,
        ],
      ];
      for (const [input, name, message] of cases) {
        const e = await refusal(t.ecr.send(new PutImageTagMutabilityCommand(input)));
        assert.deepEqual({ name: e.name, message: e.message }, { name, message }, JSON.stringify(input));
      }
      const repo = await describeRepo('mut/app');
      assert.equal(repo.imageTagMutability, 'IMMUTABLE');
      assert.equal(repo.imageTagMutabilityExclusionFilters, undefined);
      assert.equal((await refusal(t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['mut/nope'] })))).name, 'RepositoryNotFoundException');
    });
  });

  describe('PutImageScanningConfiguration', () => {
    before(async () => {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'scan/app', imageTagMutability: 'IMMUTABLE' }));
    });

    test('stores scanOnPush and leaves the other settings alone', async () => {
      for (const scanOnPush of [true, false, true]) {
        const r = await t.ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'scan/app', imageScanningConfiguration: { scanOnPush } }));
        assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined, registryId: account, repositoryName: 'scan/app', imageScanningConfiguration: { scanOnPush } });
        const repo = await describeRepo('scan/app');
        assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush });
        assert.equal(repo.imageTagMutability, 'IMMUTABLE');
      }
      // An empty configuration turns scanning on push off.
      const r = await t.ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'scan/app', imageScanningConfiguration: {} }));
      assert.deepEqual(r.imageScanningConfiguration, { scanOnPush: false });
      assert.deepEqual((await describeRepo('scan/app')).imageScanningConfiguration, { scanOnPush: false });
    });

    test('refuses a missing configuration and unknown repositories', async () => {
      await t.ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'scan/app', imageScanningConfiguration: { scanOnPush: true } }));
      let e = await refusal(t.ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'scan/app' } as never)));
      assert.deepEqual({ ...e, status: undefined }, { name: 'InvalidParameterException', message: "Invalid parameter at 'imageScanningConfiguration' failed to satisfy constraint: 'must not be null'", status: undefined });
      e = await refusal(t.ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'scan/none', imageScanningConfiguration: { scanOnPush: true } })));
      assert.deepEqual({ name: e.name, message: e.message, status: e.status }, {
        name: 'RepositoryNotFoundException',
        message: `The repository with name 'scan/none' does not exist in the registry with id '${account}'`,
        status: 400,
      });
      assert.deepEqual((await describeRepo('scan/app')).imageScanningConfiguration, { scanOnPush: true });
    });
  });

  describe('TagResource, UntagResource, ListTagsForResource', () => {
    before(async () => {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'tags/app', tags: [{ Key: 'team', Value: 'a' }] }));
    });

    test('adds, overwrites, lists in key order and removes tags', async () => {
      assert.deepEqual(await tagsOf('tags/app'), [{ Key: 'team', Value: 'a' }]);
      await t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/app'), tags: [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'b' }, { Key: 'cost-center', Value: '' }] }));
      assert.deepEqual(await tagsOf('tags/app'), [
        { Key: 'cost-center', Value: '' },
        { Key: 'env', Value: 'prod' },
        { Key: 'team', Value: 'b' },
      ]);
      // Keys the repository does not have are ignored.
      const r = await t.ecr.send(new UntagResourceCommand({ resourceArn: arn('tags/app'), tagKeys: ['env', 'absent', 'env'] }));
      assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined });
      assert.deepEqual(await tagsOf('tags/app'), [
        { Key: 'cost-center', Value: '' },
        { Key: 'team', Value: 'b' },
      ]);
      await t.ecr.send(new UntagResourceCommand({ resourceArn: arn('tags/app'), tagKeys: ['cost-center', 'team'] }));
      assert.deepEqual(await tagsOf('tags/app'), []);
    });

    test('allows 50 tags per repository; overwriting a key does not count twice', async () => {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'tags/full' }));
      const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${String(i).padStart(2, '0')}`, Value: `v${i}` }));
      await t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/full'), tags: fifty.slice(0, 30) }));
      await t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/full'), tags: fifty.slice(20) }));
      assert.equal((await tagsOf('tags/full'))?.length, 50);
      await t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/full'), tags: [{ Key: 'k00', Value: 'changed' }] }));
      const e = await refusal(t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/full'), tags: [{ Key: 'k00', Value: 'again' }, { Key: 'one-more', Value: 'x' }] })));
      assert.deepEqual({ name: e.name, message: e.message }, { name: 'TooManyTagsException', message: 'A resource can have at most 50 tags; this request would give it 51' });
      const tags = await tagsOf('tags/full');
      assert.equal(tags?.length, 50);
      assert.deepEqual(tags?.[0], { Key: 'k00', Value: 'changed' });
    });

    test('refuses bad tags, changing nothing', async () => {
      await t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/app'), tags: [{ Key: 'keep', Value: 'me' }] }));
      const cases: Array<[Tag[], string]> = [
        [[{ Key: 'aws:owner', Value: 'x' }], "Tag keys starting with 'aws:' are reserved: 'aws:owner'"],
        [[{ Key: 'ok', Value: 'x' }, { Key: '', Value: 'x' }], "Tag key '' must be 1 to 128 characters long"],
        [[{ Key: 'k'.repeat(129), Value: 'x' }], `Tag key '${'k'.repeat(129)}' must be 1 to 128 characters long`],
        [[{ Key: 'long', Value: 'v'.repeat(257) }], "Tag value for key 'long' must be at most 256 characters long"],
        [[{ Key: 'semi;colon', Value: 'x' }], "Tag 'semi;colon' has characters outside letters, digits, spaces and _ . : / = + - @"],
      ];
      for (const [tags, message] of cases) {
        const e = await refusal(t.ecr.send(new TagResourceCommand({ resourceArn: arn('tags/app'), tags })));
        assert.deepEqual({ name: e.name, message: e.message }, { name: 'InvalidTagParameterException', message });
      }
      let e = await refusal(t.ecr.send(new UntagResourceCommand({ resourceArn: arn('tags/app'), tagKeys: ['keep', 'aws:x'] })));
      assert.deepEqual({ name: e.name, message: e.message }, { name: 'InvalidTagParameterException', message: "Tag keys starting with 'aws:' are reserved: 'aws:x'" });
      e = await refusal(t.ecr.send(new UntagResourceCommand({ resourceArn: arn('tags/app'), tagKeys: ['keep', ''] })));
      assert.deepEqual({ name: e.name, message: e.message }, { name: 'InvalidTagParameterException', message: "Tag key '' must be 1 to 128 characters long" });
      assert.deepEqual(await tagsOf('tags/app'), [{ Key: 'keep', Value: 'me' }]);
    });

    test('refuses malformed ARNs, other regions, other accounts and unknown repositories', async () => {
      const invalid = (a: string): string => `The ARN provided is invalid: expected arn:aws:ecr:us-east-1:<registry id>:repository/<repository name>, not "${a}"`;
      const cases: Array<[string, string, string]> = [
        ['tags/app', 'InvalidParameterException', invalid('tags/app')],
        [`arn:aws:ecr:us-east-1:${account}:repository/`, 'InvalidParameterException', invalid(`arn:aws:ecr:us-east-1:${account}:repository/`)],
        [`arn:aws:ecr:us-east-1:${account}:repository/Tags/App`, 'InvalidParameterException', invalid(`arn:aws:ecr:us-east-1:${account}:repository/Tags/App`)],
        [`arn:aws:s3:us-east-1:${account}:repository/tags/app`, 'InvalidParameterException', invalid(`arn:aws:s3:us-east-1:${account}:repository/tags/app`)],
        [`arn:aws:ecr:us-east-1:12345:repository/tags/app`, 'InvalidParameterException', invalid('arn:aws:ecr:us-east-1:12345:repository/tags/app')],
        [`arn:aws:ecr:eu-west-1:${account}:repository/tags/app`, 'InvalidParameterException', 'The ARN provided is invalid: it names region eu-west-1, and this registry serves us-east-1'],
        [
          `arn:aws:ecr:us-east-1:${OTHER_ACCOUNT}:repository/tags/app`,
          'AccessDeniedException',
          `User: arn:aws:iam::${account}:root is not authorized to perform: ecr:TagResource on resource: arn:aws:ecr:us-east-1:${OTHER_ACCOUNT}:repository/tags/app because no resource-based policy allows the ecr:TagResource action`,
        ],
        [arn('tags/unknown'), 'RepositoryNotFoundException', `The repository with name 'tags/unknown' does not exist in the registry with id '${account}'`],
      ];
      for (const [resourceArn, name, message] of cases) {
        const e = await refusal(t.ecr.send(new TagResourceCommand({ resourceArn, tags: [{ Key: 'x', Value: 'y' }] })));
        assert.deepEqual({ name: e.name, message: e.message }, { name, message }, resourceArn);
        const u = await refusal(t.ecr.send(new UntagResourceCommand({ resourceArn, tagKeys: ['keep'] })));
        assert.deepEqual({ name: u.name, message: u.message.replaceAll('ecr:UntagResource', 'ecr:TagResource') }, { name, message }, resourceArn);
        const l = await refusal(t.ecr.send(new ListTagsForResourceCommand({ resourceArn })));
        assert.deepEqual({ name: l.name, message: l.message.replaceAll('ecr:ListTagsForResource', 'ecr:TagResource') }, { name, message }, resourceArn);
      }
      assert.deepEqual(await tagsOf('tags/app'), [{ Key: 'keep', Value: 'me' }]);
      assert.equal((await refusal(t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['tags/unknown'] })))).name, 'RepositoryNotFoundException');
    });

    test('a repository deleted and created again starts without tags', async () => {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'tags/again', tags: [{ Key: 'old', Value: '1' }] }));
      await t.ecr.send(new DeleteRepositoryCommand({ repositoryName: 'tags/again' }));
      assert.equal((await refusal(t.ecr.send(new ListTagsForResourceCommand({ resourceArn: arn('tags/again') })))).name, 'RepositoryNotFoundException');
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'tags/again' }));
      assert.deepEqual(await tagsOf('tags/again'), []);
    });
  });

  describe('DescribeRegistry', () => {
    test('names the registry and an empty replication configuration', async () => {
      const r = await t.ecr.send(new DescribeRegistryCommand({}));
      assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined, registryId: account, replicationConfiguration: { rules: [] } });
    });
  });

  describe('GetAccountSetting and PutAccountSetting', () => {
    test('answer ECR\'s defaults before anything is set', async () => {
      for (const [name, value] of [
        ['BASIC_SCAN_TYPE_VERSION', 'AWS_NATIVE'],
        ['REGISTRY_POLICY_SCOPE', 'V2'],
        ['BLOB_MOUNTING', 'ENABLED'],
      ]) {
        const r = await t.ecr.send(new GetAccountSettingCommand({ name }));
        assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined, name, value });
      }
    });

    test('store each allowed value', async () => {
      for (const [name, value] of [
        ['REGISTRY_POLICY_SCOPE', 'V1'],
        ['REGISTRY_POLICY_SCOPE', 'V2'],
        ['BASIC_SCAN_TYPE_VERSION', 'AWS_NATIVE'],
        ['BLOB_MOUNTING', 'DISABLED'],
        ['BLOB_MOUNTING', 'ENABLED'],
      ] as const) {
        const r = await t.ecr.send(new PutAccountSettingCommand({ name, value }));
        assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined, name, value });
        assert.equal((await t.ecr.send(new GetAccountSettingCommand({ name }))).value, value);
      }
    });

    test('refuse unknown names and values a setting does not have, changing nothing', async () => {
      await t.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V1' }));
      const names = 'BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE, BLOB_MOUNTING';
      const cases: Array<[string, string, string]> = [
        ['SCAN_ON_PUSH', 'ENABLED', `Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy enum value set: [${names}]'`],
        ['blob_mounting', 'ENABLED', `Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy enum value set: [${names}]'`],
        ['REGISTRY_POLICY_SCOPE', 'V3', "Invalid parameter at 'value' failed to satisfy constraint: 'Member must satisfy enum value set: [V1, V2]' (REGISTRY_POLICY_SCOPE cannot be \"V3\")"],
        ['BLOB_MOUNTING', 'V2', "Invalid parameter at 'value' failed to satisfy constraint: 'Member must satisfy enum value set: [ENABLED, DISABLED]' (BLOB_MOUNTING cannot be \"V2\")"],
        ['BASIC_SCAN_TYPE_VERSION', 'ENHANCED', "Invalid parameter at 'value' failed to satisfy constraint: 'Member must satisfy enum value set: [AWS_NATIVE]' (BASIC_SCAN_TYPE_VERSION cannot be \"ENHANCED\")"],
        ['x'.repeat(65), 'V1', "Invalid parameter at 'name' failed to satisfy constraint: 'must have length less than or equal to 64'"],
      ];
      for (const [name, value, message] of cases) {
        const e = await refusal(t.ecr.send(new PutAccountSettingCommand({ name, value })));
        assert.deepEqual({ name: e.name, message: e.message }, { name: 'InvalidParameterException', message }, `${name}=${value}`);
      }
      const g = await refusal(t.ecr.send(new GetAccountSettingCommand({ name: 'SCAN_ON_PUSH' })));
      assert.deepEqual({ name: g.name, message: g.message }, { name: 'InvalidParameterException', message: `Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy enum value set: [${names}]'` });
      assert.equal((await t.ecr.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' }))).value, 'V1');
      assert.equal((await t.ecr.send(new GetAccountSettingCommand({ name: 'BLOB_MOUNTING' }))).value, 'ENABLED');
      assert.equal((await t.ecr.send(new GetAccountSettingCommand({ name: 'BASIC_SCAN_TYPE_VERSION' }))).value, 'AWS_NATIVE');
    });
  });

  describe('BLOB_MOUNTING on /v2/', () => {
    const blob = Buffer.from('a layer shared between repositories');
    const digest = sha256(blob);
    const mount = async (to: string): Promise<Response> => await t.fetch(`/v2/${to}/blobs/uploads/?mount=${digest}&from=mount/source`, { method: 'POST' });

    before(async () => {
      const r = await t.fetch(`/v2/mount/source/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(r.status, 201, await r.text());
    });

    test('ENABLED (the default) mounts: 201 and the blob is in the target', async () => {
      await t.ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'ENABLED' }));
      const r = await mount('mount/enabled');
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('location'), `/v2/mount/enabled/blobs/${digest}`);
      assert.equal((await t.fetch(`/v2/mount/enabled/blobs/${digest}`, { method: 'HEAD' })).status, 200);
    });

    test('DISABLED does not mount: an ordinary upload session (202), the blob is not in the target', async () => {
      await t.ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'DISABLED' }));
      try {
        const r = await mount('mount/disabled');
        assert.equal(r.status, 202);
        const location = r.headers.get('location') ?? '';
        assert.match(location, /^\/v2\/mount\/disabled\/blobs\/uploads\/[\w-]+$/);
        assert.equal((await t.fetch(`/v2/mount/disabled/blobs/${digest}`, { method: 'HEAD' })).status, 404);
        // The session takes the upload the client then sends.
        const put = await t.fetch(`${location}?digest=${digest}`, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
        assert.equal(put.status, 201);
        assert.equal((await t.fetch(`/v2/mount/disabled/blobs/${digest}`, { method: 'HEAD' })).status, 200);
      } finally {
        await t.ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'ENABLED' }));
      }
    });

    test('no mount between repositories with different encryption configurations (as ECR)', async () => {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'mount/kms', encryptionConfiguration: { encryptionType: 'KMS' } }));
      const r = await mount('mount/kms');
      assert.equal(r.status, 202);
      assert.equal((await t.fetch(`/v2/mount/kms/blobs/${digest}`, { method: 'HEAD' })).status, 404);
    });
  });
});
