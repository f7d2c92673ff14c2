import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS, ScanFailure } from '../../types.ts';
import { extractFile, fileEntry, ids, LAYER } from './entry.fixture.ts';
import { installedPackageExtractor, npmPurl, packageLockExtractor, pnpmLockExtractor, yarnLockExtractor } from './npm.ts';

const lockV1 = JSON.stringify({
  name: 'shop',
  version: '1.0.0',
  lockfileVersion: 1,
  requires: true,
  dependencies: {
    express: {
      version: '4.17.1',
      resolved: 'https://registry.npmjs.org/express/-/express-4.17.1.tgz',
      requires: { debug: '2.6.9' },
      dependencies: { debug: { version: '2.6.9', dependencies: { ms: { version: '2.0.0' } } } },
    },
    debug: { version: '4.3.4', dev: true },
    '@types/node': { version: '18.11.9', dev: true },
    'string-width-cjs': { version: 'npm:string-width@4.2.3' },
    'left-pad': { version: 'github:someone/left-pad#4f1c2e0' },
    local: { version: 'file:../local' },
  },
});

test('package-lock.json v1: nested dependencies, dev ones, scopes and npm aliases; git and file sources left out', async () => {
  const packages = await extractFile(packageLockExtractor, 'srv/shop/package-lock.json', lockV1);
  assert.deepEqual(ids(packages), ['@types/node@18.11.9', 'debug@2.6.9', 'debug@4.3.4', 'express@4.17.1', 'ms@2.0.0', 'string-width@4.2.3']);
  const types = packages.find((p) => p.name === '@types/node');
  assert.deepEqual(types, {
    name: '@types/node',
    version: '18.11.9',
    ecosystem: 'npm',
    kind: 'lang',
    layerDigest: LAYER,
    path: 'srv/shop/package-lock.json',
    purl: 'pkg:npm/%40types/node@18.11.9',
  });
});

const lockV3 = JSON.stringify({
  name: 'shop',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'shop', version: '1.0.0', workspaces: ['packages/*'] },
    'node_modules/@babel/code-frame': { version: '7.22.13', dev: true },
    'node_modules/lodash': { version: '4.17.21' },
    'node_modules/send/node_modules/ms': { version: '2.1.3' },
    'node_modules/ms': { version: '2.0.0' },
    'node_modules/ui-kit': { resolved: 'packages/ui-kit', link: true },
    'packages/ui-kit': { name: 'ui-kit', version: '0.1.0' },
    'packages/ui-kit/node_modules/react': { version: '18.2.0' },
    'node_modules/cjs-width': { name: 'string-width', version: '4.2.3' },
    'node_modules/from-git': { version: 'git+ssh://git@github.com/x/from-git.git#abc' },
    'node_modules/weird': { version: 42 },
    'node_modules/weirder': 'not an object',
  },
  dependencies: { lodash: { version: '0.0.1' } },
});

test('package-lock.json v2/v3: packages by node_modules path; root, workspace folders, links and non-semver left out', async () => {
  const packages = await extractFile(packageLockExtractor, 'app/package-lock.json', lockV3);
  assert.deepEqual(ids(packages), ['@babel/code-frame@7.22.13', 'lodash@4.17.21', 'ms@2.0.0', 'ms@2.1.3', 'react@18.2.0', 'string-width@4.2.3']);
  assert.ok(packages.every((p) => p.path === 'app/package-lock.json' && p.layerDigest === LAYER && p.kind === 'lang'));
});

test("npm's hidden lockfile in node_modules is read too", async () => {
  const packages = await extractFile(packageLockExtractor, 'app/node_modules/.package-lock.json', lockV3);
  assert.equal(packages.length, 6);
});

test('a malformed package-lock.json gives no packages and does not throw', async () => {
  for (const content of [lockV3.slice(0, lockV3.length / 2), '\u0000\u0001\u00ff garbage', '[]', 'null', '{"packages": [1, 2]}', '{"dependencies": "x"}']) {
    assert.deepEqual(await extractFile(packageLockExtractor, 'package-lock.json', content), [], content.slice(0, 20));
  }
});

