// comparatorFor: the ecosystem string's part before the first `:` picks the comparator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as apk from './apk.ts';
import * as dpkg from './dpkg.ts';
import * as go from './go.ts';
import { comparatorFor } from './index.ts';
import * as maven from './maven.ts';
import * as nuget from './nuget.ts';
import * as pypi from './pypi.ts';
import * as rpm from './rpm.ts';
import * as rubygems from './rubygems.ts';
import * as semver from './semver.ts';

test('comparatorFor picks by the part before the first colon', () => {
  assert.equal(comparatorFor('Debian:12'), dpkg);
  assert.equal(comparatorFor('Ubuntu:22.04:LTS'), dpkg);
  assert.equal(comparatorFor('Alpine:v3.19'), apk);
  assert.equal(comparatorFor('AlmaLinux:9'), rpm);
  assert.equal(comparatorFor('Rocky Linux:9'), rpm);
  assert.equal(comparatorFor('Red Hat'), rpm);
  assert.equal(comparatorFor('npm'), semver);
  assert.equal(comparatorFor('crates.io'), semver);
  assert.equal(comparatorFor('Go'), go);
  assert.equal(comparatorFor('PyPI'), pypi);
  assert.equal(comparatorFor('RubyGems'), rubygems);
  assert.equal(comparatorFor('Maven'), maven);
  assert.equal(comparatorFor('Maven:https://maven.google.com'), maven);
  assert.equal(comparatorFor('NuGet'), nuget);
});

test('comparatorFor knows no other ecosystem, nor a different spelling', () => {
  for (const ecosystem of ['Packagist', 'Hex', 'Pub', 'debian:12', 'DEBIAN', '', ':12']) assert.equal(comparatorFor(ecosystem), undefined, ecosystem);
});
