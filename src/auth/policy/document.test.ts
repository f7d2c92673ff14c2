// Policy documents: what AWS accepts is parsed into the normalised form; what it refuses is refused
// with a message naming the statement and the problem.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, PolicySyntaxError, type PolicyKind } from './document.ts';

const doc = (statement: unknown, extra: Record<string, unknown> = {}): string => JSON.stringify({ Version: '2012-10-17', Statement: statement, ...extra });

describe('parsePolicy accepts', () => {
  test('a statement object or array; strings or arrays; Version defaults to 2008-10-17', () => {
    const one = parsePolicy(JSON.stringify({ Statement: { Effect: 'Allow', Action: 'ecr:*', Resource: '*' } }), 'identity');
    assert.deepEqual(one, { version: '2008-10-17', statements: [{ effect: 'Allow', action: ['ecr:*'], resource: ['*'] }] });
    const two = parsePolicy(doc([{ Sid: 'A', Effect: 'Deny', NotAction: ['iam:*', 'sts:*'], NotResource: 'arn:aws:ecr:*:*:repository/x' }], { Id: 'p1' }), 'identity');
    assert.deepEqual(two, { version: '2012-10-17', id: 'p1', statements: [{ sid: 'A', effect: 'Deny', notAction: ['iam:*', 'sts:*'], notResource: ['arn:aws:ecr:*:*:repository/x'] }] });
  });

  test('principals: "*", account ids as root ARNs, ARNs, services, federated', () => {
    const p = parsePolicy(doc([{ Effect: 'Allow', Principal: { AWS: ['111122223333', 'arn:aws:iam::444455556666:role/ci', '*'], Service: 'lambda.amazonaws.com', Federated: 'token.actions.githubusercontent.com' }, Action: 'ecr:BatchGetImage' }]), 'resource');
    assert.deepEqual(p.statements[0]?.principal, { AWS: ['arn:aws:iam::111122223333:root', 'arn:aws:iam::444455556666:role/ci', '*'], Service: ['lambda.amazonaws.com'], Federated: ['token.actions.githubusercontent.com'] });
    assert.equal(parsePolicy(doc([{ Effect: 'Allow', Principal: '*', Action: 'ecr:*' }]), 'resource').statements[0]?.principal, '*');
    assert.deepEqual(parsePolicy(doc([{ Effect: 'Deny', NotPrincipal: { AWS: '111122223333' }, Action: 'ecr:*' }]), 'resource').statements[0]?.notPrincipal, { AWS: ['arn:aws:iam::111122223333:root'] });
  });

  test('conditions: every operator family, prefixes and IfExists; values of any JSON scalar become strings', () => {
    const c = {
      StringEquals: { 'aws:username': 'ci' },
      'ForAnyValue:StringLike': { 'aws:TagKeys': ['team*', 'env'] },
      NumericLessThanIfExists: { 's3:max-keys': 10 },
      Bool: { 'aws:SecureTransport': false },
      Null: { 'aws:TokenIssueTime': 'true' },
      'ForAllValues:StringEqualsIgnoreCase': { 'aws:TagKeys': 'a' },
      IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] },
      DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' },
      ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/ci-*' },
    };
    const p = parsePolicy(doc([{ Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: c }]), 'identity');
    assert.equal(p.statements[0]?.condition?.length, 9);
    assert.deepEqual(p.statements[0]?.condition?.[2], { operator: 'NumericLessThanIfExists', key: 's3:max-keys', values: ['10'] });
    assert.deepEqual(p.statements[0]?.condition?.[3], { operator: 'Bool', key: 'aws:SecureTransport', values: ['false'] });
  });

  test('resource policies may omit Resource (the resource they are attached to)', () => {
    assert.equal(parsePolicy(doc([{ Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' }]), 'resource').statements[0]?.resource, undefined);
  });
});

describe('parsePolicy refuses', () => {
  const cases: Array<[string, string, PolicyKind, RegExp]> = [
    ['invalid JSON', '{"Statement": [', 'identity', /not valid JSON/],
    ['a JSON array', '[]', 'identity', /must be a JSON object/],
    ['a JSON string', '"x"', 'identity', /must be a JSON object/],
    ['an unknown top-level element', JSON.stringify({ Version: '2012-10-17', Statement: [], Extra: 1 }), 'identity', /unknown element Extra/],
    ['a bad Version', JSON.stringify({ Version: '2012-10-18', Statement: { Effect: 'Allow', Action: '*', Resource: '*' } }), 'identity', /Version must be/],
    ['no Statement', JSON.stringify({ Version: '2012-10-17' }), 'identity', /no Statement/],
    ['an empty Statement', doc([]), 'identity', /must not be empty/],
    ['a statement that is not an object', doc(['x']), 'identity', /Statement\[0\] must be an object/],
    ['a missing Effect', doc([{ Action: '*', Resource: '*' }]), 'identity', /Statement\[0\]: Effect must be Allow or Deny/],
    ['a lowercase Effect', doc([{ Effect: 'allow', Action: '*', Resource: '*' }]), 'identity', /Effect must be Allow or Deny/],
    ['neither Action nor NotAction', doc([{ Effect: 'Allow', Resource: '*' }]), 'identity', /exactly one of Action and NotAction/],
    ['both Action and NotAction', doc([{ Effect: 'Allow', Action: '*', NotAction: 'x:y', Resource: '*' }]), 'identity', /exactly one of Action and NotAction/],
    ['an action without a service', doc([{ Effect: 'Allow', Action: 'GetObject', Resource: '*' }]), 'identity', /GetObject is not an action/],
    ['an action that is not a string', doc([{ Effect: 'Allow', Action: [1], Resource: '*' }]), 'identity', /Action must be a string or an array of strings/],
    ['an empty action list', doc([{ Effect: 'Allow', Action: [], Resource: '*' }]), 'identity', /Action must not be empty/],
    ['an identity statement without Resource', doc([{ Effect: 'Allow', Action: '*' }]), 'identity', /must have Resource or NotResource/],
    ['both Resource and NotResource', doc([{ Effect: 'Allow', Action: '*', Resource: '*', NotResource: '*' }]), 'identity', /both Resource and NotResource/],
    ['a resource that is not an ARN', doc([{ Effect: 'Allow', Action: '*', Resource: 'repo/x' }]), 'identity', /repo\/x is not a resource ARN/],
    ['a Principal in an identity policy', doc([{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }]), 'identity', /identity-based policy cannot name a Principal/],
    ['a Principal in a session policy', doc([{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }]), 'session', /cannot name a Principal/],
    ['no Principal in a resource policy', doc([{ Effect: 'Allow', Action: 'ecr:*' }]), 'resource', /Statement\[0\] must have a Principal/],
    ['no Principal in a trust policy', doc([{ Effect: 'Allow', Action: 'sts:AssumeRole' }]), 'trust', /must have a Principal/],
    ['both Principal and NotPrincipal', doc([{ Effect: 'Allow', Principal: '*', NotPrincipal: '*', Action: 'ecr:*' }]), 'resource', /both Principal and NotPrincipal/],
    ['an unknown principal type', doc([{ Effect: 'Allow', Principal: { User: 'x' }, Action: 'ecr:*' }]), 'resource', /unknown principal type User/],
    ['a principal that is neither an account nor an ARN', doc([{ Effect: 'Allow', Principal: { AWS: 'alice' }, Action: 'ecr:*' }]), 'resource', /invalid principal alice/],
    ['an unknown condition operator', doc([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEqualz: { 'aws:username': 'x' } } }]), 'identity', /unknown condition operator StringEqualz/],
    ['IfExists on Null', doc([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { NullIfExists: { 'aws:username': 'true' } } }]), 'identity', /unknown condition operator NullIfExists/],
    ['a condition value that is an object', doc([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { k: { a: 1 } } } }]), 'identity', /values must be strings, numbers or booleans/],
    ['a condition that is not an object', doc([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: 'x' }]), 'identity', /Condition must be an object/],
    ['an unknown statement element', doc([{ Effect: 'Allow', Actions: '*', Resource: '*' }]), 'identity', /Statement\[0\] has an unknown element Actions/],
    ['a Sid used twice', doc([{ Sid: 'a', Effect: 'Allow', Action: '*', Resource: '*' }, { Sid: 'a', Effect: 'Deny', Action: '*', Resource: '*' }]), 'identity', /Statement\[1\]: the Sid a is used twice/],
    ['the second statement broken', doc([{ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Allow', Resource: '*' }]), 'identity', /^Statement\[1\]/],
  ];
  for (const [what, text, kind, message] of cases) {
    test(what, () => {
      assert.throws(() => parsePolicy(text, kind), (e: unknown) => e instanceof PolicySyntaxError && message.test(e.message));
    });
  }

  test('text over the maximum length, counted as written', () => {
    const text = doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]);
    assert.doesNotThrow(() => parsePolicy(text, 'identity', { maxLength: text.length }));
    assert.throws(() => parsePolicy(`${text} `, 'identity', { maxLength: text.length }), /more than the \d+ allowed/);
  });
});
