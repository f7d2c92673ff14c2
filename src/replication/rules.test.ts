import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicationRuleRow } from '../meta/index.ts';
import { configurationProblem, destinationsFor, ruleCovers } from './rules.ts';

const scope = { region: 'us-east-1', accountId: '111111111111', reachable: (r: string) => r === 'us-east-1' || r === 'us-west-2' };
const dest = (region: string, registryId: string) => ({ region, registryId });

describe('replication rules', () => {
  test('a valid configuration, and no rules (replication off), have no problem', () => {
    assert.equal(configurationProblem([], scope), undefined);
    assert.equal(configurationProblem([{ destinations: [dest('us-west-2', '111111111111'), dest('us-east-1', '222222222222')], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] }], scope), undefined);
  });

  test('ECR limits and impossible destinations are problems', () => {
    const one = (d: ReturnType<typeof dest>): ReplicationRuleRow => ({ destinations: [d] });
    assert.match(configurationProblem(Array.from({ length: 11 }, () => one(dest('us-west-2', '111111111111'))), scope) ?? '', /at most 10 rules/);
    // 25 distinct destinations are fine, also spread over rules and repeated; 26 are not.
    const many = Array.from({ length: 25 }, (_, i) => dest('us-east-1', String(200000000000 + i)));
    assert.equal(configurationProblem([{ destinations: many.slice(0, 13) }, { destinations: many.slice(10) }], scope), undefined);
    assert.match(configurationProblem([{ destinations: [...many, dest('us-west-2', '111111111111')] }], scope) ?? '', /at most 25 distinct destinations, not 26/);
    assert.match(configurationProblem([one(dest('us-east-1', '111111111111'))], scope) ?? '', /source registry itself/);
    assert.match(configurationProblem([one(dest('eu-west-1', '111111111111'))], scope) ?? '', /eu-west-1 is neither/);
    assert.match(configurationProblem([{ destinations: [] }], scope) ?? '', /rule 1 has no destination/);
    assert.match(configurationProblem([{ destinations: [dest('us-west-2', '111111111111')], repositoryFilters: [{ filter: 'x', filterType: 'WILDCARD' }] }], scope) ?? '', /WILDCARD is not supported/);
  });

  test('repository filters are prefixes; a rule without filters covers every repository', () => {
    const rule: ReplicationRuleRow = { destinations: [dest('us-west-2', '111111111111')], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }, { filter: 'team-a/', filterType: 'PREFIX_MATCH' }] };
    assert.equal(ruleCovers(rule, 'prod/app'), true);
    assert.equal(ruleCovers(rule, 'production'), true, 'a prefix, not a path component');
    assert.equal(ruleCovers(rule, 'team-a/x'), true);
    assert.equal(ruleCovers(rule, 'team-ab/x'), false);
    assert.equal(ruleCovers(rule, 'dev/prod'), false);
    assert.equal(ruleCovers({ destinations: rule.destinations }, 'anything'), true);
  });

  test('the destinations of a push: every covering rule, each destination once', () => {
    const rules: ReplicationRuleRow[] = [
      { destinations: [dest('us-west-2', '111111111111')], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] },
      { destinations: [dest('us-west-2', '111111111111'), dest('us-east-1', '222222222222')] },
      { destinations: [dest('us-east-1', '333333333333')], repositoryFilters: [{ filter: 'dev', filterType: 'PREFIX_MATCH' }] },
    ];
    assert.deepEqual(destinationsFor(rules, 'prod/app'), [dest('us-west-2', '111111111111'), dest('us-east-1', '222222222222')]);
    assert.deepEqual(destinationsFor(rules, 'dev/app'), [dest('us-west-2', '111111111111'), dest('us-east-1', '222222222222'), dest('us-east-1', '333333333333')]);
    assert.deepEqual(destinationsFor([rules[0] as ReplicationRuleRow], 'other'), []);
  });
});
