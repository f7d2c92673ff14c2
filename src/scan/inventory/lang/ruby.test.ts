import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractFile, fileEntry, ids, LAYER } from './entry.fixture.ts';
import { gemfileLockExtractor, gemspecExtractor } from './ruby.ts';

const installedGemspec = `# -*- encoding: utf-8 -*-
# stub: nokogiri 1.15.4 x86_64-linux lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.15.4".freeze
  s.platform = "x86_64-linux".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/sparklemotion/nokogiri/issues" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Mike Dalessio".freeze]
  s.summary = "Nokogiri (\\u92F8) makes it easy and painless to work with XML and HTML from Ruby.".freeze
  s.add_runtime_dependency(%q<racc>.freeze, ["~> 1.4"])
end
`;

test('installed gemspec: s.name and s.version, the platform kept out of the version', async () => {
  const path = 'usr/local/bundle/specifications/nokogiri-1.15.4-x86_64-linux.gemspec';
  assert.deepEqual(await extractFile(gemspecExtractor, path, installedGemspec), [
    { name: 'nokogiri', version: '1.15.4', ecosystem: 'RubyGems', kind: 'lang', layerDigest: LAYER, path, purl: 'pkg:gem/nokogiri@1.15.4' },
  ]);
});

test('gemspec forms: another block variable, single quotes, %q{}, Gem::Version.new', async () => {
  const spec = `Gem::Specification.new do |spec|\n  spec.name    = %q{rack}\n  spec.version = Gem::Version.new('3.0.8')\nend\n`;
  assert.deepEqual(ids(await extractFile(gemspecExtractor, 'usr/lib/ruby/gems/3.2.0/specifications/rack-3.0.8.gemspec', spec)), ['rack@3.0.8']);
  const braces = `Gem::Specification.new { |g| g.name = 'net-http'; g.version = '0.4.1' }`;
  const defaultGem = 'usr/lib/ruby/gems/3.2.0/specifications/default/net-http-0.4.1.gemspec';
  assert.deepEqual(ids(await extractFile(gemspecExtractor, defaultGem, braces.replace('; ', '\n  '))), ['net-http@0.4.1']);
});

test('gemspec fallback: the file name, when the content does not say', async () => {
  const dir = 'var/lib/gems/3.1.0/specifications/';
  const cases: [string, string][] = [
    ['rack-3.0.8.gemspec', 'rack@3.0.8'],
    ['nokogiri-1.15.4-x86_64-linux.gemspec', 'nokogiri@1.15.4'],
    ['net-http-persistent-4.0.2.gemspec', 'net-http-persistent@4.0.2'],
    ['rails-2fa-1.0.0.gemspec', 'rails-2fa@1.0.0'],
    ['sass-3.7.4.pre.1.gemspec', 'sass@3.7.4.pre.1'],
  ];
  for (const [file, id] of cases) {
    assert.deepEqual(ids(await extractFile(gemspecExtractor, dir + file, '\u0000\u00ff binary garbage')), [id], file);
  }
  assert.deepEqual(await extractFile(gemspecExtractor, `${dir}no-version-here.gemspec`, ''), []);
});

test('gemspecs are wanted only under specifications/', () => {
  assert.ok(!gemspecExtractor.wants(fileEntry('app/mygem.gemspec', 'x')), "a project's own gemspec");
  assert.ok(!gemspecExtractor.wants(fileEntry('usr/local/bundle/specifications/x/y-1.gemspec', 'x')));
});

const gemfileLock = `GIT
  remote: https://github.com/me/forked.git
  revision: 1234abcd
  specs:
    forked (0.1.0)

PATH
  remote: engines/billing
  specs:
    billing (0.0.1)
      rails (>= 7.0)

GEM
  remote: https://rubygems.org/
  specs:
    actionpack (7.1.2)
      actionview (= 7.1.2)
      rack (>= 2.2.4)
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    nokogiri (1.15.4-arm64-darwin)
    rack (3.0.8)
    racc (1.7.3)

PLATFORMS
  arm64-darwin-22
  x86_64-linux

DEPENDENCIES
  actionpack (~> 7.1)
  nokogiri

BUNDLED WITH
   2.4.22
`;

test('Gemfile.lock: the GEM section at four spaces, platform suffixes dropped, dependencies ignored', async () => {
  const packages = await extractFile(gemfileLockExtractor, 'app/Gemfile.lock', gemfileLock.replaceAll('\n', '\r\n'));
  assert.deepEqual(ids(packages), ['actionpack@7.1.2', 'nokogiri@1.15.4', 'racc@1.7.3', 'rack@3.0.8']);
  assert.equal(packages.find((p) => p.name === 'rack')?.purl, 'pkg:gem/rack@3.0.8');
});

test('a malformed Gemfile.lock gives what it can', async () => {
  const truncated = gemfileLock.slice(0, gemfileLock.indexOf('    rack (3'));
  assert.deepEqual(ids(await extractFile(gemfileLockExtractor, 'Gemfile.lock', truncated)), ['actionpack@7.1.2', 'nokogiri@1.15.4']);
  const junk = `GEM\n  specs:\n    ${'x'.repeat(100_000)} (1.0)\n    ok (1.0\n    fine (2.0)\n`;
  assert.deepEqual(ids(await extractFile(gemfileLockExtractor, 'Gemfile.lock', junk)), ['fine@2.0']);
});
