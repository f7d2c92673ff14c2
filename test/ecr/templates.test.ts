// Repository creation templates through @aws-sdk/client-ecr (Create, Describe with pagination and
// prefixes, Update, Delete, every modelled exception with nothing changed), CREATE_ON_PUSH through a
// plain /v2/ push with Basic credentials (no template: NAME_UNKNOWN and nothing created; a matching
// template: the repository gets its settings; the longest prefix wins; ROOT), and the ROOT template
// bootstrap creates on first start (templates.bootstrapRoot).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  DeleteRepositoryCreationTemplateCommand,
  DescribeRepositoriesCommand,
  DescribeRepositoryCreationTemplatesCommand,
  ListTagsForResourceCommand,
  UpdateRepositoryCreationTemplateCommand,
  type CreateRepositoryCreationTemplateCommandInput,
  type Repository,
  type RepositoryCreationTemplate,
  type UpdateRepositoryCreationTemplateCommandInput,
} from '@aws-sdk/client-ecr';
import { assertUnchanged, call, expectOciError, MT, pushImage, sha256, snapshot } from '../integration/bad-input/helpers.ts';
import { refusalMessage, startEcrApp, type EcrTestApp } from './helpers.ts';

const BOOTSTRAP_DESCRIPTION = 'Created by berth on first start: a push to a repository that does not exist creates it. Delete it to require CreateRepository (or a template for the prefix).';
const KMS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const REPOSITORY_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: '*', Action: ['ecr:BatchGetImage'] }] });
const LIFECYCLE_POLICY = JSON.stringify({ rules: [{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } }] });


/** The template as the SDK parsed it, without its times (checked separately). */
function withoutTimes(t: RepositoryCreationTemplate | undefined): Omit<RepositoryCreationTemplate, 'createdAt' | 'updatedAt'> {
  assert.ok(t !== undefined);
  assert.ok(t.createdAt instanceof Date && t.updatedAt instanceof Date, 'createdAt and updatedAt are timestamps');
  const { createdAt: _c, updatedAt: _u, ...rest } = t;
  return rest;
}

async function templates(t: EcrTestApp, prefixes?: string[]): Promise<RepositoryCreationTemplate[]> {
  const out: RepositoryCreationTemplate[] = [];
  let nextToken: string | undefined;
  do {
    const r = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ ...(prefixes !== undefined ? { prefixes } : {}), ...(nextToken !== undefined ? { nextToken } : {}) }));
    out.push(...(r.repositoryCreationTemplates ?? []));
    nextToken = r.nextToken;
  } while (nextToken !== undefined);
  return out;
}

async function prefixesOf(t: EcrTestApp): Promise<string[]> {
  return (await templates(t)).map((x) => x.prefix ?? '');
}

