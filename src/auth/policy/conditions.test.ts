// Condition operators, one table: operator, key, policy values, the request's value (undefined:
// absent), and the outcome the IAM user guide gives.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateCondition, evaluateConditions, substituteVariables, type RequestContext } from './conditions.ts';

type Row = [string, string[], string | string[] | undefined, boolean];

const K = 'test:key';
const table: Row[] = [
  // Strings: case-sensitive unless IgnoreCase; values ORed; negation is "none of them".
  ['StringEquals', ['ci'], 'ci', true],
  ['StringEquals', ['ci'], 'CI', false],
  ['StringEquals', ['a', 'ci'], 'ci', true],
  ['StringEquals', ['ci'], undefined, false],
  ['StringNotEquals', ['ci'], 'ci', false],
  ['StringNotEquals', ['a', 'b'], 'ci', true],
  ['StringNotEquals', ['ci'], undefined, true],
  ['StringEqualsIgnoreCase', ['ci'], 'CI', true],
  ['StringNotEqualsIgnoreCase', ['ci'], 'Ci', false],
  ['StringLike', ['team-*'], 'team-a', true],
  ['StringLike', ['team-?'], 'team-ab', false],
  ['StringLike', ['*.example.com'], 'a.b.example.com', true],
  ['StringLike', ['a.b'], 'axb', false],
  ['StringLike', ['Team-*'], 'team-a', false],
  ['StringNotLike', ['team-*'], 'ops', true],
  ['StringNotLike', ['team-*'], 'team-x', false],
  ['StringEqualsIfExists', ['ci'], undefined, true],
  ['StringEqualsIfExists', ['ci'], 'cd', false],
  // Numbers.
  ['NumericEquals', ['10'], '10', true],
  ['NumericEquals', ['10'], '10.0', true],
  ['NumericEquals', ['10'], 'ten', false],
  ['NumericNotEquals', ['10'], '11', true],
  ['NumericLessThan', ['10'], '9', true],
  ['NumericLessThan', ['10'], '10', false],
  ['NumericLessThanEquals', ['10'], '10', true],
  ['NumericGreaterThan', ['10'], '11', true],
  ['NumericGreaterThanEquals', ['10'], '9', false],
  ['NumericGreaterThanIfExists', ['10'], undefined, true],
  // Dates: ISO 8601 or epoch seconds, on either side.
  ['DateGreaterThan', ['2020-01-01T00:00:00Z'], '2026-12-03T10:00:00Z', true],
  ['DateGreaterThan', ['2030-01-01T00:00:00Z'], '2026-12-03T10:00:00Z', false],
  ['DateLessThan', ['2030-01-01T00:00:00Z'], '2026-12-03T10:00:00Z', true],
  ['DateLessThanEquals', ['1577836800'], '2020-01-01T00:00:00Z', true],
  ['DateEquals', ['2020-01-01T00:00:00Z'], '1577836800', true],
  ['DateNotEquals', ['2020-01-01T00:00:00Z'], '1577836801', true],
  ['DateGreaterThanEquals', ['2020-01-01'], '2019-12-31T23:59:59Z', false],
  ['DateLessThan', ['2030-01-01T00:00:00Z'], 'not a date', false],
  // Bool and binary.
  ['Bool', ['true'], 'true', true],
  ['Bool', ['false'], 'true', false],
  ['Bool', ['false'], 'FALSE', true],
  ['Bool', ['true'], undefined, false],
  ['BoolIfExists', ['true'], undefined, true],
  ['BinaryEquals', ['QmluYXJ5VmFsdWU='], 'QmluYXJ5VmFsdWU=', true],
  // Addresses: IPv4 and IPv6 CIDR, a single address.
  ['IpAddress', ['203.0.113.0/24'], '203.0.113.7', true],
  ['IpAddress', ['203.0.113.0/24'], '203.0.114.7', false],
  ['IpAddress', ['203.0.113.7'], '203.0.113.7', true],
  ['IpAddress', ['2001:db8::/32'], '2001:db8:1::1', true],
  ['IpAddress', ['2001:db8::/32'], '203.0.113.7', false],
  ['IpAddress', ['10.0.0.0/8', '203.0.113.0/24'], '10.1.2.3', true],
  ['NotIpAddress', ['203.0.113.0/24'], '198.51.100.1', true],
  ['NotIpAddress', ['203.0.113.0/24'], '203.0.113.1', false],
  ['NotIpAddress', ['203.0.113.0/24'], undefined, true],
  // ARNs: part by part, wildcards within a part.
  ['ArnLike', ['arn:aws:iam::*:role/ci-*'], 'arn:aws:iam::111122223333:role/ci-build', true],
  ['ArnLike', ['arn:aws:iam::*:role/ci-*'], 'arn:aws:iam::111122223333:user/ci-build', false],
  ['ArnEquals', ['arn:aws:iam::111122223333:root'], 'arn:aws:iam::111122223333:root', true],
  ['ArnLike', ['arn:aws:ecr:*:111122223333:repository/team/*'], 'arn:aws:ecr:us-east-1:111122223333:repository/team/app', true],
  ['ArnLike', ['arn:aws:ecr:*:111122223333:*'], 'arn:aws:ecr:us-east-1:444455556666:repository/x', false],
  ['ArnNotLike', ['arn:aws:iam::*:role/admin'], 'arn:aws:iam::111122223333:role/ci', true],
  ['ArnNotEquals', ['arn:aws:iam::111122223333:role/ci'], 'arn:aws:iam::111122223333:role/ci', false],
  // Null: "true" means the key is absent.
  ['Null', ['true'], undefined, true],
  ['Null', ['true'], 'x', false],
  ['Null', ['false'], 'x', true],
  ['Null', ['false'], undefined, false],
  // Sets (multivalued keys such as aws:TagKeys).
  ['ForAnyValue:StringEquals', ['team', 'env'], ['env', 'owner'], true],
  ['ForAnyValue:StringEquals', ['team', 'env'], ['owner'], false],
  ['ForAnyValue:StringEquals', ['team'], undefined, false],
  ['ForAnyValue:StringEquals', ['team'], [], false],
  ['ForAnyValue:StringLike', ['team*'], ['teamname', 'x'], true],
  ['ForAllValues:StringEquals', ['team', 'env'], ['env', 'team'], true],
  ['ForAllValues:StringEquals', ['team', 'env'], ['env', 'owner'], false],
  ['ForAllValues:StringEquals', ['team'], undefined, true],
  ['ForAllValues:StringEquals', ['team'], [], true],
  ['ForAnyValue:StringNotEquals', ['team'], ['team', 'env'], true],
  ['ForAllValues:StringNotEquals', ['team'], ['env', 'owner'], true],
  ['ForAllValues:StringNotEquals', ['team'], ['env', 'team'], false],
  ['ForAnyValue:StringEqualsIgnoreCase', ['TEAM'], ['team'], true],
  // A multivalued key under a single-valued operator: any value matches (negated: none does).
  ['StringEquals', ['b'], ['a', 'b'], true],
  ['StringNotEquals', ['b'], ['a', 'b'], false],
];

