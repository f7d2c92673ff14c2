import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { immutableTagMessage, tagExcluded, tagIsMutable, type TagMutabilityMode } from './mutability.ts';

const filters = [{ filter: 'latest' }, { filter: 'dev-*' }, { filter: '*.rc*' }];

function s(mode: TagMutabilityMode, f: ReadonlyArray<{ filter: string }> = []): { imageTagMutability: TagMutabilityMode; tagMutabilityExclusions: ReadonlyArray<{ filter: string }> } {
  return { imageTagMutability: mode, tagMutabilityExclusions: f };
}

describe('tag mutability', () => {
  test('wildcard filters: * matches any run of characters (also none), the rest literally', () => {
    const set = s('IMMUTABLE_WITH_EXCLUSION', filters);
    for (const t of ['latest', 'dev-', 'dev-abc', 'v1.rc1', '.rc', 'x.rc.y']) assert.equal(tagExcluded(set, t), true, t);
    for (const t of ['latest2', 'xlatest', 'dev', 'Dev-1', 'v1rc1', 'v1-rc1']) assert.equal(tagExcluded(set, t), false, t);
    // Regular-expression characters in a filter are literal.
    assert.equal(tagExcluded(s('MUTABLE_WITH_EXCLUSION', [{ filter: 'a.b' }]), 'axb'), false);
  });

  test('the four modes', () => {
    assert.equal(tagIsMutable(s('MUTABLE'), 'v1'), true);
    assert.equal(tagIsMutable(s('IMMUTABLE'), 'latest'), false);
    assert.equal(tagIsMutable(s('IMMUTABLE_WITH_EXCLUSION', filters), 'latest'), true);
    assert.equal(tagIsMutable(s('IMMUTABLE_WITH_EXCLUSION', filters), 'dev-7'), true);
    assert.equal(tagIsMutable(s('IMMUTABLE_WITH_EXCLUSION', filters), 'v1'), false);
    assert.equal(tagIsMutable(s('MUTABLE_WITH_EXCLUSION', filters), 'latest'), false);
    assert.equal(tagIsMutable(s('MUTABLE_WITH_EXCLUSION', filters), 'dev-7'), false);
    assert.equal(tagIsMutable(s('MUTABLE_WITH_EXCLUSION', filters), 'v1'), true);
  });

  test('the refusal names the tag and the repository', () => {
    assert.equal(
      immutableTagMessage(s('IMMUTABLE'), 'team/app', 'v1'),
      "The image tag 'v1' already exists in the 'team/app' repository and cannot be overwritten because the repository is immutable.",
    );
    assert.equal(
      immutableTagMessage(s('MUTABLE_WITH_EXCLUSION', filters), 'team/app', 'latest'),
      "The image tag 'latest' already exists in the 'team/app' repository and cannot be overwritten because the tag is immutable (imageTagMutability MUTABLE_WITH_EXCLUSION).",
    );
  });
});
