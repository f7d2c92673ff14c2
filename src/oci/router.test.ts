import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED_METHODS, matchRoute, splitUrl, type OciRoute } from './router.ts';

const D = `sha256:${'a'.repeat(64)}`;
const ID = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';

describe('matchRoute', () => {
  const cases: ReadonlyArray<[string, OciRoute | null]> = [
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'base' }],
    ['/v2/_catalog', { kind: 'catalog' }],
    ['/v2/a/manifests/latest', { kind: 'manifest', name: 'a', reference: 'latest' }],
    [`/v2/a/manifests/${D}`, { kind: 'manifest', name: 'a', reference: D }],
    ['/v2/org/team/app/manifests/v1', { kind: 'manifest', name: 'org/team/app', reference: 'v1' }],
    [`/v2/a/b/blobs/${D}`, { kind: 'blob', name: 'a/b', digest: D }],
    ['/v2/a/b/blobs/uploads/', { kind: 'uploads', name: 'a/b' }],
    ['/v2/a/b/blobs/uploads', { kind: 'uploads', name: 'a/b' }],
    [`/v2/a/b/blobs/uploads/${ID}`, { kind: 'upload', name: 'a/b', id: ID }],
    ['/v2/a/b/tags/list', { kind: 'tags', name: 'a/b' }],
    [`/v2/a/b/referrers/${D}`, { kind: 'referrers', name: 'a/b', digest: D }],
    ['/v2/a/b/_berth/sbom/v1', { kind: 'sbom', name: 'a/b', reference: 'v1' }],
  ];
  for (const [path, route] of cases) {
    test(`${path}`, () => {
      assert.deepEqual(matchRoute(path), route);
    });
  }

  describe('names that contain endpoint words are split at the last endpoint suffix', () => {
    const tricky: ReadonlyArray<[string, OciRoute]> = [
      // A repository named a/blobs/uploads.
      ['/v2/a/blobs/uploads/blobs/uploads/', { kind: 'uploads', name: 'a/blobs/uploads' }],
      [`/v2/a/blobs/uploads/blobs/uploads/${ID}`, { kind: 'upload', name: 'a/blobs/uploads', id: ID }],
      [`/v2/a/blobs/uploads/blobs/${D}`, { kind: 'blob', name: 'a/blobs/uploads', digest: D }],
      ['/v2/a/blobs/uploads/manifests/v1', { kind: 'manifest', name: 'a/blobs/uploads', reference: 'v1' }],
      ['/v2/a/blobs/uploads/tags/list', { kind: 'tags', name: 'a/blobs/uploads' }],
      [`/v2/a/blobs/uploads/referrers/${D}`, { kind: 'referrers', name: 'a/blobs/uploads', digest: D }],
      // Repositories named manifests, a/manifests/b, tags/list, referrers, blobs.
      ['/v2/manifests/manifests/v1', { kind: 'manifest', name: 'manifests', reference: 'v1' }],
      ['/v2/a/manifests/b/manifests/v1', { kind: 'manifest', name: 'a/manifests/b', reference: 'v1' }],
      ['/v2/a/manifests/tags/list', { kind: 'tags', name: 'a/manifests' }],
      ['/v2/x/tags/list/tags/list', { kind: 'tags', name: 'x/tags/list' }],
      ['/v2/x/tags/list/manifests/latest', { kind: 'manifest', name: 'x/tags/list', reference: 'latest' }],
      [`/v2/x/referrers/referrers/${D}`, { kind: 'referrers', name: 'x/referrers', digest: D }],
      ['/v2/x/blobs/tags/list', { kind: 'tags', name: 'x/blobs' }],
      [`/v2/x/blobs/blobs/${D}`, { kind: 'blob', name: 'x/blobs', digest: D }],
      ['/v2/_catalog/tags/list', { kind: 'tags', name: '_catalog' }],
      // "uploads" right after /blobs/ is the upload-session endpoint, not a blob called "uploads".
      ['/v2/a/blobs/uploads', { kind: 'uploads', name: 'a' }],
    ];
    for (const [path, route] of tricky) {
      test(path, () => {
        assert.deepEqual(matchRoute(path), route);
      });
    }
  });

  describe('paths that match no endpoint', () => {
    const none = [
      '/',
      '/v2x',
      '/v3/',
      '/v2//manifests/x',
      '/v2/manifests/latest',
      '/v2/a',
      '/v2/a/',
      '/v2/a/manifests',
      '/v2/a/manifests/',
      '/v2/a/manifests/latest/',
      '/v2/a/manifests/x/y/',
      '/v2/a/blobs/',
      '/v2/a/blobs/uploads/x/y',
      '/v2/a/tags',
      '/v2/a/tags/list/',
      '/v2/a/tags/list/x',
      '/v2/a/referrers/',
      '/v2/_catalog/',
      '/v2/_catalog/x',
      '/v2/a/../etc/passwd',
    ];
    for (const path of none) {
      test(path, () => {
        assert.equal(matchRoute(path), null);
      });
    }
  });

  test('references, digests and upload ids never contain "/": a slash makes it part of the name or no route', () => {
    assert.deepEqual(matchRoute('/v2/a/manifests/b/c'), null);
    assert.deepEqual(matchRoute('/v2/a/manifests/../../x'), null);
    assert.deepEqual(matchRoute('/v2/a/blobs/uploads/../x'), null);
    assert.deepEqual(matchRoute('/v2/a/blobs/../blobs/x'), { kind: 'blob', name: 'a/blobs/..', digest: 'x' });
  });

  test('names are returned as written (validation is the caller\'s job)', () => {
    assert.deepEqual(matchRoute('/v2/A/../b//c/tags/list'), { kind: 'tags', name: 'A/../b//c' });
    assert.deepEqual(matchRoute('/v2//a/tags/list'), { kind: 'tags', name: '/a' });
  });
});

