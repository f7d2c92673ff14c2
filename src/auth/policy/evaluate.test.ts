// The evaluation logic, one table of cases after the examples of the IAM user guide ("Policy
// evaluation logic", "Cross-account policy evaluation logic", "Determining whether a request is
// allowed or denied within an account") and the ECR user guide's repository policy examples.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, type PolicyKind } from './document.ts';
import { evaluate, type EvalPrincipal, type EvalRequest } from './evaluate.ts';

const A = '111122223333';
const B = '444455556666';
const REPO = `arn:aws:ecr:us-east-1:${A}:repository/team/app`;
const OTHER_REPO = `arn:aws:ecr:us-east-1:${A}:repository/other/app`;

const user = (name: string, account = A): EvalPrincipal => ({ arn: `arn:aws:iam::${account}:user/${name}`, accountId: account });
const root = (account = A): EvalPrincipal => ({ arn: `arn:aws:iam::${account}:root`, accountId: account, isRoot: true });
const session = (role: string, name: string, account = A): EvalPrincipal => ({ arn: `arn:aws:sts::${account}:assumed-role/${role}/${name}`, accountId: account, roleArn: `arn:aws:iam::${account}:role/${role}` });
const anonymous: EvalPrincipal = { arn: '*', accountId: '', anonymous: true };

