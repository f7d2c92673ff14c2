import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChallengeSyntaxError, parseWwwAuthenticate } from './challenge.ts';

test('a Docker Hub Bearer challenge', () => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
  assert.deepEqual(parseWwwAuthenticate(header), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
  ]);
});

test('commas and escaped quotes inside quoted strings, spaces around "=", names in any case', () => {
  const header = 'BEARER Realm = "http://a/token?x=1,2" , scope="repository:a:pull,push repository:b:pull",error="say \\"hi\\""';
  assert.deepEqual(parseWwwAuthenticate(header), [
    { scheme: 'bearer', params: { realm: 'http://a/token?x=1,2', scope: 'repository:a:pull,push repository:b:pull', error: 'say "hi"' } },
  ]);
});

test('"Bearer realm=" is a token68, not a realm', () => {
  assert.deepEqual(parseWwwAuthenticate('Bearer realm='), [{ scheme: 'bearer', params: {}, token68: 'realm=' }]);
});

test('several challenges in one header, with token values and token68', () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm", Bearer realm="http://t/",service=svc, Negotiate abc+/=='), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'http://t/', service: 'svc' } },
    { scheme: 'negotiate', params: {}, token68: 'abc+/==' },
  ]);
});

test('a scheme alone, and empty list elements, are allowed', () => {
  assert.deepEqual(parseWwwAuthenticate(' , Basic,, Bearer realm="x"'), [
    { scheme: 'basic', params: {} },
    { scheme: 'bearer', params: { realm: 'x' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate(''), []);
});

test('malformed challenges throw ChallengeSyntaxError naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['Bearer realm="http://x', /unterminated quoted string/],
    ['Bearer realm="x",service=', /expected a value for "service"/],
    ['Bearer realm=http://x/token', /expected "," after the value of "realm"/],
    ['Bearer realm="x" service="y"', /expected "," after the value of "realm"/],
    ['"Bearer"', /expected an auth scheme/],
    ['Bearer realm "x"', /expected "=" after "realm"/],
    ['Bearer; realm="x"', /unexpected ";" after the scheme/],
  ];
  for (const [header, message] of cases) {
    assert.throws(() => parseWwwAuthenticate(header), (e: unknown) => e instanceof ChallengeSyntaxError && message.test(e.message), header);
  }
});