test('a deeply nested v1 lock file is walked without exhausting the stack', async () => {
  const depth = 20_000;
  const opening = Array.from({ length: depth }, (_, i) => `{"p${i}":{"version":"1.0.0","dependencies":`).join('');
  const json = `{"lockfileVersion":1,"dependencies":${opening}{}${'}}'.repeat(depth)}}`;
  const packages = await extractFile(packageLockExtractor, 'package-lock.json', json);
  assert.equal(packages.length, depth);
});

test('a lock file larger than maxFileBytes fails with a limit, before it is parsed', () => {
  const limits = { ...DEFAULT_SCAN_LIMITS, maxFileBytes: 1024 };
  const content = Buffer.from(JSON.stringify({ lockfileVersion: 3, packages: {}, pad: 'x'.repeat(2048) }));
  assert.throws(
    () => packageLockExtractor.extract(fileEntry('package-lock.json', content), content, limits),
    (error) => error instanceof ScanFailure && error.reason === 'limit' && /package-lock\.json/.test(error.message),
  );
});

test('installed packages: node_modules/[@scope/]name/package.json at any depth, nothing else', async () => {
  const wants = (path: string) => installedPackageExtractor.wants(fileEntry(path, '{}'));
  assert.ok(wants('usr/local/lib/node_modules/npm/package.json'));
  assert.ok(wants('app/node_modules/@nestjs/core/package.json'));
  assert.ok(wants('app/node_modules/a/node_modules/b/package.json'));
  assert.ok(wants('app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json'));
  assert.ok(!wants('app/package.json'), 'an application');
  assert.ok(!wants('app/node_modules/lodash/fp/package.json'), 'a file inside a package');
  assert.ok(!wants('app/node_modules/.bin/package.json'));
  assert.ok(!wants('app/node_modules/@scope/package.json'));

  const scoped = await extractFile(
    installedPackageExtractor,
    'app/node_modules/@nestjs/core/package.json',
    JSON.stringify({ name: '@nestjs/core', version: '10.2.7', license: 'MIT', dependencies: { tslib: '2.6.2' } }),
  );
  assert.deepEqual(scoped.map((p) => [p.name, p.version, p.purl, p.path]), [
    ['@nestjs/core', '10.2.7', 'pkg:npm/%40nestjs/core@10.2.7', 'app/node_modules/@nestjs/core/package.json'],
  ]);
  for (const bad of ['{"name": "x"}', '{"name": 1, "version": "1.0.0"}', '{"name": "x", "version": "latest"}', '{"name":', '']) {
    assert.deepEqual(await extractFile(installedPackageExtractor, 'node_modules/x/package.json', bad), [], bad);
  }
});

test('npm purls lower-case the name and percent-encode the scope', () => {
  assert.equal(npmPurl('JSONStream', '1.3.5'), 'pkg:npm/jsonstream@1.3.5');
  assert.equal(npmPurl('@Angular/core', '17.0.0-rc.1'), 'pkg:npm/%40angular/core@17.0.0-rc.1');
  assert.equal(npmPurl('pkg', '1.0.0+build.5'), 'pkg:npm/pkg@1.0.0%2Bbuild.5');
});

const yarnClassic = `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.22.13":
  version "7.22.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.22.13.tgz#e3c1c099"
  integrity sha512-XktuhWlJ5g+3TJXc5upd9Ks1HutSArik6jf2eAjYFdIOS3Nw==
  dependencies:
    "@babel/highlight" "^7.22.13"
    chalk "^2.4.2"

chalk@^2.4.2:
  version "2.4.2"
  resolved "https://registry.yarnpkg.com/chalk/-/chalk-2.4.2.tgz#cd42541677a54333cf541a49108c1432b44c9424"

lodash@4.17.20, lodash@^4.17.15:
  version "4.17.20"

"string-width-cjs@npm:string-width@^4.2.0":
  version "4.2.3"

"my-fork@git+https://github.com/me/my-fork.git":
  version "0.0.0-development"
  resolved "git+https://github.com/me/my-fork.git#1234"

broken-entry-without-version@^1:
  resolved "https://example.invalid/x.tgz"
`;

