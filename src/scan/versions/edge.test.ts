// Hand-written edge cases per ecosystem, beside the shared vectors (vectors.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as apk from './apk.ts';
import * as dpkg from './dpkg.ts';
import * as go from './go.ts';
import type { VersionComparator } from './index.ts';
import * as maven from './maven.ts';
import * as nuget from './nuget.ts';
import * as pypi from './pypi.ts';
import * as rpm from './rpm.ts';
import * as rubygems from './rubygems.ts';
import * as semver from './semver.ts';

/** Each `[a, op, b]` must hold both ways round. */
function orders(comparator: VersionComparator, cases: [string, '<' | '=' | '>', string][]): void {
  const sign = { '<': -1, '=': 0, '>': 1 };
  for (const [a, op, b] of cases) {
    assert.equal(Math.sign(comparator.compare(a, b)) || 0, sign[op], `${a} ${op} ${b}`);
    assert.equal(Math.sign(comparator.compare(b, a)) || 0, 0 - sign[op], `${b} reversed ${a}`);
  }
}

function validity(comparator: VersionComparator, valid: string[], invalid: string[]): void {
  for (const v of valid) assert.equal(comparator.isValid(v), true, v);
  for (const v of invalid) assert.equal(comparator.isValid(v), false, v);
}

describe('dpkg', () => {
  test('epochs, tildes, revisions', () => {
    orders(dpkg, [
      ['1:1.0', '>', '2.0'],
      ['1.0~rc1', '<', '1.0'],
      ['1.0~~', '<', '1.0~'],
      ['1.0', '<', '1.0+b1'],
      ['1.0a', '<', '1.0+'],
      ['2.36-9+deb12u3', '<', '2.36-9+deb12u4'],
      ['1.2.3-1~deb11u1', '<', '1.2.3-1'],
      ['3.0.11-1~deb12u2', '>', '3.0.9-1'],
      ['1.0-1', '=', '0:1.0-1'],
      ['1.0-2-1', '>', '1.0-1-9'],
      ['20230311', '<', '1:0'],
      ['1.0.99999999999999999999', '<', '1.0.100000000000000000000'],
    ]);
  });
  test('validity', () => {
    validity(dpkg, ['1.2-3', '1:2.30-1+deb12u1', '7.88.1-10+deb12u5', '2.36'], ['', 'a1.0', 'x:1.0', '1.0-', '1.0 2', '1.0-r_1']);
  });
});

describe('apk', () => {
  test('suffixes, letters, revisions, leading zeros', () => {
    orders(apk, [
      ['1.2.3-r1', '>', '1.2.3-r0'],
      ['1.2_rc1-r0', '<', '1.2-r0'],
      ['1.2_alpha1', '<', '1.2_beta1'],
      ['1.2_p1', '>', '1.2'],
      ['1.2_p1', '<', '1.2.1'],
      ['1.2a', '>', '1.2'],
      ['1.2a', '<', '1.2.1'],
      ['1.10', '>', '1.9'],
      ['1.02', '<', '1.1'],
      ['1.2~abc-r1', '>', '1.2-r1'],
      ['3.1.4-r5', '<', '3.1.4-r10'],
      ['6.6.1p1-r0', '<', '6.6.2p1-r0'],
      ['6.6.10p1-r0', '>', '6.6.2p1-r0'],
      ['6.6.2p1-r0', '<', '6.6.2p2-r0'],
      ['6.6.2p1-r0', '>', '6.6.2_p1-r0'],
    ]);
  });
  test('validity follows the apk-package(5) grammar', () => {
    validity(apk, ['3.0.12-r0', '1.2.3_rc1_p2', '1.0a', '1.2~0af1-r3', '20230311', '6.6.2p1-r0'], ['', '1.2-3', '1.2_foo', 'v1.0', '1.0-r', '1.0.r1', '1.0ab']);
  });
});

describe('rpm', () => {
  test('a missing epoch is 0 (AlmaLinux fixed versions carry one, installed ones often not)', () => {
    orders(rpm, [
      ['3.0.7-24.el9', '<', '1:3.0.7-16.el9'],
      ['0:3.0.7-24.el9', '=', '3.0.7-24.el9'],
      ['1:3.0.7-24.el9', '>', '1:3.0.7-16.el9'],
    ]);
  });
  test('tilde, caret, releases', () => {
    orders(rpm, [
      ['1.0~rc1', '<', '1.0'],
      ['1.0^post1', '>', '1.0'],
      ['1.0^post1', '<', '1.0.1'],
      ['2.28-236.el9_4.1', '<', '2.28-236.el9_4.2'],
      ['1.9.5p2-1.el8_10.1', '>', '1.9.5p1-1.el8_10.1'],
      ['3.6.8-56.el8_9.2.alma.1', '>', '3.6.8-56.el8_9.2'],
      ['1.0-1', '<', '1.0a-1'],
    ]);
  });
  test('validity', () => {
    validity(rpm, ['3.0.7-24.el9', '1:3.0.7-24.el9', '2.0.1a'], ['', 'x:1.0', ':1.0', '1.0 -1']);
  });
});