describe('repository creation template operations', () => {
  let t: EcrTestApp;
  let account: string;

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  test('bootstrap created a ROOT template for CREATE_ON_PUSH on first start', async () => {
    const r = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({}));
    assert.equal(r.registryId, account);
    assert.equal(r.nextToken, undefined);
    assert.equal(r.repositoryCreationTemplates?.length, 1);
    assert.deepEqual(withoutTimes(r.repositoryCreationTemplates?.[0]), {
      prefix: 'ROOT',
      description: BOOTSTRAP_DESCRIPTION,
      encryptionConfiguration: { encryptionType: 'AES256' },
      resourceTags: [],
      imageTagMutability: 'MUTABLE',
      appliedFor: ['CREATE_ON_PUSH'],
    });
  });

  test('CreateRepositoryCreationTemplate with every field; Describe shows it', async () => {
    const input: CreateRepositoryCreationTemplateCommandInput = {
      prefix: 'full/team',
      description: 'every field',
      encryptionConfiguration: { encryptionType: 'KMS', kmsKey: KMS_KEY },
      resourceTags: [
        { Key: 'team', Value: 'platform' },
        { Key: 'cost-center', Value: '42' },
      ],
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [
        { filterType: 'WILDCARD', filter: 'latest' },
        { filterType: 'WILDCARD', filter: 'dev-*' },
      ],
      repositoryPolicy: REPOSITORY_POLICY,
      lifecyclePolicy: LIFECYCLE_POLICY,
      appliedFor: ['CREATE_ON_PUSH', 'REPLICATION', 'PULL_THROUGH_CACHE', 'REPLICATION'],
      customRoleArn: `arn:aws:iam::${account}:role/ecr-templates/creator`,
    };
    const before = Date.now();
    const r = await t.ecr.send(new CreateRepositoryCreationTemplateCommand(input));
    assert.equal(r.registryId, account);
    const expected = { ...input, appliedFor: ['CREATE_ON_PUSH', 'REPLICATION', 'PULL_THROUGH_CACHE'] };
    assert.deepEqual(withoutTimes(r.repositoryCreationTemplate), expected);
    const created = r.repositoryCreationTemplate?.createdAt?.getTime() ?? 0;
    assert.ok(created >= before - 1000 && created <= Date.now() + 1000, 'createdAt is now');
    assert.equal(r.repositoryCreationTemplate?.updatedAt?.getTime(), created);
    const d = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ prefixes: ['full/team'] }));
    assert.deepEqual(d.repositoryCreationTemplates, [r.repositoryCreationTemplate]);
  });

  test('defaults of a minimal template; a trailing "/" and ROOT are prefixes too', async () => {
    const r = await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'minimal/', appliedFor: ['PULL_THROUGH_CACHE'] }));
    assert.deepEqual(withoutTimes(r.repositoryCreationTemplate), {
      prefix: 'minimal/',
      encryptionConfiguration: { encryptionType: 'AES256' },
      resourceTags: [],
      imageTagMutability: 'MUTABLE',
      appliedFor: ['PULL_THROUGH_CACHE'],
    });
    // Empty texts are no texts.
    const e = await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'empty-texts', appliedFor: ['REPLICATION'], description: '', repositoryPolicy: '', lifecyclePolicy: '', customRoleArn: '' }));
    assert.deepEqual(withoutTimes(e.repositoryCreationTemplate), {
      prefix: 'empty-texts',
      encryptionConfiguration: { encryptionType: 'AES256' },
      resourceTags: [],
      imageTagMutability: 'MUTABLE',
      appliedFor: ['REPLICATION'],
    });
    for (const prefix of ['minimal/', 'empty-texts']) await t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix }));
  });

  test('UpdateRepositoryCreationTemplate changes the fields given and keeps the others', async () => {
    await t.ecr.send(
      new CreateRepositoryCreationTemplateCommand({
        prefix: 'upd',
        description: 'before',
        appliedFor: ['CREATE_ON_PUSH'],
        imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'release-*' }],
        resourceTags: [{ Key: 'a', Value: '1' }],
        repositoryPolicy: REPOSITORY_POLICY,
        customRoleArn: `arn:aws:iam::${account}:role/creator`,
      }),
    );
    const [before] = await templates(t, ['upd']);
    assert.ok(before?.createdAt !== undefined);
    await new Promise((r) => setTimeout(r, 20));

    // The description only.
    let r = await t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'upd', description: 'after' }));
    assert.equal(r.registryId, account);
    assert.deepEqual(withoutTimes(r.repositoryCreationTemplate), { ...withoutTimes(before), description: 'after' });
    assert.equal(r.repositoryCreationTemplate?.createdAt?.getTime(), before.createdAt.getTime());
    assert.ok((r.repositoryCreationTemplate?.updatedAt?.getTime() ?? 0) > before.createdAt.getTime(), 'updatedAt moves');

    // Filters alone keep the mode; a mode alone drops the filters.
    r = await t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'upd', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'v*' }] }));
    assert.equal(r.repositoryCreationTemplate?.imageTagMutability, 'MUTABLE_WITH_EXCLUSION');
    assert.deepEqual(r.repositoryCreationTemplate?.imageTagMutabilityExclusionFilters, [{ filterType: 'WILDCARD', filter: 'v*' }]);
    r = await t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'upd', imageTagMutability: 'IMMUTABLE' }));
    assert.equal(r.repositoryCreationTemplate?.imageTagMutability, 'IMMUTABLE');
    assert.equal(r.repositoryCreationTemplate?.imageTagMutabilityExclusionFilters, undefined);

    // Everything else at once; empty strings remove texts.
    r = await t.ecr.send(
      new UpdateRepositoryCreationTemplateCommand({
        prefix: 'upd',
        description: '',
        encryptionConfiguration: { encryptionType: 'KMS_DSSE' },
        resourceTags: [{ Key: 'b', Value: '2' }],
        repositoryPolicy: '',
        lifecyclePolicy: LIFECYCLE_POLICY,
        appliedFor: ['REPLICATION'],
        customRoleArn: '',
      }),
    );
    assert.deepEqual(withoutTimes(r.repositoryCreationTemplate), {
      prefix: 'upd',
      encryptionConfiguration: { encryptionType: 'KMS_DSSE' },
      resourceTags: [{ Key: 'b', Value: '2' }],
      imageTagMutability: 'IMMUTABLE',
      lifecyclePolicy: LIFECYCLE_POLICY,
      appliedFor: ['REPLICATION'],
    });
    assert.deepEqual(await templates(t, ['upd']), [r.repositoryCreationTemplate]);
  });

  test('DeleteRepositoryCreationTemplate answers the template it deleted', async () => {
    const c = await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'del/me', appliedFor: ['CREATE_ON_PUSH'], description: 'bye' }));
    const r = await t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'del/me' }));
    assert.equal(r.registryId, account);
    assert.deepEqual(r.repositoryCreationTemplate, c.repositoryCreationTemplate);
    assert.deepEqual(await templates(t, ['del/me']), []);
  });

  test('refused creates and updates answer the exact exception and change nothing', async () => {
    await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'kept', appliedFor: ['CREATE_ON_PUSH'], description: 'unchanged' }));
    const all = await templates(t);
    const base = { prefix: 'bad', appliedFor: ['CREATE_ON_PUSH' as const] };
    const invalid = (m: string): [string, string] => ['InvalidParameterException', m];
    const cases: Array<[Partial<CreateRepositoryCreationTemplateCommandInput>, [string, string]]> = [
      [{ prefix: 'kept' }, ['TemplateAlreadyExistsException', `The repository creation template with prefix 'kept' already exists in the registry with id '${account}'`]],
      [{ prefix: 'ROOT' }, ['TemplateAlreadyExistsException', `The repository creation template with prefix 'ROOT' already exists in the registry with id '${account}'`]],
      [{ prefix: 'Bad' }, invalid("Invalid parameter at 'prefix' failed to satisfy constraint: 'must satisfy regular expression '^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$''")],
      [{ prefix: 'root/' + 'x'.repeat(252) }, invalid("Invalid parameter at 'prefix' failed to satisfy constraint: 'must have length less than or equal to 256'")],
      [{ appliedFor: [] }, invalid("Invalid parameter at 'appliedFor' failed to satisfy constraint: 'must name at least one of CREATE_ON_PUSH, REPLICATION, PULL_THROUGH_CACHE'")],
      [{ appliedFor: ['SOMETIMES' as 'REPLICATION'] }, invalid("Invalid parameter at 'appliedFor.1.member' failed to satisfy constraint: 'must satisfy enum value set: [REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH]'")],
      [{ description: 'd'.repeat(257) }, invalid("Invalid parameter at 'description' failed to satisfy constraint: 'must have length less than or equal to 256'")],
      [{ encryptionConfiguration: { encryptionType: 'AES256', kmsKey: KMS_KEY } }, invalid('Invalid parameter: kmsKey can only be given with encryptionType KMS or KMS_DSSE')],
      [
        { encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/mine' } },
        invalid("Invalid parameter at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: 'must satisfy regular expression '^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\\/[a-z0-9-]+''"),
      ],
      [{ imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' }, invalid('Invalid parameter: imageTagMutability IMMUTABLE_WITH_EXCLUSION needs imageTagMutabilityExclusionFilters (1 to 5 WILDCARD filters)')],
      [
        { imageTagMutability: 'IMMUTABLE', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'x' }] },
        invalid('Invalid parameter: imageTagMutabilityExclusionFilters can only be given with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not IMMUTABLE'),
      ],
      [{ resourceTags: [{ Key: 'aws:team', Value: 'x' }] }, invalid("Invalid parameter at 'resourceTags': Tag keys starting with 'aws:' are reserved: 'aws:team'")],
      [{ resourceTags: [{ Key: '', Value: 'x' }] }, invalid("Invalid parameter at 'resourceTags': Tag key '' must be 1 to 128 characters long")],
      [{ resourceTags: [{ Key: 'v', Value: 'v'.repeat(257) }] }, invalid("Invalid parameter at 'resourceTags': Tag value for key 'v' must be at most 256 characters long")],
      [{ resourceTags: [{ Key: 'a;b', Value: 'x' }] }, invalid("Invalid parameter at 'resourceTags': Tag 'a;b' has characters outside letters, digits, spaces and _ . : / = + - @")],
      [
        { resourceTags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: '' })) },
        invalid("Invalid parameter at 'resourceTags': A resource can have at most 50 tags; this request would give it 51"),
      ],
      [{ repositoryPolicy: '{"Version": ' }, invalid("Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'must be a JSON document (Unexpected end of JSON input)'")],
      [{ repositoryPolicy: '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage"}]}' }, invalid("Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'Invalid repository policy provided: Statement[0] must have a Principal'")],
      [{ lifecyclePolicy: '[1, 2]' }, invalid("Invalid parameter at 'lifecyclePolicy' failed to satisfy constraint: 'must be a JSON object'")],
      [{ lifecyclePolicy: 'x'.repeat(30721) }, invalid("Invalid parameter at 'lifecyclePolicy' failed to satisfy constraint: 'must have length less than or equal to 30720'")],
      [{ repositoryPolicy: ' '.repeat(10241) }, invalid("Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'must have length less than or equal to 10240'")],
      [{ customRoleArn: 'creator' }, invalid("Invalid parameter at 'customRoleArn' failed to satisfy constraint: 'must be the ARN of an IAM role: arn:aws:iam::<account>:role/<name>'")],
      [{ customRoleArn: 'arn:aws:iam::999988887777:role/creator' }, invalid(`Invalid parameter at 'customRoleArn' failed to satisfy constraint: 'must be a role in the registry's account ${account}, not 999988887777'`)],
    ];
    for (const [fields, [name, message]] of cases) {
      const input = { ...base, ...fields } as CreateRepositoryCreationTemplateCommandInput;
      assert.deepEqual(await refusalMessage(t.ecr.send(new CreateRepositoryCreationTemplateCommand(input))), { name, message }, JSON.stringify(fields).slice(0, 200));
      // The same fields in an update of an existing template (except the create-only cases).
      if (name === 'InvalidParameterException' && fields.prefix === undefined) {
        const u = { ...fields, prefix: 'kept' } as UpdateRepositoryCreationTemplateCommandInput;
        assert.deepEqual(await refusalMessage(t.ecr.send(new UpdateRepositoryCreationTemplateCommand(u))), { name, message }, `update ${JSON.stringify(fields).slice(0, 200)}`);
      }
    }
    assert.deepEqual(await templates(t), all);
  });

  test('update and delete of a prefix without a template: TemplateNotFoundException', async () => {
    const all = await templates(t);
    const message = `The repository creation template with prefix 'absent' does not exist in the registry with id '${account}'`;
    assert.deepEqual(await refusalMessage(t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'absent', description: 'x' }))), { name: 'TemplateNotFoundException', message });
    assert.deepEqual(await refusalMessage(t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'absent' }))), { name: 'TemplateNotFoundException', message });
    // "prefix" and "prefix/" are different templates.
    assert.deepEqual(await refusalMessage(t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'kept/' }))), {
      name: 'TemplateNotFoundException',
      message: `The repository creation template with prefix 'kept/' does not exist in the registry with id '${account}'`,
    });
    assert.deepEqual(await templates(t), all);
  });
});

