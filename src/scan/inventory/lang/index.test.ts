import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS, ScanFailure, type FileEntry } from '../../types.ts';
import { fileEntry } from './entry.fixture.ts';
import { defaultLangExtractors } from './index.ts';

const extractors = defaultLangExtractors();

function wanting(entry: FileEntry): string[] {
  return extractors.filter((e) => e.wants(entry)).map((e) => e.name);
}

/** One file each extractor reads, with the mode it needs. */
const samples: [string, string, number][] = [
  ['app/package-lock.json', 'npm/package-lock', 0o644],
  ['app/node_modules/@scope/pkg/package.json', 'npm/installed', 0o644],
  ['app/yarn.lock', 'npm/yarn-lock', 0o644],
  ['app/pnpm-lock.yaml', 'npm/pnpm-lock', 0o644],
  ['usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA', 'pypi/installed', 0o644],
  ['app/poetry.lock', 'pypi/poetry-lock', 0o644],
  ['app/requirements.txt', 'pypi/requirements', 0o644],
  ['app/Pipfile.lock', 'pypi/pipfile-lock', 0o644],
  ['usr/local/bundle/specifications/rack-3.0.8.gemspec', 'rubygems/gemspec', 0o644],
  ['app/Gemfile.lock', 'rubygems/gemfile-lock', 0o644],
  ['opt/app/app.war', 'maven/archive', 0o644],
  ['usr/local/bin/tool', 'go/binary', 0o755],
  ['app/Cargo.lock', 'cargo/cargo-lock', 0o644],
  ['app/Api.deps.json', 'nuget/deps-json', 0o644],
  ['var/www/composer.lock', 'packagist/composer-lock', 0o644],
];

test('each format has exactly one extractor, and each extractor a sample here', () => {
  assert.equal(new Set(extractors.map((e) => e.name)).size, extractors.length);
  assert.deepEqual(samples.map(([, name]) => name).sort(), extractors.map((e) => e.name).sort());
  for (const [path, name, mode] of samples) {
    assert.deepEqual(wanting({ ...fileEntry(path), size: 100_000, mode }), [name], path);
  }
});

test('ordinary files are wanted by none', () => {
  for (const path of ['etc/passwd', 'app/package.json', 'usr/share/doc/six/README', 'app/setup.py', 'app/Gemfile', 'app/Cargo.toml', 'app/go.sum']) {
    assert.deepEqual(wanting({ ...fileEntry(path), size: 100_000 }), [], path);
  }
});

test('every extractor refuses content over maxFileBytes with a limit failure', async () => {
  const limits = { ...DEFAULT_SCAN_LIMITS, maxFileBytes: 4096 };
  const content = Buffer.alloc(4097, 0x20);
  for (const [path, name, mode] of samples) {
    const extractor = extractors.find((e) => e.name === name);
    assert.ok(extractor);
    await assert.rejects(
      async () => extractor.extract(fileEntry(path, content, mode), content, limits),
      (error) => error instanceof ScanFailure && error.reason === 'limit' && error.message.includes(path),
      name,
    );
  }
});

test("the Go extractor only wants executables up to the scan's maxFileBytes", () => {
  const limited = defaultLangExtractors({ maxFileBytes: 1024 * 1024 });
  const binary = (size: number): FileEntry => ({ ...fileEntry('usr/bin/big'), size, mode: 0o755 });
  assert.deepEqual(limited.filter((e) => e.wants(binary(1024 * 1024))).map((e) => e.name), ['go/binary']);
  assert.deepEqual(limited.filter((e) => e.wants(binary(1024 * 1024 + 1))).map((e) => e.name), []);
});