describe('semver', () => {
  test('precedence', () => {
    orders(semver, [
      ['1.0.0-rc.1', '<', '1.0.0'],
      ['1.0.0-alpha.beta', '<', '1.0.0-alpha.beta.1'],
      ['1.2.3+build.1', '=', '1.2.3+build.2'],
      ['v1.2.3', '=', '1.2.3'],
      ['2.0.0-0', '<', '2.0.0-alpha'],
      ['0.0.0-20210101000000-abcdef123456', '<', '0.1.0'],
      ['1.2', '=', '1.2.0'],
    ]);
  });
  test('validity is node-semver’s', () => {
    validity(semver, ['1.2.3', 'v1.2.3', '1.2.3-rc.1+b.2'], ['', '1.2', '1.2.3.4', '01.2.3', 'latest']);
  });
});

describe('go', () => {
  test('module versions with a v, OSV versions without', () => {
    orders(go, [
      ['v1.2.3', '=', '1.2.3'],
      ['v0.0.0-20210101000000-abcdef123456', '<', '0.0.1'],
      ['v20.10.24+incompatible', '=', '20.10.24+incompatible'],
      ['v0.17.0', '>', '0.16.0'],
    ]);
  });
  test('Go releases', () => {
    assert.equal(go.toSemver('go1.21.4'), '1.21.4');
    assert.equal(go.toSemver('go1.20'), '1.20.0');
    assert.equal(go.toSemver('go1.21rc2'), '1.21.0-rc.2');
    assert.equal(go.toSemver('go1.9beta1'), '1.9.0-beta.1');
    orders(go, [
      ['go1.21.4', '=', '1.21.4'],
      ['go1.21rc2', '<', '1.21.0'],
      ['go1.21rc2', '>', '1.21.0-0'],
      ['go1.21.10', '>', 'go1.21.9'],
      ['go1.20', '<', '1.20.1'],
    ]);
  });
  test('validity', () => {
    validity(go, ['v1.2.3', 'go1.22.1', 'go1.21rc2', 'v0.0.0-20210101000000-abcdef123456'], ['(devel)', 'go1.x', 'devel go1.23-abcdef', '']);
  });
});

describe('pypi', () => {
  test('PEP 440 order and normalisation', () => {
    orders(pypi, [
      ['1.0.post1', '>', '1.0'],
      ['1.0-1', '=', '1.0.post1'],
      ['1.0RC1', '=', '1.0rc1'],
      ['1.0.0', '=', '1.0'],
      ['1.0+local', '>', '1.0'],
      ['1.0.dev1', '<', '1.0a1'],
      ['2!1.0', '>', '3.0'],
      ['v1.0', '=', '1.0'],
    ]);
  });
  test('legacy versions sort before PEP 440 versions', () => {
    orders(pypi, [
      ['2013-01-21T20:33:09+0100', '<', '0.1'],
      ['0.9-doduo', '<', '0.9-eevee'],
    ]);
  });
  test('validity', () => {
    validity(pypi, ['1.0', '1.0.post1', '2!1.0+ubuntu.1'], ['', 'not a version', '0.9-doduo']);
  });
});

describe('rubygems', () => {
  test('Gem::Version order', () => {
    orders(rubygems, [
      ['1.2.4.beta', '<', '1.2.4'],
      ['1.0.0-rc1', '<', '1.0.0'],
      ['1.0.0-rc1', '=', '1.0.0.pre.rc1'],
      ['6.1.5.1', '>', '6.1.5'],
      ['1.0', '=', '1'],
      ['1.0.a', '<', '1.0.b'],
      ['1.0.a', '<', '1.0.0.1'],
    ]);
  });
  test('validity', () => {
    validity(rubygems, ['1.2.3', '1.0.0.rc1', '1.0.0-rc1'], ['', 'abc', '1..2', '1.2 3']);
  });
});

describe('maven', () => {
  test('qualifiers and separators', () => {
    orders(maven, [
      ['1.0-alpha1', '<', '1.0-beta1'],
      ['1.0-M1', '<', '1.0-RC1'],
      ['1.0-rc1', '=', '1.0-cr1'],
      ['1.0-SNAPSHOT', '<', '1.0'],
      ['1.0.Final', '=', '1.0'],
      ['1.0.RELEASE', '=', '1.0'],
      ['1.0-sp1', '>', '1.0'],
      ['1.0-foo', '>', '1.0-sp'],
      ['2.13.4.2', '>', '2.13.4'],
      ['1.0.1', '>', '1.0-1'],
      ['5.3.27', '<', '6.0.0-M1'],
      ['1.0.0.Final', '<', '1.0.1.Beta1'],
    ]);
  });
  test('validity', () => {
    validity(maven, ['1.0', '2.13.4.2', '1.0-SNAPSHOT'], ['', '1.0 beta']);
  });
});

describe('nuget', () => {
  test('four parts and case-insensitive prereleases', () => {
    orders(nuget, [
      ['1.0', '=', '1.0.0.0'],
      ['4.0.0.1', '>', '4.0.0'],
      ['1.0.0-beta', '<', '1.0.0'],
      ['1.0.0-Beta', '=', '1.0.0-beta'],
      ['1.0.0-alpha.2', '<', '1.0.0-alpha.10'],
      ['1.0.0-alpha', '<', '1.0.0-alpha.1'],
      ['1.0.0+abc', '=', '1.0.0'],
      ['1.0.01', '=', '1.0.1'],
    ]);
  });
  test('validity', () => {
    validity(nuget, ['1', '1.0', '1.2.3.4', '1.0.0-rc.1+sha.5'], ['', '1.2.3.4.5', 'v1.0', '1.0-', '1.0.x']);
  });
});
