import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from '../core/errors.ts';
import { DOC_EXAMPLES } from './examples.fixture.ts';
import { LifecyclePolicyError, MAX_POLICY_TEXT_LENGTH, MAX_RULES, parseLifecyclePolicy } from './index.ts';

type Doc = Record<string, unknown>;

const PREFIX = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";

/** A valid rule (keep one image of any kind) with parts replaced; `undefined` removes a key. */
function rule(p: number, over: { selection?: Doc; action?: Doc; [k: string]: unknown } = {}): Doc {
  const { selection, action, ...rest } = over;
  const out: Doc = {
    rulePriority: p,
    selection: strip({ tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1, ...selection }),
    action: strip({ type: 'expire', ...action }),
    ...rest,
  };
  return strip(out);
}

function strip(o: Doc): Doc {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const tagged = (p: number, selection: Doc = {}, more: Doc = {}): Doc => rule(p, { selection: { tagStatus: 'tagged', ...selection }, ...more });
const text = (rules: unknown[]): string => JSON.stringify({ rules });

function refusal(t: string): LifecyclePolicyError {
  try {
    parseLifecyclePolicy(t);
  } catch (e) {
    assert.ok(e instanceof LifecyclePolicyError, `not a LifecyclePolicyError: ${String(e)}`);
    return e;
  }
  assert.fail(`accepted: ${t.slice(0, 300)}`);
}

describe('parseLifecyclePolicy: the documented examples', () => {
  for (const [name, doc] of Object.entries(DOC_EXAMPLES)) {
    test(`accepts ${name}`, () => {
      const policy = parseLifecyclePolicy(JSON.stringify(doc, null, 4));
      assert.equal(policy.rules.length, doc.rules.length);
      for (const r of policy.rules) {
        const src = doc.rules.find((d) => d['rulePriority'] === r.rulePriority) as { selection: Doc; action: Doc } | undefined;
        assert.ok(src);
        assert.equal(r.selection.countType, src.selection['countType']);
        assert.equal(r.selection.countNumber, src.selection['countNumber']);
        assert.equal(r.selection.storageClass, src.selection['storageClass'] ?? 'standard');
        assert.equal(r.action.type, src.action['type']);
      }
    });
  }

  test('the parsed shape: defaults filled in, rules sorted by rulePriority, description kept', () => {
    const policy = parseLifecyclePolicy(
      text([
        rule(7, { selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 } }),
        tagged(3, { tagPatternList: ['prod*'], countType: 'sinceImagePulled', countUnit: 'days', countNumber: 10 }, { action: { type: 'transition', targetStorageClass: 'archive' }, description: 'archive prod' }),
        rule(5),
      ]),
    );
    assert.deepEqual(policy, {
      rules: [
        {
          rulePriority: 3,
          description: 'archive prod',
          selection: { tagStatus: 'tagged', tagPatternList: ['prod*'], storageClass: 'standard', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 10 },
          action: { type: 'transition', targetStorageClass: 'archive' },
        },
        { rulePriority: 5, selection: { tagStatus: 'any', storageClass: 'standard', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
        { rulePriority: 7, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: { type: 'expire' } },
      ],
    });
  });

  test('the wildcard limit, with the documented valid and invalid lists', () => {
    parseLifecyclePolicy(text([tagged(1, { tagPatternList: ['*test*1*2*3', 'test*1*2*3*'] })]));
    assert.equal(refusal(text([tagged(1, { tagPatternList: ['test*1*2*3*4*5*6'] })])).reason, 'rule with rulePriority 1: selection.tagPatternList entry "test*1*2*3*4*5*6" has 6 wildcards; at most 4 are allowed');
    assert.equal(refusal(text([tagged(1, { tagPatternList: ['*a*b*c*d*'] })])).reason, 'rule with rulePriority 1: selection.tagPatternList entry "*a*b*c*d*" has 5 wildcards; at most 4 are allowed');
  });

  test('per storage class: an any rule may precede archive rules, and each class may have its own untagged rule', () => {
    parseLifecyclePolicy(
      text([
        rule(1, { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 3 }, action: { type: 'transition', targetStorageClass: 'archive' } }),
        rule(2, { selection: { tagStatus: 'untagged', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 } }),
        rule(3, { selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 5 } }),
        rule(4, { selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 400 } }),
      ]),
    );
  });

  test('a prefix list and a pattern list with the same strings are different selections', () => {
    parseLifecyclePolicy(text([tagged(1, { tagPrefixList: ['prod'] }), tagged(2, { tagPatternList: ['prod'] })]));
  });

  test('the size limits: 30,720 characters and 50 rules', () => {
    const base = text([rule(1)]);
    const padded = base.slice(0, -1) + ' '.repeat(MAX_POLICY_TEXT_LENGTH - base.length) + '}';
    assert.equal(padded.length, MAX_POLICY_TEXT_LENGTH);
    parseLifecyclePolicy(padded);
    const over = padded.slice(0, -1) + ' }';
    assert.equal(refusal(over).reason, 'the policy text has 30721 characters; at most 30720 are allowed');

    const fifty = Array.from({ length: MAX_RULES }, (_, i) => tagged(i + 1, { tagPrefixList: [`t${String(i)}`] }));
    assert.equal(parseLifecyclePolicy(text(fifty)).rules.length, 50);
    assert.equal(refusal(text([...fifty, tagged(51, { tagPrefixList: ['t51'] })])).reason, 'rules has 51 rules; at most 50 are allowed');
  });
});

