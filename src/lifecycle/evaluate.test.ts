import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DOC_EXAMPLES, type PolicyDocument } from './examples.fixture.ts';
import { DAY_MS, evaluateLifecyclePolicy, parseLifecyclePolicy, tagMatchesPattern, type LifecycleImage, type LifecyclePolicy, type LifecycleResult } from './index.ts';

// The injected clock: every test evaluates at NOW; times are given as days before it.
const NOW = Date.UTC(2025, 5, 30, 12, 0, 0);
const ago = (days: number): number => NOW - days * DAY_MS;

/** A digest per image name: the documented images A..F get a..f repeated, others a padded hex of their name. */
function digest(name: string): string {
  if (/^[A-F]$/.test(name)) return `sha256:${name.toLowerCase().repeat(64)}`;
  return `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;
}
const nameOf = new Map<string, string>();

function img(name: string, tags: string[], pushedDaysAgo: number, more: Partial<LifecycleImage> = {}): LifecycleImage {
  const d = digest(name);
  nameOf.set(d, name);
  return { digest: d, tags, pushedAt: ago(pushedDaysAgo), storageClass: 'standard', ...more };
}

const parse = (doc: PolicyDocument): LifecyclePolicy => parseLifecyclePolicy(JSON.stringify(doc));

/** The outcome as `name: action@rule` strings, in the evaluator's order. */
function outcome(policy: LifecyclePolicy, images: LifecycleImage[], now = NOW): string[] {
  return evaluateLifecyclePolicy(policy, images, now).map((r) => `${nameOf.get(r.digest) ?? r.digest}: ${r.action}@${String(r.appliedRulePriority)}`);
}

const expired = (policy: LifecyclePolicy, images: LifecycleImage[]): string[] =>
  evaluateLifecyclePolicy(policy, images, NOW)
    .filter((r) => r.action === 'expire')
    .map((r) => nameOf.get(r.digest) ?? r.digest)
    .sort();

function rules(...rs: Array<Record<string, unknown>>): LifecyclePolicy {
  return parse({ rules: rs.map((r, i) => ({ rulePriority: i + 1, action: { type: 'expire' }, ...r })) });
}

describe('evaluateLifecyclePolicy: the documented examples', () => {
  // Sample repositories and results as the examples page gives them.
  const multipleRulesRepo = (): LifecycleImage[] => [img('A', ['beta-1', 'prod-1'], 10), img('B', ['beta-2', 'prod-2'], 9), img('C', ['beta-3'], 8)];
  const multipleTagsRepoA = (): LifecycleImage[] => [
    img('A', ['alpha-1'], 12),
    img('B', ['beta-1'], 11),
    img('C', ['alpha-2', 'beta-2'], 10),
    img('D', ['alpha-3'], 4),
    img('E', ['beta-3'], 3),
    img('F', ['alpha-4', 'beta-4'], 2),
  ];
  const multipleTagsRepoB = (): LifecycleImage[] => [img('A', ['alpha-1', 'beta-1', 'gamma-1'], 10), img('B', ['alpha-2', 'beta-2'], 9), img('C', ['alpha-3', 'beta-3', 'gamma-2'], 8)];

  const cases: Array<[string, PolicyDocument, () => LifecycleImage[], string[]]> = [
    ['multiple rules, example A: prod* then beta*, image A is expired', DOC_EXAMPLES.multipleRulesA, multipleRulesRepo, ['A: expire@1']],
    ['multiple rules, example A with tagPrefixList', DOC_EXAMPLES.multipleRulesAPrefix, multipleRulesRepo, ['A: expire@1']],
    ['multiple rules, example B: beta* then prod*, images A and B are expired', DOC_EXAMPLES.multipleRulesB, multipleRulesRepo, ['A: expire@1', 'B: expire@1']],
    ['multiple rules, example B with tagPrefixList', DOC_EXAMPLES.multipleRulesBPrefix, multipleRulesRepo, ['A: expire@1', 'B: expire@1']],
    ['multiple tags in a rule, example A: only C (alpha and beta, older than 5 days)', DOC_EXAMPLES.multipleTagsA, multipleTagsRepoA, ['C: expire@1']],
    ['multiple tags in a rule, example A with tagPrefixList', DOC_EXAMPLES.multipleTagsAPrefix, multipleTagsRepoA, ['C: expire@1']],
    ['multiple tags in a rule, example B: tags are not exclusive, A and B are expired', DOC_EXAMPLES.multipleTagsB, multipleTagsRepoB, ['A: expire@1', 'B: expire@1']],
    ['multiple tags in a rule, example B with tagPrefixList', DOC_EXAMPLES.multipleTagsBPrefix, multipleTagsRepoB, ['A: expire@1', 'B: expire@1']],
    [
      'all images, example A: keep the newest of any kind, A, B and C are expired',
      DOC_EXAMPLES.allImagesA,
      () => [img('A', ['alpha-1'], 4), img('B', ['beta-1'], 3), img('C', [], 2), img('D', ['alpha-2'], 1)],
      ['A: expire@1', 'B: expire@1', 'C: expire@1'],
    ],
    [
      // D and E are both pushed a day ago; rule 3 counts the images earlier rules claimed (A, B, C,
      // E), keeps one (E wins the tie on its digest) and so expires D.
      'all images, example B: A by rule 1, B by rule 2, D by rule 3',
      DOC_EXAMPLES.allImagesB,
      () => [img('A', ['alpha-1', 'beta-1'], 4), img('B', [], 3), img('C', ['alpha-2'], 2), img('D', ['git hash'], 1), img('E', [], 1)],
      ['A: expire@1', 'B: expire@2', 'D: expire@3'],
    ],
  ];
  for (const [name, doc, repo, want] of cases) {
    test(name, () => {
      assert.deepEqual(outcome(parse(doc), repo()), want);
      // The outcome does not depend on the order the images come in.
      assert.deepEqual(outcome(parse(doc), repo().reverse()), want);
    });
  }

  // The page gives these policies without a sample repository; each repository below has an image
  // on each side of every condition.
  test('filtering on image age: prod* images pushed more than 14 days ago', () => {
    const repo = [img('prod-old', ['prod-1'], 15), img('prod-new', ['prod-2'], 13), img('production', ['production'], 30), img('dev-old', ['dev-1'], 30), img('untagged-old', [], 30), img('mixed', ['x', 'prod-3'], 20)];
    assert.deepEqual(expired(parse(DOC_EXAMPLES.imageAge), repo), ['mixed', 'prod-old', 'production']);
  });

  test('filtering on image count: one untagged image stays', () => {
    const repo = [img('u1', [], 5), img('u2', [], 4), img('u3', [], 3), img('t', ['v1'], 9)];
    assert.deepEqual(outcome(parse(DOC_EXAMPLES.imageCount), repo), ['u1: expire@1', 'u2: expire@1']);
  });

  for (const [name, doc] of [
    ['filtering on last pulled time', DOC_EXAMPLES.lastPulled],
    ['archive examples: images not pulled in 90 days', DOC_EXAMPLES.archiveNotPulled],
  ] as const) {
    test(`${name}: to the archive after 90 days without a pull (or since the push when never pulled)`, () => {
      const repo = [
        img('pulled-long-ago', ['a'], 300, { lastPulledAt: ago(91) }),
        img('pulled-lately', ['b'], 300, { lastPulledAt: ago(89) }),
        img('never-pulled-old', [], 91),
        img('never-pulled-new', [], 89),
        img('archived', ['c'], 400, { storageClass: 'archive', archivedAt: ago(200) }),
      ];
      const results = evaluateLifecyclePolicy(parse(doc), repo, NOW);
      assert.deepEqual(
        results.map((r) => [nameOf.get(r.digest), r.action, r.storageClass]),
        [
          ['pulled-long-ago', 'transition', 'standard'],
          ['never-pulled-old', 'transition', 'standard'],
        ],
      );
    });
  }

  test('filtering on archive transition time: expire images archived for more than 365 days', () => {
    const repo = [
      img('archived-long', ['a'], 900, { storageClass: 'archive', archivedAt: ago(366) }),
      img('archived-lately', ['b'], 900, { storageClass: 'archive', archivedAt: ago(364) }),
      img('standard-old', ['c'], 900),
    ];
    assert.deepEqual(
      evaluateLifecyclePolicy(parse(DOC_EXAMPLES.archiveTransitionTime), repo, NOW).map((r) => [nameOf.get(r.digest), r.action, r.storageClass]),
      [['archived-long', 'expire', 'archive']],
    );
  });

  test('archive examples: prod* images older than 30 days go to the archive', () => {
    const repo = [img('prod-old', ['prod-1'], 31), img('prod-new', ['prod-2'], 29), img('dev-old', ['dev-1'], 60), img('prod-archived', ['prod-0'], 90, { storageClass: 'archive', archivedAt: ago(50) })];
    assert.deepEqual(outcome(parse(DOC_EXAMPLES.archiveOlderThan), repo), ['prod-old: transition@1']);
  });

  test('archive examples, combining: archive after 30 days, expire after 365 days in the archive', () => {
    const repo = [
      img('new', ['v3'], 10),
      img('old', ['v2'], 45),
      img('old-untagged', [], 45),
      img('archived-a-while', ['v1'], 400, { storageClass: 'archive', archivedAt: ago(300) }),
      img('archived-long', ['v0'], 800, { storageClass: 'archive', archivedAt: ago(400) }),
    ];
    assert.deepEqual(outcome(parse(DOC_EXAMPLES.archiveThenExpire), repo), ['old: transition@1', 'old-untagged: transition@1', 'archived-long: expire@2']);
  });
});

describe('evaluateLifecyclePolicy: selection', () => {
  test('tag patterns: * matches any run of characters, the rest literally', () => {
    const yes: Array<[string, string]> = [
      ['prod*', 'prod'],
      ['prod*', 'production-team1'],
      ['*prod*', 'repo-production'],
      ['*prod*', 'prod-team'],
      ['a*b*c', 'abc'],
      ['a*b*c', 'a-b-b-c'],
      ['a*a', 'aa'],
      ['*', 'anything'],
      ['v1.2', 'v1.2'],
      ['*-sha-*', 'main-sha-abc'],
    ];
    const no: Array<[string, string]> = [
      ['prod*', 'preprod'],
      ['prod', 'production'],
      ['*prod', 'prod-1'],
      ['a*a', 'a'],
      ['a*b*c', 'acb'],
      ['v1.2', 'v1x2'],
      ['*-sha-*', 'main-sha'],
    ];
    for (const [p, t] of yes) assert.equal(tagMatchesPattern(p, t), true, `${p} ~ ${t}`);
    for (const [p, t] of no) assert.equal(tagMatchesPattern(p, t), false, `${p} !~ ${t}`);
  });

  test('a prefix matches the start of a tag; a pattern without * matches the whole tag', () => {
    const repo = [img('p', ['production'], 20), img('q', ['prod'], 20)];
    const since = { countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 };
    assert.deepEqual(expired(rules({ selection: { tagStatus: 'tagged', tagPrefixList: ['prod'], ...since } }), repo), ['p', 'q']);
    assert.deepEqual(expired(rules({ selection: { tagStatus: 'tagged', tagPatternList: ['prod'], ...since } }), repo), ['q']);
  });

  test('every entry of a tagged list must be matched, one tag may match several entries', () => {
    const policy = rules({ selection: { tagStatus: 'tagged', tagPatternList: ['prod*', '*-1'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 } });
    const repo = [img('one-tag', ['prod-1'], 5), img('two-tags', ['prod-2', 'x-1'], 5), img('half', ['prod-2'], 5), img('none', [], 5)];
    assert.deepEqual(expired(policy, repo), ['one-tag', 'two-tags']);
  });

  test('untagged means no tags at all; any means every image', () => {
    const repo = [img('tagged', ['v1'], 5), img('untagged', [], 5)];
    const since = { countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 };
    assert.deepEqual(expired(rules({ selection: { tagStatus: 'untagged', ...since } }), repo), ['untagged']);
    assert.deepEqual(expired(rules({ selection: { tagStatus: 'any', ...since } }), repo), ['tagged', 'untagged']);
  });

  test('an image exactly countNumber days old is not older than countNumber days', () => {
    const policy = rules({ selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 } });
    const repo = [img('exactly', ['a'], 7), img('a-moment-more', ['b'], 7, { pushedAt: ago(7) - 1 })];
    assert.deepEqual(expired(policy, repo), ['a-moment-more']);
    // The same images a millisecond later: both are older now.
    assert.deepEqual(
      evaluateLifecyclePolicy(policy, repo, NOW + 1).map((r) => nameOf.get(r.digest)),
      ['a-moment-more', 'exactly'],
    );
  });

  test('ties in push time: the greater digest counts as newer, whatever the input order', () => {
    const policy = rules({ selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 2 } });
    const same = ago(3);
    const repo = ['A', 'B', 'C', 'D'].map((n) => img(n, [n], 3, { pushedAt: same }));
    const orders = [repo, [...repo].reverse(), [repo[2], repo[0], repo[3], repo[1]]].map((r) => r.filter((i): i is LifecycleImage => i !== undefined));
    for (const order of orders) assert.deepEqual(outcome(policy, order), ['A: expire@1', 'B: expire@1']);
  });

  test('imageCountMoreThan keeps the newest by push time, not by digest or input order', () => {
    const policy = rules({ selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 } });
    assert.deepEqual(outcome(policy, [img('F', ['x'], 1), img('A', ['y'], 0.5), img('C', ['z'], 2)]), ['C: expire@1', 'F: expire@1']);
  });

  test('rules only see their storage class: a standard any rule neither counts nor claims archived images', () => {
    const policy = parse(DOC_EXAMPLES.archiveThenExpire);
    const keepOne = rules({ selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 } });
    const repo = [img('standard', ['a'], 5), img('archived-1', ['b'], 1, { storageClass: 'archive', archivedAt: ago(1) }), img('archived-2', ['c'], 1, { storageClass: 'archive', archivedAt: ago(1) })];
    assert.deepEqual(outcome(keepOne, repo), []);
    assert.deepEqual(outcome(policy, repo), []);
  });
});

describe('evaluateLifecyclePolicy: rules together', () => {
  test('a higher-priority rule that keeps an image still claims it', () => {
    const policy = rules(
      { selection: { tagStatus: 'tagged', tagPatternList: ['release-*'], countType: 'imageCountMoreThan', countNumber: 9999 } },
      { selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 } },
    );
    const repo = [img('release', ['release-1'], 400), img('old', ['feature'], 400), img('new', ['feature-2'], 3)];
    assert.deepEqual(outcome(policy, repo), ['old: expire@2']);
  });

  test('a lower imageCountMoreThan rule counts images a higher rule already expires', () => {
    // Rule 1 expires a and b (older than 10 days); rule 2 keeps the 2 newest of all five, so it
    // expires c, which it would keep if a and b were not counted.
    const policy = rules(
      { selection: { tagStatus: 'tagged', tagPrefixList: ['old'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 } },
      { selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 2 } },
    );
    const repo = [img('a', ['old-1'], 30), img('b', ['old-2'], 20), img('c', ['x'], 5), img('d', ['y'], 4), img('e', ['z'], 3)];
    assert.deepEqual(outcome(policy, repo), ['a: expire@1', 'b: expire@1', 'c: expire@2']);
  });

  test('the rule order in the document does not matter, rulePriority does', () => {
    const doc = DOC_EXAMPLES.multipleRulesB;
    const reversed = { rules: [...doc.rules].reverse() };
    const repo = [img('A', ['beta-1', 'prod-1'], 10), img('B', ['beta-2', 'prod-2'], 9), img('C', ['beta-3'], 8)];
    assert.deepEqual(outcome(parse(reversed), repo), outcome(parse(doc), repo));
  });

  test('results are sorted by rule, then oldest first, then digest', () => {
    const policy = rules(
      { selection: { tagStatus: 'tagged', tagPrefixList: ['x'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 } },
      { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 } },
    );
    const repo = [img('u-new', [], 2), img('x-new', ['x2'], 2), img('u-old', [], 9), img('x-old', ['x1'], 9), img('E', [], 2), img('D', [], 2)];
    assert.deepEqual(outcome(policy, repo), ['x-old: expire@1', 'x-new: expire@1', 'u-old: expire@2', 'u-new: expire@2', 'D: expire@2', 'E: expire@2']);
  });

  test('the result carries the tags (a copy) and the current storage class', () => {
    const repo = [img('a', ['t1', 't2'], 40)];
    const [r] = evaluateLifecyclePolicy(parse(DOC_EXAMPLES.archiveThenExpire), repo, NOW);
    assert.deepEqual(r, { digest: digest('a'), tags: ['t1', 't2'], action: 'transition', appliedRulePriority: 1, storageClass: 'standard' } satisfies LifecycleResult);
    r?.tags.push('changed');
    assert.deepEqual(repo[0]?.tags, ['t1', 't2']);
  });

  test('no images, no results; an image given twice is a programming error', () => {
    const policy = parse(DOC_EXAMPLES.allImagesA);
    assert.deepEqual(evaluateLifecyclePolicy(policy, [], NOW), []);
    assert.throws(() => evaluateLifecyclePolicy(policy, [img('a', [], 1), img('a', ['x'], 2)], NOW), TypeError);
  });
});

describe('evaluateLifecyclePolicy: pulls, restores and the archive', () => {
  const pulled = rules({ selection: { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 }, action: { type: 'transition', targetStorageClass: 'archive' } });

  test('sinceImagePulled: the last pull, else the restore from the archive, else the push', () => {
    const repo = [
      img('pulled-recently', ['a'], 100, { lastPulledAt: ago(5) }),
      img('never-pulled', ['b'], 100),
      img('restored-not-pulled-since', ['c'], 200, { lastPulledAt: ago(150), activatedAt: ago(60) }),
      img('restored-lately', ['d'], 200, { lastPulledAt: ago(150), activatedAt: ago(10) }),
      img('restored-and-pulled', ['e'], 200, { activatedAt: ago(100), lastPulledAt: ago(3) }),
    ];
    assert.deepEqual(outcome(pulled, repo), ['never-pulled: transition@1', 'restored-not-pulled-since: transition@1']);
  });

  test('a restored image is ordered and aged by its restore time', () => {
    const byAge = rules({ selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: { type: 'transition', targetStorageClass: 'archive' } });
    const restored = img('restored', ['a'], 365, { activatedAt: ago(2) });
    assert.deepEqual(outcome(byAge, [restored, img('old', ['b'], 40)]), ['old: transition@1']);
    const keepOne = rules({ selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 } });
    assert.deepEqual(outcome(keepOne, [restored, img('newer-push', ['c'], 10)]), ['newer-push: expire@1']);
  });

  test('archived images are expired by time in the archive, never before 90 days there', () => {
    // A policy built without the parser (which refuses under 90 days): the evaluator still waits 90 days.
    const short: LifecyclePolicy = {
      rules: [{ rulePriority: 1, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 30 }, action: { type: 'expire' } }],
    };
    const repo = [
      img('archived-60', ['a'], 500, { storageClass: 'archive', archivedAt: ago(60) }),
      img('archived-91', ['b'], 500, { storageClass: 'archive', archivedAt: ago(91) }),
      img('archived-unknown-time', ['c'], 500, { storageClass: 'archive' }),
    ];
    assert.deepEqual(outcome(short, repo), ['archived-91: expire@1']);
    const at90 = rules({ selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 } });
    assert.deepEqual(outcome(at90, repo), ['archived-91: expire@1']);
    assert.deepEqual(outcome(at90, repo, NOW + 31 * DAY_MS), ['archived-91: expire@1', 'archived-60: expire@1']);
  });
});

describe('evaluateLifecyclePolicy: indexes and referrers', () => {
  const untaggedOld = rules(
    { selection: { tagStatus: 'tagged', tagPrefixList: ['old'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 } },
    { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 } },
  );

  test('an image an index lists stays while the index stays', () => {
    const index = img('index', ['keep'], 30);
    const child = img('child', [], 30, { referencedByIndex: true, indexDigests: [digest('index')] });
    const flagOnly = img('child-flag-only', [], 30, { referencedByIndex: true });
    const loose = img('loose', [], 30);
    assert.deepEqual(outcome(untaggedOld, [index, child, flagOnly, loose]), ['loose: expire@2']);
  });

  test('expiring the index in the same run frees the images it lists (when the caller names the index)', () => {
    const index = img('index', ['old-1'], 30);
    const child = img('child', [], 30, { referencedByIndex: true, indexDigests: [digest('index')] });
    const flagOnly = img('child-flag-only', [], 30, { referencedByIndex: true });
    assert.deepEqual(outcome(untaggedOld, [index, child, flagOnly]), ['index: expire@1', 'child: expire@2']);
  });

  test('an image two indexes list stays while either stays', () => {
    const a = img('index-a', ['old-1'], 30);
    const b = img('index-b', ['new'], 30);
    const child = img('child', [], 30, { indexDigests: [digest('index-a'), digest('index-b')] });
    assert.deepEqual(outcome(untaggedOld, [a, b, child]), ['index-a: expire@1']);
  });

  test('nested indexes: a held index holds what it lists', () => {
    const top = img('top', ['keep'], 30);
    const inner = img('inner', [], 30, { indexDigests: [digest('top')] });
    const leaf = img('leaf', [], 30, { indexDigests: [digest('inner')] });
    assert.deepEqual(outcome(untaggedOld, [leaf, inner, top]), []);
    const topGoes = img('top', ['old-top'], 30);
    assert.deepEqual(outcome(untaggedOld, [leaf, inner, topGoes]), ['top: expire@1', 'inner: expire@2', 'leaf: expire@2']);
  });

  test('a held image stays claimed: a lower rule does not act on it', () => {
    const policy = rules(
      { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 } },
      { selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 } },
    );
    const repo = [img('index', ['v1'], 1), img('child', [], 30, { indexDigests: [digest('index')] })];
    assert.deepEqual(outcome(policy, repo), []);
  });

  test('to the archive: the image may follow an index that is archived already or archived in the same run', () => {
    const archiveOld = rules({ selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 }, action: { type: 'transition', targetStorageClass: 'archive' } });
    const archivedIndex = img('archived-index', ['v1'], 30, { storageClass: 'archive', archivedAt: ago(20) });
    const standardIndex = img('standard-index', ['v2'], 30);
    const repo = [archivedIndex, standardIndex, img('child-of-archived', [], 30, { indexDigests: [digest('archived-index')] }), img('child-of-standard', [], 30, { indexDigests: [digest('standard-index')] })];
    assert.deepEqual(outcome(archiveOld, repo), ['child-of-archived: transition@1']);
    const both = rules(
      { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 }, action: { type: 'transition', targetStorageClass: 'archive' } },
      { selection: { tagStatus: 'tagged', tagPrefixList: ['v2'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 }, action: { type: 'transition', targetStorageClass: 'archive' } },
    );
    assert.deepEqual(outcome(both, repo), ['child-of-archived: transition@1', 'child-of-standard: transition@1', 'standard-index: transition@2']);
  });

  test('an archived index does not free an image for expiry', () => {
    const repo = [img('archived-index', ['v1'], 30, { storageClass: 'archive', archivedAt: ago(20) }), img('child', [], 30, { indexDigests: [digest('archived-index')] })];
    assert.deepEqual(outcome(untaggedOld, repo), []);
  });

  test('referrers are expired with their subject, transitively, under the subject rule', () => {
    const repo = [
      img('subject', ['old-1'], 30),
      img('signature', ['sha256-abc.sig'], 1, { subjectDigest: digest('subject') }),
      img('sbom', ['sbom'], 1, { subjectDigest: digest('subject') }),
      img('sbom-signature', ['s'], 1, { subjectDigest: digest('sbom') }),
      img('other-signature', ['o'], 1, { subjectDigest: digest('kept') }),
      img('kept', ['new'], 1),
    ];
    const results = evaluateLifecyclePolicy(untaggedOld, repo, NOW);
    assert.deepEqual(
      results.map((r) => [nameOf.get(r.digest), r.action, r.appliedRulePriority, r.followsSubject === undefined ? undefined : nameOf.get(r.followsSubject)]),
      [
        ['subject', 'expire', 1, undefined],
        ['sbom', 'expire', 1, 'subject'],
        ['sbom-signature', 'expire', 1, 'sbom'],
        ['signature', 'expire', 1, 'subject'],
      ],
    );
  });

  test('referrers follow a subject into the archive; an expiring subject overrides their own transition', () => {
    const policy = rules(
      { selection: { tagStatus: 'tagged', tagPrefixList: ['old'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 } },
      { selection: { tagStatus: 'tagged', tagPrefixList: ['cold'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 }, action: { type: 'transition', targetStorageClass: 'archive' } },
      { selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 10 }, action: { type: 'transition', targetStorageClass: 'archive' } },
    );
    const repo = [
      img('cold-subject', ['cold-1'], 30),
      img('cold-ref', ['r1'], 1, { subjectDigest: digest('cold-subject') }),
      img('cold-ref-archived', ['r2'], 1, { subjectDigest: digest('cold-subject'), storageClass: 'archive', archivedAt: ago(1) }),
      img('old-subject', ['old-1'], 30),
      img('old-ref', [], 30, { subjectDigest: digest('old-subject') }),
    ];
    assert.deepEqual(outcome(policy, repo), ['old-ref: expire@1', 'old-subject: expire@1', 'cold-subject: transition@2', 'cold-ref: transition@2']);
  });

  test('the referrers of a held subject stay', () => {
    const repo = [
      img('index', ['keep'], 30),
      img('child', [], 30, { indexDigests: [digest('index')] }),
      img('child-signature', ['sig'], 30, { subjectDigest: digest('child') }),
    ];
    assert.deepEqual(outcome(untaggedOld, repo), []);
  });
});