describe('DescribeRepositoryCreationTemplates pagination and limits', () => {
  let t: EcrTestApp;
  let account: string;
  // Byte order: "ROOT" (uppercase) sorts before the lowercase prefixes.
  const names = ['alpha', 'alpha/one', 'beta', 'gamma-x', 'gamma/y', 'omega', 'zeta/z'];

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
    for (const prefix of [...names].reverse()) await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix, appliedFor: ['REPLICATION'], description: prefix }));
  });
  after(async () => {
    await t.close();
  });

  test('pages of maxResults in byte order of the prefixes, with nextToken across page boundaries', async () => {
    const all = ['ROOT', ...names];
    for (const size of [1, 2, 3, 7, 8, 9]) {
      const seen: string[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const r = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ maxResults: size, ...(nextToken !== undefined ? { nextToken } : {}) }));
        assert.equal(r.registryId, account);
        const page = (r.repositoryCreationTemplates ?? []).map((x) => x.prefix ?? '');
        assert.ok(page.length <= size);
        seen.push(...page);
        nextToken = r.nextToken;
        pages++;
        if (nextToken !== undefined) assert.equal(page.length, size, 'only the last page is short');
      } while (nextToken !== undefined);
      assert.deepEqual(seen, all, `maxResults ${size}`);
      assert.equal(pages, Math.ceil(all.length / size), `maxResults ${size}: no empty last page`);
    }
    // Without maxResults: up to 100, all of them here.
    const r = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({}));
    assert.deepEqual(
      r.repositoryCreationTemplates?.map((x) => x.prefix),
      all,
    );
    assert.equal(r.nextToken, undefined);
  });

  test('prefixes filter (unknown ones are left out) and page too', async () => {
    const wanted = ['zeta/z', 'absent', 'alpha', 'gamma/y', 'ROOT'];
    const first = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ prefixes: wanted, maxResults: 2 }));
    assert.deepEqual(
      first.repositoryCreationTemplates?.map((x) => x.prefix),
      ['ROOT', 'alpha'],
    );
    assert.ok(first.nextToken !== undefined);
    const second = await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ prefixes: wanted, maxResults: 2, nextToken: first.nextToken }));
    assert.deepEqual(
      second.repositoryCreationTemplates?.map((x) => x.prefix),
      ['gamma/y', 'zeta/z'],
    );
    assert.equal(second.nextToken, undefined);
    assert.deepEqual((await t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ prefixes: ['absent'] }))).repositoryCreationTemplates, []);
  });

  test('refuses a bad nextToken and maxResults out of 1..1000', async () => {
    assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ nextToken: 'not-a-token' }))), {
      name: 'InvalidParameterException',
      message: "Invalid parameter at 'nextToken' failed to satisfy constraint: 'must be a token from a previous response'",
    });
    assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ maxResults: 0 }))), {
      name: 'InvalidParameterException',
      message: "Invalid parameter at 'maxResults' failed to satisfy constraint: 'must be greater than or equal to 1'",
    });
    assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeRepositoryCreationTemplatesCommand({ maxResults: 1001 }))), {
      name: 'InvalidParameterException',
      message: "Invalid parameter at 'maxResults' failed to satisfy constraint: 'must be less than or equal to 1000'",
    });
  });

  test('at most 50 templates per registry: LimitExceededException', async () => {
    const have = (await prefixesOf(t)).length;
    for (let i = have; i < 50; i++) await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: `fill/n${i}`, appliedFor: ['REPLICATION'] }));
    const before = await prefixesOf(t);
    assert.equal(before.length, 50);
    assert.deepEqual(await refusalMessage(t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'one-too-many', appliedFor: ['CREATE_ON_PUSH'] }))), {
      name: 'LimitExceededException',
      message: `The registry with id '${account}' already has 50 repository creation templates, the most it may have`,
    });
    // An existing prefix is still refused as existing, not as over the limit.
    assert.equal((await refusalMessage(t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'alpha', appliedFor: ['CREATE_ON_PUSH'] })))).name, 'TemplateAlreadyExistsException');
    assert.deepEqual(await prefixesOf(t), before);
    // After a delete there is room again.
    await t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'fill/n49' }));
    await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'one-too-many', appliedFor: ['CREATE_ON_PUSH'] }));
  });
});

