import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { mergeScopes } from './auth.ts';
import { RegistryClient } from './client.ts';
import { ociError, startFake, type FakeRequest, isUpstream } from './fake-registry.ts';

const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));

function serveManifest(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
  res.end(MANIFEST);
}

function basicOf(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function scopesOf(r: FakeRequest): string[] {
  return new URL(r.url, 'http://x').searchParams.getAll('scope');
}


test('scopes merge per resource, sorted', () => {
  assert.deepEqual(mergeScopes('repository:b:pull', 'repository:a:push repository:b:push,pull', 'repository:a:pull'), ['repository:a:pull,push', 'repository:b:pull,push']);
  assert.deepEqual(mergeScopes('registry:catalog:*', ''), ['registry:catalog:*']);
});

test('Bearer: anonymous first, a token from a realm on another port, then the cached token', async (t) => {
  const tokens = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: 'T1', expires_in: 300 }));
  });
  const registry = await startFake((req, res) => {
    if (req.headers.authorization === 'Bearer T1') return serveManifest(res);
    ociError(res, 401, 'UNAUTHORIZED', 'authentication required', {
      'www-authenticate': `Bearer realm="${tokens.url}/token?client=berth",service="fake registry",scope="repository:lib/app:pull"`,
    });
  });
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  const client = new RegistryClient({ baseUrl: registry.url });

  assert.deepEqual((await client.getManifest('lib/app', 'latest')).body, MANIFEST);
  assert.deepEqual((await client.getManifest('lib/app', 'v1')).body, MANIFEST);

  assert.deepEqual(registry.requests.map((r) => r.headers.authorization), [undefined, 'Bearer T1', 'Bearer T1']);
  assert.equal(tokens.requests.length, 1, 'the token is cached');
  const q = new URL(tokens.requests[0]?.url ?? '', 'http://x').searchParams;
  assert.equal(q.get('client'), 'berth', "the realm's own query is kept");
  assert.equal(q.get('service'), 'fake registry');
  assert.deepEqual(q.getAll('scope'), ['repository:lib/app:pull']);
  assert.equal(tokens.requests[0]?.headers.authorization, undefined, 'no credentials configured, none sent');
});

test('Bearer: credentials go to the token endpoint, access_token is read, a token is renewed when it runs out', async (t) => {
  let issued = 0;
  const tokens = await startFake((req, res) => {
    if (req.headers.authorization !== basicOf('alice', 's3cret')) return ociError(res, 401, 'UNAUTHORIZED');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: `A${++issued}` }));
  });
  const registry = await startFake((req, res) => {
    if (req.headers.authorization?.startsWith('Bearer A') === true) return serveManifest(res);
    ociError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake"` });
  });
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  let now = 1_000_000;
  const client = new RegistryClient({ baseUrl: registry.url, credentials: { username: 'alice', password: 's3cret' }, now: () => now });

  await client.getManifest('app', 'latest');
  now += 50_000; // within the default 60 s lifetime
  await client.getManifest('app', 'latest');
  now += 11_000; // past it
  await client.getManifest('app', 'latest');

  assert.equal(tokens.requests.length, 2);
  assert.deepEqual(registry.requests.map((r) => r.headers.authorization), [undefined, 'Bearer A1', 'Bearer A1', 'Bearer A2'], 'once the challenge is known, tokens are fetched before the request');
});

test('Bearer: push and mount ask for the scopes they need', async (t) => {
  const tokens = await startFake((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `for ${scopesOf(req).join(' ')}` }));
  });
  const registry = await startFake((req, res) => {
    if (req.headers.authorization === undefined) {
      return ociError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake"` });
    }
    if (req.method === 'PUT') {
      res.writeHead(201);
      return res.end();
    }
    res.writeHead(201, { location: '/v2/lib/app/blobs/sha256:x' });
    res.end();
  });
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  const client = new RegistryClient({ baseUrl: registry.url });

  await client.putManifest('lib/app', 'v1', MANIFEST, 'application/vnd.oci.image.index.v1+json');
  assert.equal(await client.mountBlob('lib/app', `sha256:${'a'.repeat(64)}`, 'lib/base'), true);

  assert.deepEqual(tokens.requests.map(scopesOf), [['repository:lib/app:pull,push'], ['repository:lib/app:pull,push', 'repository:lib/base:pull']]);
  assert.deepEqual(registry.requests.map((r) => r.headers.authorization), [
    undefined,
    'Bearer for repository:lib/app:pull,push',
    'Bearer for repository:lib/app:pull,push repository:lib/base:pull',
  ]);
  assert.deepEqual(registry.requests[1]?.body, MANIFEST, 'the manifest body is sent again after the 401');
});

test("Bearer: the challenge's own scope is asked for too", async (t) => {
  const tokens = await startFake((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: scopesOf(req).join(' ') }));
  });
  const registry = await startFake((req, res) => {
    if (req.headers.authorization === 'Bearer repository:app:pull,push repository:other:pull') return serveManifest(res);
    ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': `Bearer realm="${tokens.url}",scope="repository:app:push repository:other:pull"` });
  });
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  await new RegistryClient({ baseUrl: registry.url }).getManifest('app', 'latest');
  assert.deepEqual(tokens.requests.map(scopesOf), [['repository:app:pull,push', 'repository:other:pull']]);
});

test('Bearer: a refused token is replaced once, then the request fails as unauthorized', async (t) => {
  const tokens = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: 'useless' }));
  });
  const registry = await startFake((_req, res) => {
    ociError(res, 401, 'UNAUTHORIZED', 'token rejected', { 'www-authenticate': `Bearer realm="${tokens.url}"` });
  });
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  const client = new RegistryClient({ baseUrl: registry.url, retries: 3, retryDelayMs: 1 });
  await assert.rejects(
    client.getManifest('app', 'latest'),
    isUpstream('unauthorized', (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.code, 'UNAUTHORIZED');
      assert.equal(e.retryable, false);
      assert.match(e.message, /token rejected/);
    }),
  );
  assert.equal(registry.requests.length, 2, 'not retried');
  assert.equal(tokens.requests.length, 1);
});