describe('ALLOWED_METHODS', () => {
  test('each endpoint answers the methods of distribution-spec 1.1 (and berth\'s SBOM endpoint GET)', () => {
    assert.deepEqual(ALLOWED_METHODS, {
      base: ['GET', 'HEAD'],
      catalog: ['GET'],
      manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
      blob: ['GET', 'HEAD', 'DELETE'],
      uploads: ['POST'],
      upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
      tags: ['GET'],
      referrers: ['GET'],
      sbom: ['GET'],
    });
  });
});

describe('splitUrl', () => {
  test('splits path and query; the query is parsed', () => {
    const r = splitUrl(`/v2/a/blobs/uploads/${ID}?digest=${encodeURIComponent(D)}&n=5`);
    assert.ok(r !== null);
    assert.equal(r.path, `/v2/a/blobs/uploads/${ID}`);
    assert.equal(r.query.get('digest'), D);
    assert.equal(r.query.get('n'), '5');
    const plain = splitUrl('/v2/');
    assert.equal(plain?.path, '/v2/');
    assert.equal(plain?.query.toString(), '');
  });

  test('percent-encoding in the path is decoded before routing (%2F is a slash, %2e%2e is "..")', () => {
    assert.equal(splitUrl('/v2/a%2Fb/tags/list')?.path, '/v2/a/b/tags/list');
    assert.equal(splitUrl('/v2/a/%2e%2e/b/tags/list')?.path, '/v2/a/../b/tags/list');
    assert.equal(splitUrl('/v2/a%20b/tags/list')?.path, '/v2/a b/tags/list');
    // An encoded "?" stays in the path; "+" is not a space in a path.
    assert.equal(splitUrl('/v2/a/manifests/x%3Fy?n=1')?.path, '/v2/a/manifests/x?y');
    assert.equal(splitUrl('/v2/a+b/tags/list')?.path, '/v2/a+b/tags/list');
  });

  test('undecodable percent-encoding: null', () => {
    assert.equal(splitUrl('/v2/a%zz/tags/list'), null);
    assert.equal(splitUrl('/v2/a%/tags/list'), null);
    assert.equal(splitUrl('/v2/%E0%A4%A/tags/list'), null);
  });

  test('an undecodable query does not fail the path', () => {
    const r = splitUrl('/v2/a/tags/list?last=%zz');
    assert.equal(r?.path, '/v2/a/tags/list');
  });
});
