import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHAPES } from '../ecr/generated/model.ts';
import { fullMatch, validateShape } from './validate.ts';

test('every pattern of the ECR model compiles and matches whole values only', () => {
  const patterns = Object.values(SHAPES).flatMap((s) => (s.type === 'string' && s.pattern !== undefined ? [s.pattern] : []));
  assert.ok(patterns.length > 10, `only ${patterns.length} patterns found`);
  for (const p of patterns) assert.doesNotThrow(() => fullMatch(p), `pattern ${p}`);
});

test('a Java-style escape Unicode mode refuses (\\-) still validates', () => {
  const re = fullMatch('^arn:aws(-\\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\\-pullthroughcache\\/[a-zA-Z0-9\\/_+=.@-]+$');
  assert.equal(re.test('arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub'), true);
  assert.equal(re.test('!!!!'), false);
  assert.equal(re.test('xarn:aws:secretsmanager:us-east-1:1:secret:ecr-pullthroughcache/hub'), false);
});

test('validateShape reports the member that breaks a pattern', () => {
  const v = validateShape(SHAPES, 'CreatePullThroughCacheRuleRequest', { ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: 'registry-1.docker.io', credentialArn: '!!!' });
  assert.ok(v !== null);
  assert.match(v.path, /credentialArn/);
});

test('base64Length accepts canonical base64 only, and gives the decoded length', async () => {
  const { base64Length } = await import('./validate.ts');
  for (const n of [0, 1, 2, 3, 4, 5, 1000]) {
    const b = Buffer.alloc(n, 0xa5);
    assert.equal(base64Length(b.toString('base64')), n, `length ${n}`);
  }
  for (const bad of ['A', 'AB', 'ABC', 'AB=C', 'A===', '====', 'AB C', 'AB\nC', 'ABC!', 'QUJD-A==', 'QUJD_A==', '=ABC', 'QU=D']) {
    assert.equal(base64Length(bad), -1, JSON.stringify(bad));
  }
  const v = validateShape(SHAPES, 'UploadLayerPartRequest', { repositoryName: 'a/b', uploadId: '0b3c1f0e-1111-2222-3333-444455556666', partFirstByte: 0, partLastByte: 0, layerPartBlob: 'not base64!' });
  assert.ok(v !== null && /base64/.test(v.message), JSON.stringify(v));
});