test('Bearer: wrong credentials at the token endpoint fail as unauthorized without showing them', async (t) => {
  const tokens = await startFake((_req, res) => ociError(res, 401, 'UNAUTHORIZED', 'incorrect username or password'));
  const registry = await startFake((_req, res) => ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': `Bearer realm="${tokens.url}/token"` }));
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  const client = new RegistryClient({ baseUrl: registry.url, credentials: { username: 'bob', password: 'hunter2-very-secret' } });
  await assert.rejects(
    client.getManifest('app', 'latest'),
    isUpstream('unauthorized', (e) => {
      assert.match(e.message, /token endpoint refused the configured credentials/);
      const shown = `${e.message} ${e.url} ${JSON.stringify(e)}`;
      assert.ok(!shown.includes('hunter2-very-secret'));
      assert.ok(!shown.includes(Buffer.from('bob:hunter2-very-secret').toString('base64')));
    }),
  );
});

test('Bearer: a token endpoint answering without a token is an invalid response', async (t) => {
  const tokens = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"expires_in":60}');
  });
  const registry = await startFake((_req, res) => ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': `Bearer realm="${tokens.url}/token"` }));
  t.after(() => Promise.all([tokens.close(), registry.close()]));
  await assert.rejects(new RegistryClient({ baseUrl: registry.url }).getManifest('app', 'latest'), isUpstream('invalid-response', (e) => assert.match(e.message, /without a token/)));
});

test('Basic: credentials answer the challenge and are sent up front afterwards', async (t) => {
  const registry = await startFake((req, res) => {
    if (req.headers.authorization === basicOf('carol', 'pw')) return serveManifest(res);
    ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': 'Basic realm="Registry Realm"' });
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url, credentials: { username: 'carol', password: 'pw' } });
  await client.getManifest('app', 'a');
  await client.getManifest('app', 'b');
  assert.deepEqual(registry.requests.map((r) => r.headers.authorization), [undefined, basicOf('carol', 'pw'), basicOf('carol', 'pw')]);
});

test('Basic: without credentials, or with wrong ones, the request fails as unauthorized', async (t) => {
  const registry = await startFake((_req, res) => ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': 'Basic realm="r"' }));
  t.after(() => registry.close());
  await assert.rejects(new RegistryClient({ baseUrl: registry.url }).getManifest('app', 'a'), isUpstream('unauthorized', (e) => assert.match(e.message, /Basic credentials and none are configured/)));
  assert.equal(registry.requests.length, 1);

  const wrong = new RegistryClient({ baseUrl: registry.url, credentials: { username: 'carol', password: 'wrong-password' } });
  await assert.rejects(wrong.getManifest('app', 'a'), isUpstream('unauthorized', (e) => assert.ok(!e.message.includes('wrong-password'))));
  await assert.rejects(wrong.getManifest('app', 'a'), isUpstream('unauthorized'));
  assert.equal(registry.requests.length, 1 + 2 + 1, 'once Basic was refused, the same credentials are not sent twice');
});

test('a malformed or missing WWW-Authenticate fails as unauthorized, without retries', async (t) => {
  const headers = ['Bearer realm="http://127.0.0.1:1/token', 'Bearer service="no realm"', 'Negotiate abc=='];
  let i = 0;
  const registry = await startFake((_req, res) => {
    const h = headers[i++];
    ociError(res, 401, 'UNAUTHORIZED', 'x', h === undefined ? {} : { 'www-authenticate': h });
  });
  t.after(() => registry.close());
  const client = new RegistryClient({ baseUrl: registry.url, retryDelayMs: 1 });
  for (const message of [/malformed WWW-Authenticate: unterminated quoted string/, /no http\(s\) realm/, /unsupported authentication scheme negotiate/, /without a WWW-Authenticate challenge/]) {
    await assert.rejects(client.getManifest('app', 'a'), isUpstream('unauthorized', (e) => assert.match(e.message, message)));
  }
  assert.equal(registry.requests.length, 4);
});

test('credentials stay on their origin: a token endpoint redirecting elsewhere, a tag page linking elsewhere', async (t) => {
  const elsewhere = await startFake((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: 'T', tags: ['z'] }));
  });
  const tokens = await startFake((_req, res) => {
    res.writeHead(307, { location: `${elsewhere.url}/token` });
    res.end();
  });
  const registry = await startFake((req, res) => {
    if (req.headers.authorization !== 'Bearer T') return ociError(res, 401, 'UNAUTHORIZED', 'x', { 'www-authenticate': `Bearer realm="${tokens.url}/token"` });
    res.writeHead(200, { 'content-type': 'application/json', link: `<${elsewhere.url}/v2/app/tags/list?last=a>; rel="next"` });
    res.end(JSON.stringify({ tags: ['a'] }));
  });
  t.after(() => Promise.all([elsewhere.close(), tokens.close(), registry.close()]));
  const client = new RegistryClient({ baseUrl: registry.url, credentials: { username: 'dave', password: 'pw' } });
  assert.deepEqual(await client.listTags('app'), ['a', 'z']);
  assert.equal(tokens.requests[0]?.headers.authorization, basicOf('dave', 'pw'));
  assert.deepEqual(elsewhere.requests.map((r) => [r.url.split('?')[0], r.headers.authorization]), [
    ['/token', undefined],
    ['/v2/app/tags/list', undefined],
  ]);
});