describe('CREATE_ON_PUSH through /v2/', () => {
  let t: EcrTestApp;
  let account: string;
  const describeRepo = async (name: string): Promise<Repository | undefined> => {
    try {
      return (await t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }))).repositories?.[0];
    } catch (e) {
      assert.equal((e as Error).name, 'RepositoryNotFoundException');
      return undefined;
    }
  };
  const tagsOf = async (name: string): Promise<unknown> => (await t.ecr.send(new ListTagsForResourceCommand({ resourceArn: `arn:aws:ecr:us-east-1:${account}:repository/${name}` }))).tags;
  const noTemplate = (name: string): RegExp =>
    new RegExp(`^repository ${name.replace(/[/.]/g, '\\$&')} does not exist in registry ${account} and no repository creation template for CREATE_ON_PUSH matches its name; create the repository first, or a template for its prefix or ROOT$`);

  /** Every way a push starts in a repository that does not exist is refused with NAME_UNKNOWN, creating nothing. */
  async function assertRefusedPush(name: string): Promise<void> {
    const blob = randomBytes(64);
    const digest = sha256(blob);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest, size: blob.length }, layers: [] }));
    const before = snapshot(t);
    const attempts = [
      await call(t, 'POST', `/v2/${name}/blobs/uploads/`),
      await call(t, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: blob, headers: { 'content-type': 'application/octet-stream' } }),
      await call(t, 'POST', `/v2/${name}/blobs/uploads/?mount=${digest}&from=other/repo`),
      await call(t, 'PUT', `/v2/${name}/manifests/v1`, { body: manifest, headers: { 'content-type': MT.ociManifest } }),
    ];
    for (const r of attempts) {
      const err = expectOciError(r, { status: 404, code: 'NAME_UNKNOWN', message: noTemplate(name) });
      assert.deepEqual(err.detail, { name });
    }
    assertUnchanged(t, before, { after: `a refused push to ${name}` });
    assert.equal(await describeRepo(name), undefined);
  }

  before(async () => {
    t = await startEcrApp({ database: 'sqlite', config: { templates: { bootstrapRoot: false } } });
    account = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  test('without templates a push to a repository that does not exist fails with NAME_UNKNOWN and creates nothing', async () => {
    assert.deepEqual(await prefixesOf(t), []);
    await assertRefusedPush('nowhere/app');
    // An existing repository takes pushes as ever.
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'made/by-api', imageTagMutability: 'IMMUTABLE' }));
    await pushImage(t, 'made/by-api', 'v1');
    assert.equal((await describeRepo('made/by-api'))?.imageTagMutability, 'IMMUTABLE');
  });

  test('a matching CREATE_ON_PUSH template creates the repository with its settings, tags and policies', async () => {
    await t.ecr.send(
      new CreateRepositoryCreationTemplateCommand({
        prefix: 'team-a',
        appliedFor: ['CREATE_ON_PUSH'],
        imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest' }],
        encryptionConfiguration: { encryptionType: 'KMS', kmsKey: KMS_KEY },
        resourceTags: [
          { Key: 'team', Value: 'a' },
          { Key: 'created-by', Value: 'template' },
        ],
        repositoryPolicy: REPOSITORY_POLICY,
        lifecyclePolicy: LIFECYCLE_POLICY,
      }),
    );
    const image = await pushImage(t, 'team-a/app', 'v1');
    const repo = await describeRepo('team-a/app');
    assert.deepEqual(
      { ...repo, createdAt: undefined },
      {
        repositoryArn: `arn:aws:ecr:us-east-1:${account}:repository/team-a/app`,
        registryId: account,
        repositoryName: 'team-a/app',
        repositoryUri: `${t.host}/team-a/app`,
        createdAt: undefined,
        imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest' }],
        imageScanningConfiguration: { scanOnPush: false },
        encryptionConfiguration: { encryptionType: 'KMS', kmsKey: KMS_KEY },
      },
    );
    assert.deepEqual(await tagsOf('team-a/app'), [
      { Key: 'created-by', Value: 'template' },
      { Key: 'team', Value: 'a' },
    ]);
    const stored = await t.app.meta.repositories.get(account, 'team-a/app');
    assert.ok(stored !== undefined);
    assert.equal(await t.app.meta.repositories.policyText(stored.id, 'repository'), REPOSITORY_POLICY);
    assert.equal(await t.app.meta.repositories.policyText(stored.id, 'lifecycle'), LIFECYCLE_POLICY);
    // The image went in.
    const r = await call(t, 'GET', `/v2/team-a/app/manifests/v1`, { headers: { accept: MT.ociManifest } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-content-digest'), image.digest);
  });

  test('the prefix is a path: "team-a" matches team-a/..., not team-a itself nor team-ab/...', async () => {
    await assertRefusedPush('team-a');
    await assertRefusedPush('team-ab/app');
  });

  test('the longest matching prefix wins', async () => {
    await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'team-a/svc', appliedFor: ['CREATE_ON_PUSH'], imageTagMutability: 'IMMUTABLE', resourceTags: [{ Key: 'team', Value: 'svc' }] }));
    await pushImage(t, 'team-a/svc/api', 'v1');
    await pushImage(t, 'team-a/other', 'v1');
    const svc = await describeRepo('team-a/svc/api');
    assert.equal(svc?.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(svc?.encryptionConfiguration, { encryptionType: 'AES256' });
    assert.deepEqual(await tagsOf('team-a/svc/api'), [{ Key: 'team', Value: 'svc' }]);
    const svcRow = await t.app.meta.repositories.get(account, 'team-a/svc/api');
    assert.equal(await t.app.meta.repositories.policyText(svcRow?.id ?? 0, 'repository'), undefined);
    assert.equal((await describeRepo('team-a/other'))?.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    // "team-a/svc" is a path too: team-a/svcx/... falls back to team-a.
    await pushImage(t, 'team-a/svcx/api', 'v1');
    assert.equal((await describeRepo('team-a/svcx/api'))?.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
  });

  test('a template not applied for CREATE_ON_PUSH does not create; a prefix with a trailing "/" does', async () => {
    await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'mirror', appliedFor: ['REPLICATION', 'PULL_THROUGH_CACHE'] }));
    await assertRefusedPush('mirror/app');
    await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'slash/', appliedFor: ['CREATE_ON_PUSH'], imageTagMutability: 'IMMUTABLE' }));
    await pushImage(t, 'slash/app', 'v1');
    assert.equal((await describeRepo('slash/app'))?.imageTagMutability, 'IMMUTABLE');
    // Adding CREATE_ON_PUSH to the mirror template by update makes it apply.
    await t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'mirror', appliedFor: ['REPLICATION', 'CREATE_ON_PUSH'], imageTagMutability: 'IMMUTABLE' }));
    await pushImage(t, 'mirror/app', 'v1');
    assert.equal((await describeRepo('mirror/app'))?.imageTagMutability, 'IMMUTABLE');
  });

  test('ROOT matches every name no longer prefix matches; existing repositories keep their settings', async () => {
    await t.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'ROOT', appliedFor: ['CREATE_ON_PUSH'], resourceTags: [{ Key: 'from', Value: 'root' }] }));
    await pushImage(t, 'anything', 'v1');
    await pushImage(t, 'team-a', 'v1');
    await pushImage(t, 'deep/er/name', 'v1');
    for (const name of ['anything', 'team-a', 'deep/er/name']) {
      assert.equal((await describeRepo(name))?.imageTagMutability, 'MUTABLE', name);
      assert.deepEqual(await tagsOf(name), [{ Key: 'from', Value: 'root' }], name);
    }
    await pushImage(t, 'team-a/more', 'v1');
    assert.equal((await describeRepo('team-a/more'))?.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    // Templates apply at creation only.
    await t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'team-a', imageTagMutability: 'MUTABLE', resourceTags: [] }));
    await pushImage(t, 'team-a/app', 'v2');
    assert.equal((await describeRepo('team-a/app'))?.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.equal((await describeRepo('made/by-api'))?.imageTagMutability, 'IMMUTABLE');
  });

  test('deleting the templates turns creation on push off again', async () => {
    for (const prefix of await prefixesOf(t)) await t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix }));
    await assertRefusedPush('team-a/late');
    await assertRefusedPush('late');
    // Existing repositories still take pushes.
    await pushImage(t, 'team-a/app', 'v3');
  });
});

