import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RegistryError } from './errors.ts';
import { REPOSITORY_NAME_MAX, REPOSITORY_NAME_MIN, REPOSITORY_NAME_RE, TAG_RE, isRepositoryName, isTag, parseReference, validateRepositoryName, validateTag } from './names.ts';

const VALID_NAMES = [
  'ab',
  'a1',
  '00',
  'a/b',
  'a.b',
  'a_b',
  'a__b',
  'a-b',
  'a--b',
  'a---b',
  'team/app',
  'team/sub.team/app-name_v2',
  'library/ubuntu',
  'x/y/z/w/v',
  'a'.repeat(REPOSITORY_NAME_MAX),
  `${'a'.repeat(127)}/${'b'.repeat(128)}`,
];

const INVALID_NAMES: ReadonlyArray<[string, string, RegExp]> = [
  ['1 character', 'a', /shorter than 2 characters/],
  ['empty', '', /shorter than 2 characters/],
  ['257 characters', 'a'.repeat(REPOSITORY_NAME_MAX + 1), /longer than 256 characters/],
  ['uppercase', 'Team/app', /contains uppercase letters/],
  ['a "//" empty segment', 'a//b', /has an empty path segment/],
  ['a leading slash', '/ab', /has an empty path segment/],
  ['a trailing slash', 'ab/', /has an empty path segment/],
  ['a ".." segment', 'a/../b', /has a "\." or "\.\." path segment/],
  ['a "." segment', 'a/./b', /has a "\." or "\.\." path segment/],
  ['".." alone', '..', /has a "\." or "\.\." path segment/],
  ['a leading dash', '-ab', /does not match/],
  ['a trailing dash', 'ab-', /does not match/],
  ['a leading dot', '.ab', /does not match/],
  ['a trailing dot', 'ab.', /does not match/],
  ['a leading underscore', '_ab', /does not match/],
  ['three underscores', 'a___b', /does not match/],
  ['two dots', 'a..b', /does not match/],
  ['dot and dash', 'a.-b', /does not match/],
  ['a separator before a slash', 'a-/b', /does not match/],
  ['a space', 'a b', /does not match/],
  ['a colon', 'a:b', /does not match/],
  ['an at sign', 'a@b', /does not match/],
  ['a backslash', 'a\\b', /does not match/],
  ['a NUL byte', 'a\u0000b', /does not match/],
  ['a newline at the end', 'ab\n', /does not match/],
  ['a non-ASCII letter', 'café', /does not match/],
];

function registryError(code: string, message: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `a RegistryError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  };
}

describe('repository names (ECR pattern, 2-256 characters)', () => {
  test('the limits are 2 and 256', () => {
    assert.equal(REPOSITORY_NAME_MIN, 2);
    assert.equal(REPOSITORY_NAME_MAX, 256);
  });

  for (const name of VALID_NAMES) {
    test(`valid: ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}...(${name.length})` : name)}`, () => {
      assert.equal(isRepositoryName(name), true);
      assert.equal(validateRepositoryName(name), name);
    });
  }

  for (const [what, name, why] of INVALID_NAMES) {
    test(`invalid: ${what} -> NAME_INVALID saying why`, () => {
      assert.equal(isRepositoryName(name), false);
      assert.throws(
        () => validateRepositoryName(name),
        (e: unknown) => {
          assert.ok(e instanceof RegistryError);
          assert.equal(e.code, 'NameInvalid');
          assert.equal(e.status, 400);
          assert.equal(e.ociCode, 'NAME_INVALID');
          assert.match(e.message, /^invalid repository name "/);
          assert.match(e.message, why);
          return true;
        },
      );
    });
  }

  test('the detail names the repository; very long names are cut in message and detail', () => {
    try {
      validateRepositoryName('Ab');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegistryError);
      assert.deepEqual(e.detail, { name: 'Ab' });
    }
    const long = 'a'.repeat(10_000);
    try {
      validateRepositoryName(long);
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegistryError);
      assert.ok(e.message.length < 400);
      assert.deepEqual(e.detail, { name: `${long.slice(0, 300)}...` });
    }
  });

  // The RepositoryName shape of the AWS ECR model (botocore ecr/2015-09-21 service-2.json). When the
  // model is at ../shared/aws-models (development machines), the copy is checked against it too.
  const MODEL_SHAPE = { type: 'string', max: 256, min: 2, pattern: '[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*' };

  test('the pattern is the one in the AWS ECR model (RepositoryName)', () => {
    const model = fileURLToPath(new URL('../../../shared/aws-models/ecr/2015-09-21/service-2.json', import.meta.url));
    if (existsSync(model)) {
      const doc = JSON.parse(readFileSync(model, 'utf8')) as { shapes: Record<string, unknown> };
      assert.deepEqual(doc.shapes.RepositoryName, MODEL_SHAPE, 'the model changed: update MODEL_SHAPE and the name rules');
    }
    const shape = MODEL_SHAPE;
    assert.equal(shape.min, REPOSITORY_NAME_MIN);
    assert.equal(shape.max, REPOSITORY_NAME_MAX);
    const ecr = new RegExp(`^(?:${shape.pattern})$`);
    for (const name of [...VALID_NAMES, ...INVALID_NAMES.map(([, n]) => n)]) {
      const byEcr: boolean = ecr.test(name) && name.length >= shape.min && name.length <= shape.max;
      assert.equal(isRepositoryName(name), byEcr, `${JSON.stringify(name.slice(0, 40))}: berth and the ECR model disagree`);
      assert.equal(REPOSITORY_NAME_RE.test(name), ecr.test(name), JSON.stringify(name.slice(0, 40)));
    }
  });
});

