// AWS's managed policies of ECR: valid identity policies that grant what their names say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from './document.ts';
import { evaluate } from './evaluate.ts';
import { MANAGED_POLICIES, managedPolicy } from './managed.ts';

const A = '111122223333';
const REPO = `arn:aws:ecr:us-east-1:${A}:repository/app`;

function allows(name: string, action: string): boolean {
  const m = managedPolicy(`arn:aws:iam::aws:policy/${name}`);
  assert.ok(m !== undefined, name);
  return evaluate({
    principal: { arn: `arn:aws:iam::${A}:user/u`, accountId: A },
    action,
    resource: { arn: REPO, accountId: A },
    context: { values: {} },
    identityPolicies: [{ name, policy: parsePolicy(m.document, 'identity') }],
    resourcePolicies: [],
  }).allowed;
}

test('the four managed policies are valid identity policies under their AWS ARNs', () => {
  assert.deepEqual(MANAGED_POLICIES.map((p) => p.arn), [
    'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
    'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
    'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess',
    'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly',
  ]);
  for (const p of MANAGED_POLICIES) assert.doesNotThrow(() => parsePolicy(p.document, 'identity'), p.name);
  assert.equal(managedPolicy('arn:aws:iam::aws:policy/AdministratorAccess'), undefined);
});

test('what each grants', () => {
  const rows: Array<[string, string, boolean]> = [
    ['AmazonEC2ContainerRegistryReadOnly', 'ecr:BatchGetImage', true],
    ['AmazonEC2ContainerRegistryReadOnly', 'ecr:DescribeImageScanFindings', true],
    ['AmazonEC2ContainerRegistryReadOnly', 'ecr:PutImage', false],
    ['AmazonEC2ContainerRegistryReadOnly', 'ecr:BatchImportUpstreamImage', false],
    ['AmazonEC2ContainerRegistryPowerUser', 'ecr:PutImage', true],
    ['AmazonEC2ContainerRegistryPowerUser', 'ecr:CompleteLayerUpload', true],
    ['AmazonEC2ContainerRegistryPowerUser', 'ecr:DeleteRepository', false],
    ['AmazonEC2ContainerRegistryPowerUser', 'ecr:SetRepositoryPolicy', false],
    ['AmazonEC2ContainerRegistryPowerUser', 'ecr:BatchDeleteImage', false],
    ['AmazonEC2ContainerRegistryFullAccess', 'ecr:DeleteRepository', true],
    ['AmazonEC2ContainerRegistryFullAccess', 'ecr:SetRepositoryPolicy', true],
    ['AmazonEC2ContainerRegistryFullAccess', 'iam:CreateUser', false],
    ['AmazonEC2ContainerRegistryPullOnly', 'ecr:BatchGetImage', true],
    ['AmazonEC2ContainerRegistryPullOnly', 'ecr:BatchImportUpstreamImage', true],
    ['AmazonEC2ContainerRegistryPullOnly', 'ecr:ListImages', false],
    ['AmazonEC2ContainerRegistryPullOnly', 'ecr:BatchCheckLayerAvailability', false],
  ];
  for (const [name, action, expected] of rows) assert.equal(allows(name, action), expected, `${name} ${action}`);
});