describe('parseLifecyclePolicy: refusals', () => {
  test('the error is an InvalidParameterException with the whole ECR message, naming the rule', () => {
    const e = refusal(text([rule(1), rule(4, { selection: { countUnit: 'days' } })]));
    assert.ok(e instanceof RegistryError);
    assert.equal(e.ecrType, 'InvalidParameterException');
    assert.equal(e.ecrStatus, 400);
    assert.equal(e.message, `${PREFIX}rule with rulePriority 4: selection.countUnit must be omitted when countType is imageCountMoreThan'`);
    assert.equal(e.reason, 'rule with rulePriority 4: selection.countUnit must be omitted when countType is imageCountMoreThan');
    assert.equal(e.ruleIndex, 1);
    assert.equal(e.rulePriority, 4);
  });

  test('a rule without a usable rulePriority is named by its index', () => {
    const e = refusal(text([rule(1), { selection: {}, action: {} }]));
    assert.equal(e.message, `${PREFIX}rules[1]: rulePriority is required'`);
    assert.equal(e.ruleIndex, 1);
    assert.equal(e.rulePriority, undefined);
  });

  const T = { type: 'transition', targetStorageClass: 'archive' };
  const cases: Array<[string, string, string]> = [
    // The document.
    ['not JSON', '{"rules": [', 'Could not map policyString into LifecyclePolicy.'],
    ['a JSON array', '[]', 'Could not map policyString into LifecyclePolicy.'],
    ['a JSON string', '"rules"', 'Could not map policyString into LifecyclePolicy.'],
    ['an unknown top-level key', JSON.stringify({ rules: [rule(1)], version: 1 }), 'unknown property "version" at the top level; a policy has only "rules"'],
    ['no rules', '{}', 'rules is required'],
    ['rules not a list', '{"rules": {}}', 'rules must be a list of rules, found {}'],
    ['an empty rule list', text([]), 'rules must have at least 1 rule'],
    // The rule.
    ['a rule that is not an object', text([1]), 'rules[0]: a rule must be a JSON object, found 1'],
    ['no rulePriority', text([rule(1), rule(2, { rulePriority: undefined })]), 'rules[1]: rulePriority is required'],
    ['a string rulePriority', text([rule(1, { rulePriority: '1' })]), 'rules[0]: rulePriority must be an integer; found "1"'],
    ['a fractional rulePriority', text([rule(1, { rulePriority: 1.5 })]), 'rules[0]: rulePriority must be an integer; found 1.5'],
    ['rulePriority 0', text([rule(0)]), 'rules[0]: rulePriority must be at least 1; found 0'],
    ['a duplicate rulePriority', text([tagged(2, { tagPrefixList: ['a'] }), tagged(2, { tagPrefixList: ['b'] })]), 'rulePriority 2 is used by more than one rule (rules[0] and rules[1]); every rule needs a unique rulePriority'],
    ['an unknown rule key', text([rule(1, { name: 'x' })]), 'rule with rulePriority 1: unknown property "name"; allowed: rulePriority, description, selection, action'],
    ['a description that is not a string', text([rule(1, { description: 5 })]), 'rule with rulePriority 1: description must be a string; found 5'],
    ['a null description', text([rule(1, { description: null })]), 'rule with rulePriority 1: description must be a string; found null'],
    // The selection.
    ['no selection', text([{ rulePriority: 1, action: { type: 'expire' } }]), 'rule with rulePriority 1: selection is required'],
    ['a selection that is not an object', text([{ rulePriority: 1, selection: [], action: { type: 'expire' } }]), 'rule with rulePriority 1: selection must be a JSON object, found []'],
    ['an unknown selection key', text([rule(1, { selection: { tagList: ['a'] } })]), 'rule with rulePriority 1: unknown property "selection.tagList"; allowed: selection.tagStatus, selection.tagPatternList, selection.tagPrefixList, selection.storageClass, selection.countType, selection.countUnit, selection.countNumber'],
    ['no tagStatus', text([rule(1, { selection: { tagStatus: undefined } })]), 'rule with rulePriority 1: selection.tagStatus is required'],
    ['an upper-case tagStatus', text([rule(1, { selection: { tagStatus: 'TAGGED' } })]), 'rule with rulePriority 1: selection.tagStatus must be one of tagged, untagged, any; found "TAGGED"'],
    ['tagged without a list', text([tagged(1)]), 'rule with rulePriority 1: Must specify tagPrefixList or tagPatternList when tagStatus is tagged'],
    ['tagged with both lists', text([tagged(1, { tagPrefixList: ['a'], tagPatternList: ['a*'] })]), 'rule with rulePriority 1: specify tagPrefixList or tagPatternList, not both'],
    ['an empty prefix list', text([tagged(1, { tagPrefixList: [] })]), 'rule with rulePriority 1: selection.tagPrefixList must not be empty'],
    ['an empty pattern list', text([tagged(1, { tagPatternList: [] })]), 'rule with rulePriority 1: selection.tagPatternList must not be empty'],
    ['a list with a number', text([tagged(1, { tagPatternList: ['a', 1] })]), 'rule with rulePriority 1: selection.tagPatternList must be a list of strings, found ["a",1]'],
    ['a list that is a string', text([tagged(1, { tagPrefixList: 'prod' })]), 'rule with rulePriority 1: selection.tagPrefixList must be a list of strings, found "prod"'],
    ['an empty prefix', text([tagged(1, { tagPrefixList: ['prod', ''] })]), 'rule with rulePriority 1: selection.tagPrefixList has an empty entry'],
    ['a wildcard in a prefix', text([tagged(1, { tagPrefixList: ['prod*'] })]), `rule with rulePriority 1: selection.tagPrefixList entry "prod*" has a character a tag cannot have (allowed: letters, digits, '.', '_' and '-')`],
    ['a slash in a pattern', text([tagged(1, { tagPatternList: ['release/*'] })]), `rule with rulePriority 1: selection.tagPatternList entry "release/*" has a character a tag cannot have (allowed: letters, digits, '.', '_', '-' and '*' as a wildcard)`],
    ['a list with untagged', text([rule(1, { selection: { tagStatus: 'untagged', tagPrefixList: ['a'] } })]), 'rule with rulePriority 1: selection.tagPrefixList is only allowed when tagStatus is tagged, not untagged'],
    ['a list with any', text([rule(1, { selection: { tagStatus: 'any', tagPatternList: ['a*'] } })]), 'rule with rulePriority 1: selection.tagPatternList is only allowed when tagStatus is tagged, not any'],
    ['an unknown storageClass', text([rule(1, { selection: { storageClass: 'ARCHIVE' } })]), 'rule with rulePriority 1: selection.storageClass must be one of standard, archive; found "ARCHIVE"'],
    ['a null storageClass', text([rule(1, { selection: { storageClass: null } })]), 'rule with rulePriority 1: selection.storageClass must be one of standard, archive; found null'],
    ['no countType', text([rule(1, { selection: { countType: undefined } })]), 'rule with rulePriority 1: selection.countType is required'],
    ['an unknown countType', text([rule(1, { selection: { countType: 'sinceImageCreated' } })]), 'rule with rulePriority 1: selection.countType must be one of imageCountMoreThan, sinceImagePushed, sinceImagePulled, sinceImageTransitioned; found "sinceImageCreated"'],
    ['a countUnit with imageCountMoreThan', text([rule(1, { selection: { countUnit: 'days' } })]), 'rule with rulePriority 1: selection.countUnit must be omitted when countType is imageCountMoreThan'],
    ['no countUnit with sinceImagePushed', text([rule(1, { selection: { countType: 'sinceImagePushed' } })]), 'rule with rulePriority 1: selection.countUnit is required when countType is sinceImagePushed'],
    ['no countUnit with sinceImagePulled', text([rule(1, { selection: { countType: 'sinceImagePulled' }, action: T })]), 'rule with rulePriority 1: selection.countUnit is required when countType is sinceImagePulled'],
    ['countUnit hours', text([rule(1, { selection: { countType: 'sinceImagePushed', countUnit: 'hours' } })]), 'rule with rulePriority 1: selection.countUnit must be days; found "hours"'],
    ['no countNumber', text([rule(1, { selection: { countNumber: undefined } })]), 'rule with rulePriority 1: selection.countNumber is required'],
    ['countNumber 0', text([rule(1, { selection: { countNumber: 0 } })]), 'rule with rulePriority 1: selection.countNumber must be at least 1; found 0'],
    ['a negative countNumber', text([rule(1, { selection: { countNumber: -3 } })]), 'rule with rulePriority 1: selection.countNumber must be at least 1; found -3'],
    ['a fractional countNumber', text([rule(1, { selection: { countNumber: 2.5 } })]), 'rule with rulePriority 1: selection.countNumber must be an integer; found 2.5'],
    ['a string countNumber', text([rule(1, { selection: { countNumber: '5' } })]), 'rule with rulePriority 1: selection.countNumber must be an integer; found "5"'],
    // The storage classes.
    ['sinceImageTransitioned in the standard class', text([rule(1, { selection: { countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 } })]), 'rule with rulePriority 1: countType sinceImageTransitioned needs selection.storageClass archive'],
    [
      'sinceImageTransitioned under 90 days',
      text([rule(1, { selection: { storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 89 } })]),
      'rule with rulePriority 1: selection.countNumber must be at least 90 when countType is sinceImageTransitioned (archived images stay in the archive at least 90 days); found 89',
    ],
    ['imageCountMoreThan in the archive class', text([rule(1, { selection: { storageClass: 'archive' } })]), 'rule with rulePriority 1: selection.storageClass archive can only be used with countType sinceImageTransitioned, not imageCountMoreThan'],
    ['a transition out of the archive', text([rule(1, { selection: { storageClass: 'archive', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 5 }, action: T })]), 'rule with rulePriority 1: selection.storageClass archive can only be used with countType sinceImageTransitioned, not sinceImagePushed'],
    // The action.
    ['no action', text([{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 } }]), 'rule with rulePriority 1: action is required'],
    ['an action that is not an object', text([{ ...rule(1), action: 'expire' }]), 'rule with rulePriority 1: action must be a JSON object, found "expire"'],
    ['an unknown action key', text([rule(1, { action: { days: 1 } })]), 'rule with rulePriority 1: unknown property "action.days"; allowed: action.type, action.targetStorageClass'],
    ['no action type', text([rule(1, { action: { type: undefined } })]), 'rule with rulePriority 1: action.type is required'],
    ['action delete', text([rule(1, { action: { type: 'delete' } })]), 'rule with rulePriority 1: action.type must be one of expire, transition; found "delete"'],
    ['a transition without a target', text([rule(1, { action: { type: 'transition' } })]), 'rule with rulePriority 1: action.targetStorageClass is required when action.type is transition'],
    ['a transition to an unknown class', text([rule(1, { action: { type: 'transition', targetStorageClass: 'glacier' } })]), 'rule with rulePriority 1: action.targetStorageClass must be archive; found "glacier"'],
    ['a transition to the standard class', text([rule(1, { action: { type: 'transition', targetStorageClass: 'standard' } })]), 'rule with rulePriority 1: action.targetStorageClass must be archive; found "standard"'],
    ['an expire with a target', text([rule(1, { action: { type: 'expire', targetStorageClass: 'archive' } })]), 'rule with rulePriority 1: action.targetStorageClass is only allowed when action.type is transition'],
    ['an expire with a null target', text([rule(1, { action: { type: 'expire', targetStorageClass: null } })]), 'rule with rulePriority 1: action.targetStorageClass is only allowed when action.type is transition'],
    ['sinceImagePulled with expire', text([rule(1, { selection: { countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 } })]), 'rule with rulePriority 1: countType sinceImagePulled can only be used with action.type transition'],
    [
      'sinceImageTransitioned with transition',
      text([rule(1, { selection: { storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: T })]),
      'rule with rulePriority 1: countType sinceImageTransitioned can only be used with action.type expire',
    ],
    // Across rules.
    [
      'an any rule before another standard rule',
      text([rule(1), rule(2, { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 } })]),
      'Rule for tagStatus any must have the highest rulePriority of the standard rules: rule with rulePriority 1 selects any standard image, but rule with rulePriority 2 comes after it',
    ],
    ['two any rules in one class', text([rule(3), rule(9, { selection: { countNumber: 2 } })]), 'Rule for tagStatus any must have the highest rulePriority of the standard rules: rule with rulePriority 3 selects any standard image, but rule with rulePriority 9 comes after it'],
    [
      'an any archive rule before another archive rule',
      text([
        rule(1, { selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 100 } }),
        rule(2, { selection: { tagStatus: 'untagged', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 100 } }),
      ]),
      'Rule for tagStatus any must have the highest rulePriority of the archive rules: rule with rulePriority 1 selects any archive image, but rule with rulePriority 2 comes after it',
    ],
    [
      'two untagged rules in one class',
      text([
        rule(1, { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 } }),
        rule(2, { selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 3 } }),
      ]),
      'Only one rule can select untagged images per storage class: rules with rulePriority 1 and 2 both select untagged standard images',
    ],
    ['the same prefix list twice', text([tagged(1, { tagPrefixList: ['prod'] }), tagged(2, { tagPrefixList: ['prod'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 3 })]), 'rules with rulePriority 1 and 2 select the same tags (tagPrefixList ["prod"]) among standard images; the rules of a storage class need unique tag lists'],
    ['the same pattern set in another order', text([tagged(4, { tagPatternList: ['a*', 'b*'] }), tagged(2, { tagPatternList: ['b*', 'a*'] })]), 'rules with rulePriority 2 and 4 select the same tags (tagPatternList ["a*","b*"]) among standard images; the rules of a storage class need unique tag lists'],
  ];

  for (const [name, t, reason] of cases) {
    test(name, () => {
      const e = refusal(t);
      assert.equal(e.reason, reason);
      assert.equal(e.message, `${PREFIX}${reason}'`);
    });
  }

  test('the same tag list is fine in different storage classes', () => {
    const archive = { storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 };
    parseLifecyclePolicy(text([tagged(1, { tagPrefixList: ['prod'] }), tagged(2, { tagPrefixList: ['prod'], ...archive })]));
  });
});
