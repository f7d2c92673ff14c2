// Repository and registry policies through @aws-sdk/client-ecr: SetRepositoryPolicy (with force),
// GetRepositoryPolicy, DeleteRepositoryPolicy, PutRegistryPolicy, GetRegistryPolicy,
// DeleteRegistryPolicy. Documents come back exactly as set; an invalid document is refused with the
// problem named and the stored policy is left as it was; a policy that would lock the caller out
// needs force; the registry policy's actions follow REGISTRY_POLICY_SCOPE.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateRepositoryCommand,
  DeleteRegistryPolicyCommand,
  DeleteRepositoryCommand,
  DeleteRepositoryPolicyCommand,
  GetRegistryPolicyCommand,
  GetRepositoryPolicyCommand,
  PutAccountSettingCommand,
  PutRegistryPolicyCommand,
  SetRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr';
import { refusal, startEcrApp, type EcrTestApp } from './helpers.ts';

const OTHER_ACCOUNT = '444455556666';

/** ECR's example: another account may pull. Formatted as a person writes it, kept byte for byte. */
const PULL_POLICY = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowCrossAccountPull",
      "Effect": "Allow",
      "Principal": { "AWS": "arn:aws:iam::${OTHER_ACCOUNT}:root" },
      "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    }
  ]
}`;

const PUBLIC_READ = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'Public', Effect: 'Allow', Principal: '*', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }],
});

function invalidRepositoryPolicy(problem: RegExp): (r: { name: string; message: string; status: number | undefined }) => void {
  return (r) => {
    assert.equal(r.name, 'InvalidParameterException');
    assert.equal(r.status, 400);
    assert.match(r.message, /^Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided: /);
    assert.match(r.message, problem);
  };
}

describe('repository policies', () => {
  let t: EcrTestApp;
  let account: string;
  const getPolicy = async (name: string): Promise<string | undefined> => (await t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name }))).policyText;

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  test('set, get exactly as set, replace, delete returning the policy; then RepositoryPolicyNotFoundException', async () => {
    const name = 'policies/app';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    const notFound = { name: 'RepositoryPolicyNotFoundException', message: `Repository policy does not exist for the repository with name '${name}' in the registry with id '${account}'`, status: 400 };
    assert.deepEqual(await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name }))), notFound);

    const set = await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: PULL_POLICY }));
    assert.deepEqual({ registryId: set.registryId, repositoryName: set.repositoryName, policyText: set.policyText }, { registryId: account, repositoryName: name, policyText: PULL_POLICY });
    assert.equal(await getPolicy(name), PULL_POLICY, 'byte for byte, whitespace included');

    await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: PUBLIC_READ }));
    assert.equal(await getPolicy(name), PUBLIC_READ);

    const del = await t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: name }));
    assert.deepEqual({ registryId: del.registryId, repositoryName: del.repositoryName, policyText: del.policyText }, { registryId: account, repositoryName: name, policyText: PUBLIC_READ });
    assert.deepEqual(await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name }))), notFound);
    assert.deepEqual(await refusal(t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: name }))), notFound);
  });

  test('an unknown repository: RepositoryNotFoundException from all three, and nothing is stored', async () => {
    const name = 'policies/none';
    const notFound = { name: 'RepositoryNotFoundException', message: `The repository with name '${name}' does not exist in the registry with id '${account}'`, status: 400 };
    assert.deepEqual(await refusal(t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: PULL_POLICY }))), notFound);
    assert.deepEqual(await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name }))), notFound);
    assert.deepEqual(await refusal(t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: name }))), notFound);
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    assert.equal((await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name })))).name, 'RepositoryPolicyNotFoundException');
  });

  test('invalid documents are refused with the problem named, and the policy in place stays', async () => {
    const name = 'policies/invalid';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: PULL_POLICY }));
    const stmt = (s: Record<string, unknown>): string => JSON.stringify({ Version: '2012-10-17', Statement: [s] });
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', '{"Version": "2012-10-17", "Statement": [', /JSON/i],
      ['empty', '', /empty/],
      ['a JSON array', '[]', /object/i],
      ['no Statement', JSON.stringify({ Version: '2012-10-17' }), /Statement/],
      ['no Principal', stmt({ Effect: 'Allow', Action: 'ecr:BatchGetImage' }), /Principal/],
      ['no Effect', stmt({ Principal: '*', Action: 'ecr:BatchGetImage' }), /Effect/],
      ['an Effect that is neither', stmt({ Effect: 'Maybe', Principal: '*', Action: 'ecr:BatchGetImage' }), /Effect/],
      ['both Action and NotAction', stmt({ Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage', NotAction: 'ecr:PutImage' }), /NotAction/],
      ['an unknown condition operator', stmt({ Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage', Condition: { StringEqualz: { 'aws:username': 'x' } } }), /StringEqualz/],
      ['an action of another service', stmt({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }), /s3:GetObject is not an action of Amazon ECR/],
      ['a bad Version', JSON.stringify({ Version: '2020-01-01', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:*' }] }), /Version/],
      ['an unknown element', stmt({ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Resources: '*' }), /Resources/],
    ];
    for (const [what, policyText, problem] of cases) {
      const r = await refusal(t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText })));
      invalidRepositoryPolicy(problem)(r);
      assert.match(r.message, /Statement\[0\]|JSON|empty|object|Statement|Version/, what);
      assert.equal(await getPolicy(name), PULL_POLICY, `${what}: the policy in place stays`);
    }
    // Over the modelled 10240 characters: the model's own length rule.
    const long = await refusal(t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: PULL_POLICY + ' '.repeat(10241 - PULL_POLICY.length) })));
    assert.equal(long.name, 'InvalidParameterException');
    assert.match(long.message, /10240/);
    assert.equal(await getPolicy(name), PULL_POLICY);
  });

  test('a policy denying the caller SetRepositoryPolicy needs force; with force it is set', async () => {
    const name = 'policies/lockout';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    const lockout = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Pull', Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' },
        { Sid: 'NoChanges', Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'ecr:*Policy' },
      ],
    });
    const r = await refusal(t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: lockout })));
    assert.equal(r.name, 'InvalidParameterException');
    assert.match(r.message, /ecr:SetRepositoryPolicy/);
    assert.match(r.message, /force/);
    assert.equal((await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name })))).name, 'RepositoryPolicyNotFoundException', 'nothing was set');
    // A deny of other actions is no lockout.
    const noPush = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 'ecr:PutImage' }] });
    await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: noPush }));
    assert.equal(await getPolicy(name), noPush);
    await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: lockout, force: true }));
    // Set, and enforced: the owner can no longer read or change it, as the warning said.
    const lockedOut = (action: string): string =>
      `User: arn:aws:iam::${account}:root is not authorized to perform: ${action} on resource: arn:aws:ecr:us-east-1:${account}:repository/${name} with an explicit deny in a resource-based policy`;
    assert.deepEqual(await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name }))), { name: 'AccessDeniedException', message: lockedOut('ecr:GetRepositoryPolicy'), status: 400 });
    assert.deepEqual(await refusal(t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: noPush, force: true }))), { name: 'AccessDeniedException', message: lockedOut('ecr:SetRepositoryPolicy'), status: 400 });
    assert.deepEqual(await refusal(t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: name }))), { name: 'AccessDeniedException', message: lockedOut('ecr:DeleteRepositoryPolicy'), status: 400 });
  });

  test('the policy goes with its repository: a repository created again under the name has none', async () => {
    const name = 'policies/recreated';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: PULL_POLICY }));
    await t.ecr.send(new DeleteRepositoryCommand({ repositoryName: name }));
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    assert.equal((await refusal(t.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name })))).name, 'RepositoryPolicyNotFoundException');
  });
});

describe('registry policy', () => {
  let t: EcrTestApp;
  let account: string;

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  const replication = (acct: string): string => JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'ReplicationAccess', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER_ACCOUNT}:root` }, Action: ['ecr:CreateRepository', 'ecr:ReplicateImage'], Resource: `arn:aws:ecr:us-east-1:${acct}:repository/*` }],
  });

  test('put, get, replace, delete returning the policy; then RegistryPolicyNotFoundException', async () => {
    const notFound = { name: 'RegistryPolicyNotFoundException', message: `Registry policy does not exist in the registry with id '${account}'`, status: 400 };
    assert.deepEqual(await refusal(t.ecr.send(new GetRegistryPolicyCommand({}))), notFound);
    const text = replication(account);
    const put = await t.ecr.send(new PutRegistryPolicyCommand({ policyText: text }));
    assert.deepEqual({ registryId: put.registryId, policyText: put.policyText }, { registryId: account, policyText: text });
    assert.equal((await t.ecr.send(new GetRegistryPolicyCommand({}))).policyText, text);
    const pull = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: '*' }] });
    await t.ecr.send(new PutRegistryPolicyCommand({ policyText: pull }));
    const del = await t.ecr.send(new DeleteRegistryPolicyCommand({}));
    assert.deepEqual({ registryId: del.registryId, policyText: del.policyText }, { registryId: account, policyText: pull });
    assert.deepEqual(await refusal(t.ecr.send(new GetRegistryPolicyCommand({}))), notFound);
    assert.deepEqual(await refusal(t.ecr.send(new DeleteRegistryPolicyCommand({}))), notFound);
  });

  test('scope V1 grants only replication, imports and repository creation; V2 any action of ECR; a refusal keeps the policy in place', async () => {
    const text = replication(account);
    await t.ecr.send(new PutRegistryPolicyCommand({ policyText: text }));
    const pull = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Pull', Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: ['ecr:BatchGetImage'], Resource: '*' }] });
    await t.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V1' }));
    try {
      const r = await refusal(t.ecr.send(new PutRegistryPolicyCommand({ policyText: pull })));
      assert.equal(r.name, 'InvalidParameterException');
      assert.match(r.message, /^Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided: Statement\[0\]: ecr:BatchGetImage cannot be granted by a registry policy of scope V1/);
      assert.equal((await t.ecr.send(new GetRegistryPolicyCommand({}))).policyText, text);
      const all = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: 'ecr:*', Resource: '*' }] });
      await t.ecr.send(new PutRegistryPolicyCommand({ policyText: all }));
      assert.equal((await t.ecr.send(new GetRegistryPolicyCommand({}))).policyText, all);
    } finally {
      await t.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V2' }));
    }
    await t.ecr.send(new PutRegistryPolicyCommand({ policyText: pull }));
    assert.equal((await t.ecr.send(new GetRegistryPolicyCommand({}))).policyText, pull);
  });

  test('an invalid registry policy is refused with the problem named', async () => {
    const before = (await t.ecr.send(new GetRegistryPolicyCommand({}))).policyText;
    for (const [policyText, problem] of [
      ['{', /JSON/i],
      [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:ReplicateImage', Resource: '*' }] }), /Principal/],
      [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'iam:CreateUser', Resource: '*' }] }), /iam:CreateUser is not an action of Amazon ECR/],
    ] as Array<[string, RegExp]>) {
      const r = await refusal(t.ecr.send(new PutRegistryPolicyCommand({ policyText })));
      assert.equal(r.name, 'InvalidParameterException');
      assert.match(r.message, /^Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided: /);
      assert.match(r.message, problem);
      assert.equal((await t.ecr.send(new GetRegistryPolicyCommand({}))).policyText, before);
    }
  });
});