describe('condition operators', () => {
  for (const [operator, values, request, expected] of table) {
    test(`${operator} ${JSON.stringify(values)} against ${JSON.stringify(request)} is ${expected}`, () => {
      const ctx: RequestContext = { values: { [K]: request } };
      assert.equal(evaluateCondition({ operator, key: K, values }, ctx), expected);
    });
  }

  test('condition keys are case-insensitive, values are not', () => {
    const ctx: RequestContext = { values: { 'aws:SourceIp': '10.0.0.1', 'aws:username': 'Alice' } };
    assert.equal(evaluateCondition({ operator: 'IpAddress', key: 'AWS:SOURCEIP', values: ['10.0.0.0/8'] }, ctx), true);
    assert.equal(evaluateCondition({ operator: 'StringEquals', key: 'aws:UserName', values: ['alice'] }, ctx), false);
  });

  test('every condition must hold: operators ANDed, keys ANDed', () => {
    const ctx: RequestContext = { values: { a: '1', b: '2' } };
    const ok = { operator: 'StringEquals', key: 'a', values: ['1'] };
    assert.equal(evaluateConditions([ok, { operator: 'StringEquals', key: 'b', values: ['2'] }], ctx), true);
    assert.equal(evaluateConditions([ok, { operator: 'StringEquals', key: 'b', values: ['3'] }], ctx), false);
    assert.equal(evaluateConditions([], ctx), true);
  });

  test('policy variables in condition values', () => {
    const ctx: RequestContext = { values: { 'aws:username': 'alice', 'aws:PrincipalTag/team': 'red', 'test:owner': 'alice' } };
    assert.equal(evaluateCondition({ operator: 'StringEquals', key: 'test:owner', values: ['${aws:username}'] }, ctx), true);
    assert.equal(evaluateCondition({ operator: 'StringEquals', key: 'test:owner', values: ['${aws:PrincipalTag/team}'] }, ctx), false);
    // A variable with no value matches nothing.
    assert.equal(evaluateCondition({ operator: 'StringEquals', key: 'test:owner', values: ['${aws:userid}'] }, ctx), false);
  });
});

describe('policy variables', () => {
  const ctx: RequestContext = { values: { 'aws:username': 'alice', 'aws:PrincipalTag/team': 'red' } };
  const rows: Array<[string, string | undefined]> = [
    ['arn:aws:ecr:*:*:repository/${aws:username}/*', 'arn:aws:ecr:*:*:repository/alice/*'],
    ['home/${aws:PrincipalTag/team}', 'home/red'],
    ['${AWS:USERNAME}', 'alice'],
    ['${aws:userid}', undefined],
    ["${aws:userid, 'nobody'}", 'nobody'],
    ['literal ${*} ${?} ${$}', 'literal * ? $'],
    ['no variables', 'no variables'],
  ];
  for (const [text, expected] of rows) {
    test(`${text} -> ${String(expected)}`, () => {
      assert.equal(substituteVariables(text, ctx), expected);
    });
  }
});
