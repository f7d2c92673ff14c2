import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRule, upstreamBaseUrl, upstreamRegistryOf } from './rules.ts';

test('upstream URLs: https unless a scheme is given, Docker Hub aliases to its API host, anything else refused', () => {
  assert.equal(upstreamBaseUrl('quay.io')?.href, 'https://quay.io/');
  assert.equal(upstreamBaseUrl('docker.io')?.href, 'https://registry-1.docker.io/');
  assert.equal(upstreamBaseUrl('http://127.0.0.1:5001')?.href, 'http://127.0.0.1:5001/');
  for (const bad of ['ftp://x', 'https://user:pw@quay.io', 'https://quay.io/v2/x', 'https://quay.io/?a=1', 'not a url at all ::']) assert.equal(upstreamBaseUrl(bad), undefined, bad);
});

test('well-known upstreams by host, with ECR names', () => {
  assert.equal(upstreamRegistryOf('registry-1.docker.io'), 'docker-hub');
  assert.equal(upstreamRegistryOf('public.ecr.aws'), 'ecr-public');
  assert.equal(upstreamRegistryOf('myreg.azurecr.io'), 'azure-container-registry');
  assert.equal(upstreamRegistryOf('123456789012.dkr.ecr.eu-west-1.amazonaws.com'), 'ecr');
  assert.equal(upstreamRegistryOf('GHCR.IO'), 'github-container-registry');
  assert.equal(upstreamRegistryOf('registry.example.com'), undefined);
});

test('rules: the longest prefix wins over ROOT; upstream prefix and library/ for Docker Hub', () => {
  const rules = [
    { prefix: 'ROOT', upstreamPrefix: null, upstreamRegistry: 'quay' },
    { prefix: 'hub', upstreamPrefix: null, upstreamRegistry: 'docker-hub' },
    { prefix: 'hub/team', upstreamPrefix: 'acme', upstreamRegistry: 'docker-hub' },
    { prefix: 'mirror', upstreamPrefix: 'base', upstreamRegistry: '' },
  ];
  assert.deepEqual(matchRule(rules, 'hub/nginx'), { rule: rules[1], upstreamRepository: 'library/nginx' });
  assert.deepEqual(matchRule(rules, 'hub/bitnami/redis'), { rule: rules[1], upstreamRepository: 'bitnami/redis' });
  assert.deepEqual(matchRule(rules, 'hub/team/app'), { rule: rules[2], upstreamRepository: 'acme/app' });
  assert.deepEqual(matchRule(rules, 'mirror/x/y'), { rule: rules[3], upstreamRepository: 'base/x/y' });
  assert.deepEqual(matchRule(rules, 'other/thing'), { rule: rules[0], upstreamRepository: 'other/thing' });
  assert.equal(matchRule(rules.slice(1), 'other/thing'), undefined);
  assert.equal(matchRule(rules.slice(1), 'hub'), undefined, 'the prefix alone names no upstream repository');
  assert.equal(matchRule(rules.slice(1), 'hubble/x'), undefined, 'prefixes match whole segments');
});
