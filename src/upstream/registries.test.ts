import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHAPES } from '../ecr/generated/model.ts';
import { KNOWN_REGISTRIES, normaliseUpstream, recogniseRegistry } from './registries.ts';

test('Docker Hub aliases map to registry-1.docker.io and official images to library/', () => {
  for (const url of ['docker.io', 'https://index.docker.io', 'registry-1.docker.io', 'http://docker.io/']) {
    const n = normaliseUpstream(url, 'alpine');
    assert.equal(n.baseUrl, 'https://registry-1.docker.io', url);
    assert.equal(n.repository, 'library/alpine', url);
    assert.equal(n.registry?.upstreamRegistry, 'docker-hub');
  }
  assert.equal(normaliseUpstream('docker.io', 'bitnami/redis').repository, 'bitnami/redis');
});

test('other registries keep their URL and names', () => {
  assert.deepEqual(
    { ...normaliseUpstream('ghcr.io', 'owner/app'), registry: normaliseUpstream('ghcr.io', 'owner/app').registry?.upstreamRegistry },
    { baseUrl: 'https://ghcr.io', repository: 'owner/app', registry: 'github-container-registry' },
  );
  const local = normaliseUpstream('http://127.0.0.1:5001', 'alpine');
  assert.equal(local.baseUrl, 'http://127.0.0.1:5001');
  assert.equal(local.repository, 'alpine');
  assert.equal(local.registry, undefined);
  assert.throws(() => normaliseUpstream('https://user:pw@quay.io', 'a'), /must not carry credentials/);
  assert.throws(() => normaliseUpstream('https://quay.io/v2/', 'a'), /no path/);
});

test('well-known registries are recognised by host', () => {
  const cases: [string, string, string | undefined][] = [
    ['quay.io', 'quay', 'quay'],
    ['public.ecr.aws', 'ecr-public', 'ecr-public'],
    ['registry.k8s.io', 'k8s', 'k8s'],
    ['https://registry.gitlab.com', 'gitlab', 'gitlab-container-registry'],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'ecr', 'ecr'],
    ['myregistry.azurecr.io', 'azure', 'azure-container-registry'],
    ['cgr.dev', 'chainguard', 'chainguard'],
    ['gcr.io', 'gcr', undefined],
    ['eu.gcr.io', 'gcr', undefined],
    ['mcr.microsoft.com', 'mcr', undefined],
  ];
  for (const [host, id, upstream] of cases) {
    const r = recogniseRegistry(host);
    assert.equal(r?.id, id, host);
    assert.equal(r?.upstreamRegistry, upstream, host);
  }
  assert.equal(recogniseRegistry('registry.example.com'), undefined);
  assert.equal(recogniseRegistry('evil-ghcr.io'), undefined);
});

test("the table covers every upstreamRegistry of ECR's model", () => {
  const names = (SHAPES.UpstreamRegistry as { enum?: string[] }).enum ?? [];
  assert.ok(names.length > 0);
  assert.deepEqual(
    KNOWN_REGISTRIES.map((r) => r.upstreamRegistry).filter((n) => n !== undefined).sort(),
    [...names].sort(),
  );
});