describe('tags', () => {
  const valid = ['latest', 'v1', 'V1.2.3', '_under', '0', 'A', 'a-b_c.d', 'x'.repeat(128), 'sha256-abc'];
  const invalid: ReadonlyArray<[string, string]> = [
    ['empty', ''],
    ['a leading dash', '-lead'],
    ['a leading dot', '.hidden'],
    ['129 characters', 'x'.repeat(129)],
    ['a space', 'tag with space'],
    ['a colon', 'a:b'],
    ['a slash', 'a/b'],
    ['a plus', 'v1+build'],
    ['a non-ASCII letter', 'tág'],
    ['a newline at the end', 'v1\n'],
    ['a tab', 'v\t1'],
  ];
  for (const tag of valid) {
    test(`valid tag ${JSON.stringify(tag.length > 20 ? `${tag.slice(0, 10)}...(${tag.length})` : tag)}`, () => {
      assert.equal(isTag(tag), true);
      assert.equal(TAG_RE.test(tag), true);
      assert.equal(validateTag(tag), tag);
    });
  }
  for (const [what, tag] of invalid) {
    test(`invalid tag: ${what} -> TagInvalid (400 MANIFEST_INVALID) naming the tag`, () => {
      assert.equal(isTag(tag), false);
      assert.throws(
        () => validateTag(tag),
        (e: unknown) => {
          assert.ok(e instanceof RegistryError);
          assert.equal(e.code, 'TagInvalid');
          assert.equal(e.status, 400);
          assert.equal(e.ociCode, 'MANIFEST_INVALID');
          assert.equal(e.message, `invalid tag "${tag}": a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`);
          assert.deepEqual(e.detail, { tag });
          return true;
        },
      );
    });
  }
  test('a very long tag is cut in message and detail', () => {
    const long = 'x'.repeat(1000);
    try {
      validateTag(long);
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegistryError);
      assert.deepEqual(e.detail, { tag: `${long.slice(0, 200)}...` });
    }
  });
});

describe('parseReference', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  test('a digest (anything with ":") or a tag', () => {
    assert.deepEqual(parseReference(d), { kind: 'digest', digest: { algorithm: 'sha256', hex: 'a'.repeat(64), digest: d } });
    assert.deepEqual(parseReference('latest'), { kind: 'tag', tag: 'latest' });
  });
  test('a reference with ":" that is not a valid digest is DIGEST_INVALID, never a tag', () => {
    assert.throws(() => parseReference('a:b'), registryError('DigestInvalid', /unsupported digest algorithm "a" in manifest reference/));
    assert.throws(() => parseReference('sha256:abc'), registryError('DigestInvalid', /invalid manifest reference "sha256:abc"/));
  });
  test('an invalid tag is TagInvalid', () => {
    assert.throws(() => parseReference('-x'), registryError('TagInvalid', /invalid tag "-x"/));
    assert.throws(() => parseReference(''), registryError('TagInvalid', /invalid tag ""/));
  });
});