describe('the ROOT template of bootstrap (templates.bootstrapRoot)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-templates-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('present on first start; not created again after it was deleted', async () => {
    const dataDir = join(dir, 'restart');
    let t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      assert.deepEqual(await prefixesOf(t), ['ROOT']);
      // It makes a push to a new repository create it, as before templates existed.
      await pushImage(t, 'fresh/app', 'v1');
      assert.equal((await t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['fresh/app'] }))).repositories?.[0]?.imageTagMutability, 'MUTABLE');
      await t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'ROOT' }));
    } finally {
      await t.close();
    }
    t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      assert.deepEqual(await prefixesOf(t), []);
      const r = await call(t, 'POST', '/v2/fresh/other/blobs/uploads/');
      expectOciError(r, { status: 404, code: 'NAME_UNKNOWN', message: /no repository creation template for CREATE_ON_PUSH matches its name/ });
      // Existing repositories are untouched.
      await pushImage(t, 'fresh/app', 'v2');
    } finally {
      await t.close();
    }
  });

  test('a ROOT template of the user is left as it is on restart', async () => {
    const dataDir = join(dir, 'own-root');
    let t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      await t.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'ROOT', imageTagMutability: 'IMMUTABLE', description: 'mine' }));
    } finally {
      await t.close();
    }
    t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      const [root] = await templates(t);
      assert.equal(root?.description, 'mine');
      assert.equal(root?.imageTagMutability, 'IMMUTABLE');
    } finally {
      await t.close();
    }
  });

  test('absent when templates.bootstrapRoot is false (BERTH_TEMPLATES_BOOTSTRAP_ROOT=false), also after restarts without the key', async () => {
    const dataDir = join(dir, 'without');
    let t = await startEcrApp({ dataDir, database: 'sqlite', env: { BERTH_TEMPLATES_BOOTSTRAP_ROOT: 'false' } });
    try {
      assert.deepEqual(await prefixesOf(t), []);
      const r = await call(t, 'PUT', '/v2/fresh/app/manifests/v1', { body: '{}', headers: { 'content-type': MT.ociManifest } });
      assert.equal(r.status, 400, 'a malformed manifest is refused before the repository is looked at');
      const u = await call(t, 'POST', '/v2/fresh/app/blobs/uploads/');
      expectOciError(u, { status: 404, code: 'NAME_UNKNOWN', message: /no repository creation template for CREATE_ON_PUSH matches its name/ });
    } finally {
      await t.close();
    }
    // Only the first start decides.
    t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      assert.deepEqual(await prefixesOf(t), []);
    } finally {
      await t.close();
    }
  });

  test('the first start after an upgrade from a berth without templates creates it', async () => {
    const dataDir = join(dir, 'upgrade');
    let t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      await pushImage(t, 'old/app', 'v1');
      // What a data directory of a berth before templates has: no template, no decision recorded.
      await t.ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'ROOT' }));
      await t.app.meta.db.deleteFrom('settings').where('key', '=', 'bootstrap_root_template').execute();
    } finally {
      await t.close();
    }
    t = await startEcrApp({ dataDir, database: 'sqlite' });
    try {
      assert.deepEqual(await prefixesOf(t), ['ROOT']);
      await pushImage(t, 'new/app', 'v1');
    } finally {
      await t.close();
    }
  });
});