test('yarn.lock v1: headers with several ranges, scopes, aliases', async () => {
  const packages = await extractFile(yarnLockExtractor, 'app/yarn.lock', yarnClassic.replaceAll('\n', '\r\n'));
  assert.deepEqual(ids(packages), [
    '@babel/code-frame@7.22.13',
    'chalk@2.4.2',
    'lodash@4.17.20',
    'my-fork@0.0.0-development',
    'string-width@4.2.3',
  ]);
  assert.equal(packages.find((p) => p.name === '@babel/code-frame')?.purl, 'pkg:npm/%40babel/code-frame@7.22.13');
});

const yarnBerry = `# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@types/react@npm:*, @types/react@npm:^18.2.0":
  version: 18.2.37
  resolution: "@types/react@npm:18.2.37"
  dependencies:
    csstype: "npm:^3.0.2"
  checksum: 10c0/79dd5d23da05bec54e7423ca17096e345eb8fd80a3bc8d6ff2fac1cb7a6c0a8c1db08ac8e6b9af7d6c10d82ca1fd4eb8e6e86e2a7a7a4bd9e5b2f0d13e6b3e0f
  languageName: node
  linkType: hard

"resolve@patch:resolve@npm%3A^1.22.1#optional!builtin<compat/resolve>":
  version: 1.22.8
  resolution: "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"
  languageName: node
  linkType: hard

"cjs-width@npm:string-width@^4.2.0":
  version: 4.2.3
  resolution: "string-width@npm:4.2.3"

"shop@workspace:.":
  version: 0.0.0-use.local
  resolution: "shop@workspace:."
  languageName: unknown
  linkType: soft

"ui@link:./ui::locator=shop%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "ui@link:./ui::locator=shop%40workspace%3A."
`;

test('yarn.lock berry: the version field by resolution name; workspace and link resolutions left out', async () => {
  const packages = await extractFile(yarnLockExtractor, 'app/yarn.lock', yarnBerry);
  assert.deepEqual(ids(packages), ['@types/react@18.2.37', 'resolve@1.22.8', 'string-width@4.2.3']);
});

test('malformed yarn.lock files give what they can and never throw', async () => {
  const broken = `__metadata:\n  version: 6\n"a@npm:1": [unclosed\n`;
  assert.deepEqual(await extractFile(yarnLockExtractor, 'yarn.lock', broken), []);
  assert.deepEqual(await extractFile(yarnLockExtractor, 'yarn.lock', '__metadata: 1\nx: 2\n'), []);
  assert.deepEqual(await extractFile(yarnLockExtractor, 'yarn.lock', Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x20, 0x20])), []);
  const long = `left-pad@^1:\n  version "1.3.0"\n${'x'.repeat(200_000)}@^1:\n  version "1.0.0"\n`;
  assert.deepEqual(ids(await extractFile(yarnLockExtractor, 'yarn.lock', long)), ['left-pad@1.3.0']);
});

const pnpmV5 = `lockfileVersion: 5.4

specifiers:
  react: ^17.0.2

dependencies:
  react: 17.0.2

packages:

  /js-tokens/4.0.0:
    resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}
    dev: false

  /string_decoder/1.3.0:
    resolution: {integrity: sha512-hkRX8U1WjJFd8LsDJ2yQ/wWWxaopEsABU1XfkM8A+j0+85JAGppt16cr1Whg6KIbb4okU6Mql6BOj+uup/wKeA==}

  /@babel/core/7.12.3_supports-color@5.5.0:
    resolution: {integrity: sha512-0qXcZYKZp3/6N2jKYVxZv0aNCsxTSVCiK72DTiTYZAu7sjg73W0/aynWjMbiGd87EQL4WyA8reiJVh92AVla9g==}

  /react-dom/17.0.2_react@17.0.2:
    resolution: {integrity: sha512-s4h96KtLDUQlsENhMn1ar8t2bEa+q/YAtj8pPPdIjPDGBDIVNsrD9aXNWqspUe6AzKCIG0C1HZZLqLV7qpOBGA==}

  github.com/me/fork/1a2b3c:
    resolution: {tarball: https://codeload.github.com/me/fork/tar.gz/1a2b3c}
    name: fork
    version: 2.0.0
`;

