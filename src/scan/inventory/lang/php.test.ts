import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractFile, ids } from './entry.fixture.ts';
import { composerLockExtractor } from './php.ts';

const composerLock = JSON.stringify({
  _readme: ['This file locks the dependencies of your project to a known state'],
  'content-hash': 'abc',
  packages: [
    { name: 'symfony/http-foundation', version: 'v6.3.8', source: { type: 'git' } },
    { name: 'Monolog/Monolog', version: '3.5.0' },
    { name: 'broken' },
    'not an object',
  ],
  'packages-dev': [{ name: 'phpunit/phpunit', version: '10.4.2' }],
});

test('composer.lock: packages and packages-dev, versions as Composer wrote them', async () => {
  const packages = await extractFile(composerLockExtractor, 'var/www/composer.lock', composerLock);
  assert.deepEqual(ids(packages), ['Monolog/Monolog@3.5.0', 'phpunit/phpunit@10.4.2', 'symfony/http-foundation@v6.3.8']);
  assert.ok(packages.every((p) => p.ecosystem === 'Packagist' && p.path === 'var/www/composer.lock'));
  assert.equal(packages.find((p) => p.name === 'Monolog/Monolog')?.purl, 'pkg:composer/monolog/monolog@3.5.0');
});

test('a malformed composer.lock gives no packages', async () => {
  for (const content of [composerLock.slice(0, 100), '{"packages": {"a": 1}}', 'null']) {
    assert.deepEqual(await extractFile(composerLockExtractor, 'composer.lock', content), []);
  }
});