const p = (kind: PolicyKind, ...statements: Array<Record<string, unknown>>): { name: string; policy: ReturnType<typeof parsePolicy> } => ({
  name: `${kind} policy`,
  policy: parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), kind),
});
const allow = (action: string | string[], resource: string | string[] = '*', extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Allow', Action: action, Resource: resource, ...extra });
const deny = (action: string | string[], resource: string | string[] = '*', extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Deny', Action: action, Resource: resource, ...extra });
const grant = (principal: unknown, action: string | string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Allow', Principal: principal, Action: action, ...extra });
const refuse = (principal: unknown, action: string | string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Deny', Principal: principal, Action: action, ...extra });

const READ_ONLY = allow(['ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:GetRepositoryPolicy', 'ecr:DescribeRepositories', 'ecr:ListImages', 'ecr:DescribeImages', 'ecr:BatchGetImage', 'ecr:GetLifecyclePolicy', 'ecr:GetLifecyclePolicyPreview', 'ecr:ListTagsForResource', 'ecr:DescribeImageScanFindings']);
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];

interface Case {
  name: string;
  principal: EvalPrincipal;
  action: string;
  resource?: string;
  identity?: Array<ReturnType<typeof p>>;
  resourcePolicies?: Array<ReturnType<typeof p>>;
  session?: Array<ReturnType<typeof p>>;
  boundary?: ReturnType<typeof p>;
  context?: Record<string, string | string[] | undefined>;
  expect: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
  /** The end of the reason, for denials. */
  because?: string;
}

const cases: Case[] = [
  // Within one account.
  { name: 'no policy at all: implicit deny', principal: user('ci'), action: 'ecr:PutImage', expect: 'ImplicitDeny', because: 'because no identity-based policy allows the ecr:PutImage action' },
  { name: 'an identity policy allows', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:PutImage'))], expect: 'Allow' },
  { name: 'an identity policy allows another action only', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:BatchGetImage'))], expect: 'ImplicitDeny' },
  { name: 'action wildcards', principal: user('ci'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:Batch*'))], expect: 'Allow' },
  { name: 'action names are case-insensitive', principal: user('ci'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ECR:batchgetimage'))], expect: 'Allow' },
  { name: '? matches one character', principal: user('ci'), action: 'ecr:ListImages', identity: [p('identity', allow('ecr:List?mages'))], expect: 'Allow' },
  { name: 'a wildcard of another service', principal: user('ci'), action: 'ecr:ListImages', identity: [p('identity', allow('s3:*'))], expect: 'ImplicitDeny' },
  { name: 'resource ARN wildcards match', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:PutImage', `arn:aws:ecr:*:${A}:repository/team/*`))], expect: 'Allow' },
  { name: 'resource ARN of another repository', principal: user('ci'), action: 'ecr:PutImage', resource: OTHER_REPO, identity: [p('identity', allow('ecr:PutImage', `arn:aws:ecr:*:${A}:repository/team/*`))], expect: 'ImplicitDeny' },
  { name: 'resource ARNs are case-sensitive', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:PutImage', `arn:aws:ecr:*:${A}:repository/TEAM/*`))], expect: 'ImplicitDeny' },
  { name: 'explicit deny wins over allow', principal: user('ci'), action: 'ecr:DeleteRepository', identity: [p('identity', allow('ecr:*'), deny('ecr:DeleteRepository'))], expect: 'ExplicitDeny', because: 'with an explicit deny in an identity-based policy' },
  { name: 'deny in one policy, allow in another', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*')), p('identity', deny('ecr:PutImage'))], expect: 'ExplicitDeny' },
  { name: 'NotAction allow: everything but IAM', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })], expect: 'Allow' },
  { name: 'NotAction allow does not grant the excluded', principal: user('ci'), action: 'iam:CreateUser', identity: [p('identity', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })], expect: 'ImplicitDeny' },
  { name: 'NotAction deny: deny all but ecr:Describe*', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('*'), { Effect: 'Deny', NotAction: 'ecr:Describe*', Resource: '*' })], expect: 'ExplicitDeny' },
  { name: 'NotAction deny leaves the excluded allowed', principal: user('ci'), action: 'ecr:DescribeImages', identity: [p('identity', allow('*'), { Effect: 'Deny', NotAction: 'ecr:Describe*', Resource: '*' })], expect: 'Allow' },
  { name: 'NotResource deny: everything but one repository', principal: user('ci'), action: 'ecr:PutImage', resource: OTHER_REPO, identity: [p('identity', allow('ecr:*'), { Effect: 'Deny', Action: 'ecr:*', NotResource: REPO })], expect: 'ExplicitDeny' },
  { name: 'NotResource deny spares the named repository', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*'), { Effect: 'Deny', Action: 'ecr:*', NotResource: REPO })], expect: 'Allow' },
  { name: 'the read-only managed policy reads', principal: user('reader'), action: 'ecr:BatchGetImage', identity: [p('identity', READ_ONLY)], expect: 'Allow' },
  { name: 'the read-only managed policy cannot push', principal: user('reader'), action: 'ecr:PutImage', identity: [p('identity', READ_ONLY)], expect: 'ImplicitDeny' },
  { name: 'policy variable: own repository prefix', principal: user('alice'), action: 'ecr:PutImage', resource: `arn:aws:ecr:us-east-1:${A}:repository/alice/app`, identity: [p('identity', allow('ecr:PutImage', 'arn:aws:ecr:*:*:repository/${aws:username}/*'))], context: { 'aws:username': 'alice' }, expect: 'Allow' },
  { name: 'policy variable: another user\'s prefix', principal: user('bob'), action: 'ecr:PutImage', resource: `arn:aws:ecr:us-east-1:${A}:repository/alice/app`, identity: [p('identity', allow('ecr:PutImage', 'arn:aws:ecr:*:*:repository/${aws:username}/*'))], context: { 'aws:username': 'bob' }, expect: 'ImplicitDeny' },
  { name: 'the root user needs no identity policy', principal: root(), action: 'ecr:DeleteRepository', expect: 'Allow' },
  // Resource policies within one account.
  { name: 'a repository policy naming the user grants without an identity policy', principal: user('ci'), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: `arn:aws:iam::${A}:user/ci` }, 'ecr:BatchGetImage'))], expect: 'Allow' },
  { name: 'a repository policy naming only the account delegates to identity policies', principal: user('ci'), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: A }, 'ecr:BatchGetImage'))], expect: 'ImplicitDeny', because: 'because no identity-based policy allows the ecr:BatchGetImage action' },
  { name: 'the account named and an identity allow', principal: user('ci'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:BatchGetImage'))], resourcePolicies: [p('resource', grant({ AWS: A }, 'ecr:BatchGetImage'))], expect: 'Allow' },
  { name: 'Principal "*" grants anyone of the account', principal: user('ci'), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant('*', PULL))], expect: 'Allow' },
  { name: 'a deny in the repository policy beats an identity allow', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', refuse('*', 'ecr:PutImage'))], expect: 'ExplicitDeny', because: 'with an explicit deny in a resource-based policy' },
  { name: 'a deny in the repository policy stops the root user', principal: root(), action: 'ecr:BatchDeleteImage', resourcePolicies: [p('resource', refuse('*', 'ecr:BatchDeleteImage'))], expect: 'ExplicitDeny' },
  { name: 'NotPrincipal deny: everyone but the admin role', principal: user('ci'), action: 'ecr:DeleteRepository', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', { Effect: 'Deny', NotPrincipal: { AWS: `arn:aws:iam::${A}:role/admin` }, Action: 'ecr:DeleteRepository' })], expect: 'ExplicitDeny' },
  { name: 'NotPrincipal deny spares the one named', principal: session('admin', 's1'), action: 'ecr:DeleteRepository', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', { Effect: 'Deny', NotPrincipal: { AWS: [`arn:aws:iam::${A}:role/admin`, `arn:aws:sts::${A}:assumed-role/admin/s1`] }, Action: 'ecr:DeleteRepository' })], expect: 'Allow' },
  { name: 'a policy naming a role grants its sessions', principal: session('puller', 'node-1'), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: `arn:aws:iam::${A}:role/puller` }, PULL))], expect: 'Allow' },
  { name: 'a service principal', principal: { arn: 'lambda.amazonaws.com', accountId: A, service: 'lambda.amazonaws.com' }, action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ Service: 'lambda.amazonaws.com' }, PULL))], expect: 'Allow' },
  // Across accounts: both sides.
  { name: 'cross-account: both sides allow', principal: user('ci', B), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:BatchGetImage'))], resourcePolicies: [p('resource', grant({ AWS: B }, PULL))], expect: 'Allow' },
  { name: 'cross-account: resource side missing', principal: user('ci', B), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], expect: 'ImplicitDeny', because: 'because no resource-based policy allows the ecr:BatchGetImage action' },
  { name: 'cross-account: identity side missing', principal: user('ci', B), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: B }, PULL))], expect: 'ImplicitDeny', because: 'because no identity-based policy allows the ecr:BatchGetImage action' },
  { name: 'cross-account: the resource policy names the user, still needs the identity side', principal: user('ci', B), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: `arn:aws:iam::${B}:user/ci` }, PULL))], expect: 'ImplicitDeny' },
  { name: 'cross-account: the root of the other account', principal: root(B), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: B }, PULL))], expect: 'Allow' },
  { name: 'cross-account: a grant to a third account', principal: root(B), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: '999988887777' }, PULL))], expect: 'ImplicitDeny' },
  { name: 'cross-account: an action not granted', principal: root(B), action: 'ecr:PutImage', resourcePolicies: [p('resource', grant({ AWS: B }, PULL))], expect: 'ImplicitDeny' },
  { name: 'cross-account: a deny in the identity policy', principal: user('ci', B), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'), deny('ecr:*', `arn:aws:ecr:*:${A}:*`))], resourcePolicies: [p('resource', grant('*', PULL))], expect: 'ExplicitDeny' },
  { name: 'cross-account: Principal "*" still needs the identity side', principal: user('ci', B), action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant('*', PULL))], expect: 'ImplicitDeny' },
  { name: 'cross-account: aws:PrincipalAccount condition', principal: user('ci', B), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', grant('*', PULL, { Condition: { StringEquals: { 'aws:PrincipalAccount': [B] } } }))], expect: 'Allow' },
  { name: 'cross-account: aws:PrincipalAccount condition not met', principal: user('ci', '999988887777'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', grant('*', PULL, { Condition: { StringEquals: { 'aws:PrincipalAccount': [B] } } }))], expect: 'ImplicitDeny' },
  // Anonymous requests.
  { name: 'anonymous: a public repository', principal: anonymous, action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant('*', PULL))], expect: 'Allow' },
  { name: 'anonymous: {"AWS": "*"} is the same', principal: anonymous, action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: '*' }, PULL))], expect: 'Allow' },
  { name: 'anonymous: only the granted actions', principal: anonymous, action: 'ecr:PutImage', resourcePolicies: [p('resource', grant('*', PULL))], expect: 'ImplicitDeny' },
  { name: 'anonymous: a private repository', principal: anonymous, action: 'ecr:BatchGetImage', resourcePolicies: [p('resource', grant({ AWS: A }, PULL))], expect: 'ImplicitDeny' },
  { name: 'anonymous: no policy', principal: anonymous, action: 'ecr:BatchGetImage', expect: 'ImplicitDeny', because: 'because no resource-based policy allows the ecr:BatchGetImage action' },
  // Conditions.
  { name: 'aws:SourceIp deny outside the office network', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*'), deny('*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '203.0.113.0/24'] } } }))], context: { 'aws:SourceIp': '198.51.100.7' }, expect: 'ExplicitDeny' },
  { name: 'aws:SourceIp inside the office network', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*'), deny('*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '203.0.113.0/24'] } } }))], context: { 'aws:SourceIp': '203.0.113.9' }, expect: 'Allow' },
  { name: 'aws:SecureTransport false is denied', principal: user('ci'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', refuse('*', 'ecr:*', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } }))], context: { 'aws:SecureTransport': 'false' }, expect: 'ExplicitDeny' },
  { name: 'aws:SecureTransport true passes', principal: user('ci'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', refuse('*', 'ecr:*', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } }))], context: { 'aws:SecureTransport': 'true' }, expect: 'Allow' },
  { name: 'aws:CurrentTime inside the window', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*', '*', { Condition: { DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, DateLessThan: { 'aws:CurrentTime': '2027-01-01T00:00:00Z' } } }))], context: { 'aws:CurrentTime': '2026-12-03T10:00:00Z' }, expect: 'Allow' },
  { name: 'aws:CurrentTime after the window', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*', '*', { Condition: { DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, DateLessThan: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } } }))], context: { 'aws:CurrentTime': '2026-12-03T10:00:00Z' }, expect: 'ImplicitDeny' },
  { name: 'aws:PrincipalTag/team matches ecr:ResourceTag/team', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*', '*', { Condition: { StringEquals: { 'ecr:ResourceTag/team': '${aws:PrincipalTag/team}' } } }))], context: { 'aws:PrincipalTag/team': 'red', 'ecr:ResourceTag/team': 'red' }, expect: 'Allow' },
  { name: 'aws:PrincipalTag/team differs', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*', '*', { Condition: { StringEquals: { 'ecr:ResourceTag/team': '${aws:PrincipalTag/team}' } } }))], context: { 'aws:PrincipalTag/team': 'blue', 'ecr:ResourceTag/team': 'red' }, expect: 'ImplicitDeny' },
  { name: 'aws:TagKeys: only allowed tag keys (ForAllValues)', principal: user('ci'), action: 'ecr:TagResource', identity: [p('identity', allow('ecr:TagResource', '*', { Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } } }))], context: { 'aws:TagKeys': ['env'] }, expect: 'Allow' },
  { name: 'aws:TagKeys: a key not allowed', principal: user('ci'), action: 'ecr:TagResource', identity: [p('identity', allow('ecr:TagResource', '*', { Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } } }))], context: { 'aws:TagKeys': ['env', 'cost'] }, expect: 'ImplicitDeny' },
  { name: 'aws:TagKeys: deny any protected key (ForAnyValue)', principal: user('ci'), action: 'ecr:UntagResource', identity: [p('identity', allow('ecr:*'), deny('ecr:UntagResource', '*', { Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': ['protected*'] } } }))], context: { 'aws:TagKeys': ['env', 'protected-by'] }, expect: 'ExplicitDeny' },
  { name: 'StringLikeIfExists with the key absent', principal: user('ci'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*', '*', { Condition: { StringLikeIfExists: { 'ecr:ResourceTag/team': 'red' } } }))], expect: 'Allow' },
  { name: 'Null: deny requests without a tag', principal: user('ci'), action: 'ecr:CreateRepository', identity: [p('identity', allow('ecr:*'), deny('ecr:CreateRepository', '*', { Condition: { Null: { 'aws:RequestTag/team': 'true' } } }))], expect: 'ExplicitDeny' },
  { name: 'Null: a request with the tag', principal: user('ci'), action: 'ecr:CreateRepository', identity: [p('identity', allow('ecr:*'), deny('ecr:CreateRepository', '*', { Condition: { Null: { 'aws:RequestTag/team': 'true' } } }))], context: { 'aws:RequestTag/team': 'red' }, expect: 'Allow' },
  { name: 'aws:PrincipalArn ArnLike in a repository policy', principal: session('ci-build', 'job-9', B), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], resourcePolicies: [p('resource', grant('*', PULL, { Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${B}:role/ci-*` } } }))], expect: 'Allow' },
  // Sessions and boundaries limit identity grants.
  { name: 'a session policy limits the role', principal: session('dev', 's'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*'))], session: [p('session', allow(PULL))], expect: 'ImplicitDeny', because: 'because no session policy allows the ecr:PutImage action' },
  { name: 'a session policy that allows', principal: session('dev', 's'), action: 'ecr:BatchGetImage', identity: [p('identity', allow('ecr:*'))], session: [p('session', allow(PULL))], expect: 'Allow' },
  { name: 'a session policy cannot add to the role', principal: session('dev', 's'), action: 'ecr:PutImage', identity: [p('identity', allow(PULL))], session: [p('session', allow('ecr:*'))], expect: 'ImplicitDeny', because: 'because no identity-based policy allows the ecr:PutImage action' },
  { name: 'a deny in a session policy', principal: session('dev', 's'), action: 'ecr:PutImage', identity: [p('identity', allow('ecr:*'))], session: [p('session', allow('*'), deny('ecr:PutImage'))], expect: 'ExplicitDeny', because: 'with an explicit deny in a session policy' },
  { name: 'a permissions boundary limits', principal: user('ci'), action: 'ecr:DeleteRepository', identity: [p('identity', allow('ecr:*'))], boundary: p('identity', READ_ONLY), expect: 'ImplicitDeny', because: 'because no permissions boundary allows the ecr:DeleteRepository action' },
  { name: 'within the permissions boundary', principal: user('ci'), action: 'ecr:ListImages', identity: [p('identity', allow('ecr:*'))], boundary: p('identity', READ_ONLY), expect: 'Allow' },
  { name: 'a repository policy naming the user is not limited by the boundary', principal: user('ci'), action: 'ecr:PutImage', resourcePolicies: [p('resource', grant({ AWS: `arn:aws:iam::${A}:user/ci` }, 'ecr:PutImage'))], boundary: p('identity', READ_ONLY), expect: 'Allow' },
];

describe('policy evaluation', () => {
  for (const c of cases) {
    test(c.name, () => {
      const req: EvalRequest = {
        principal: c.principal,
        action: c.action,
        resource: { arn: c.resource ?? REPO, accountId: A },
        context: { values: c.context ?? {} },
        identityPolicies: c.identity ?? [],
        resourcePolicies: c.resourcePolicies ?? [],
        ...(c.session !== undefined ? { sessionPolicies: c.session } : {}),
        ...(c.boundary !== undefined ? { permissionsBoundary: c.boundary } : {}),
      };
      const r = evaluate(req);
      assert.equal(r.decision, c.expect, r.reason);
      assert.equal(r.allowed, c.expect === 'Allow');
      if (c.expect !== 'Allow') {
        const who = c.principal.anonymous === true ? 'Anonymous users are' : `User: ${c.principal.arn} is`;
        assert.ok(r.reason.startsWith(`${who} not authorized to perform: ${c.action} on resource: ${c.resource ?? REPO} `), r.reason);
        if (c.because !== undefined) assert.ok(r.reason.endsWith(c.because), r.reason);
      }
    });
  }

  test('the reason names the statement that decided', () => {
    const r = evaluate({
      principal: user('ci'),
      action: 'ecr:PutImage',
      resource: { arn: REPO, accountId: A },
      context: { values: {} },
      identityPolicies: [{ name: 'CiPush', policy: parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Push', Effect: 'Allow', Action: 'ecr:PutImage', Resource: '*' }] }), 'identity') }],
      resourcePolicies: [],
    });
    assert.deepEqual(r.matched, { policy: 'CiPush', sid: 'Push', effect: 'Allow' });
    assert.match(r.reason, /CiPush \(statement Push\)/);
  });
});