const pnpmV6 = `lockfileVersion: '6.0'

packages:

  /@babel/core@7.23.2:
    resolution: {integrity: sha512-n7s51eWdaWZ3vGT2tD4T7J6eJs3QoBXydv7vkUM06Bf1cbVD2Kc2UrkzhiQwobfV7NwOnQXYL7UBJ5VPU+RGoQ==}
    engines: {node: '>=6.9.0'}
    dev: true

  /@testing-library/react@14.0.0(react-dom@18.2.0)(react@18.2.0):
    resolution: {integrity: sha512-S04gSNJbYE30TlIMLTzv6QCTzt9AqIF5y6s6SzVFILNcNvbV/jU96GeiTPillGQo+Ny64M/5PV7klNYYgv5Dg==}

  /ms@2.1.3:
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}
`;

const pnpmV9 = `lockfileVersion: '9.0'

settings:
  autoInstallPeers: true

importers:
  .:
    dependencies:
      '@testing-library/react':
        specifier: ^14.0.0
        version: 14.0.0(react-dom@18.2.0(react@18.2.0))(react@18.2.0)

packages:

  '@testing-library/react@14.0.0':
    resolution: {integrity: sha512-S04gSNJbYE30TlIMLTzv6QCTzt9AqIF5y6s6SzVFILNcNvbV/jU96GeiTPillGQo+Ny64M/5PV7klNYYgv5Dg==}

  react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}

  local-thing@file:vendor/local-thing:
    resolution: {directory: vendor/local-thing, type: directory}

snapshots:

  '@testing-library/react@14.0.0(react-dom@18.2.0(react@18.2.0))(react@18.2.0)':
    dependencies:
      react: 18.2.0

  react-dom@18.2.0(react@18.2.0):
    dependencies:
      react: 18.2.0

  react@18.2.0: {}
`;

test('pnpm-lock.yaml v5: /name/version keys, scopes, names with underscores, peer suffixes, name/version fields', async () => {
  const packages = await extractFile(pnpmLockExtractor, 'app/pnpm-lock.yaml', pnpmV5);
  assert.deepEqual(ids(packages), ['@babel/core@7.12.3', 'fork@2.0.0', 'js-tokens@4.0.0', 'react-dom@17.0.2', 'string_decoder@1.3.0']);
});

test('pnpm-lock.yaml v6: /name@version keys with (peer) suffixes', async () => {
  const packages = await extractFile(pnpmLockExtractor, 'app/pnpm-lock.yaml', pnpmV6);
  assert.deepEqual(ids(packages), ['@babel/core@7.23.2', '@testing-library/react@14.0.0', 'ms@2.1.3']);
  assert.equal(packages.find((p) => p.name === '@testing-library/react')?.purl, 'pkg:npm/%40testing-library/react@14.0.0');
});

test('pnpm-lock.yaml v9: packages and snapshots, de-duplicated; file sources left out', async () => {
  const packages = await extractFile(pnpmLockExtractor, 'app/pnpm-lock.yaml', pnpmV9);
  assert.deepEqual(ids(packages), ['@testing-library/react@14.0.0', 'react-dom@18.2.0', 'react@18.2.0']);
});

test('a malformed pnpm-lock.yaml gives no packages', async () => {
  for (const content of ['lockfileVersion: [', 'packages: 3', 'packages:\n  - a\n  - b\n', '&a [*a, *a]', '\u0000\u0000']) {
    assert.deepEqual(await extractFile(pnpmLockExtractor, 'pnpm-lock.yaml', content), [], content);
  }
});

test('YAML alias expansion is bounded (no billion laughs)', async () => {
  const rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++) rows.push(`${'b'.repeat(i)}: &${'a'.repeat(i + 1)} [${Array(9).fill(`*${'a'.repeat(i)}`).join(',')}]`);
  assert.deepEqual(await extractFile(pnpmLockExtractor, 'pnpm-lock.yaml', `lockfileVersion: '9.0'\n${rows.join('\n')}\n`), []);
});
