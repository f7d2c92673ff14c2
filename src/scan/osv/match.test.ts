// OSV `affected` evaluation: hand-made records for each rule, real advisories from the shared corpus,
// and a pass over the whole corpus.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { VULNDATA, vulndataMissing } from '../../../test/helpers/vulndata.ts';
import type { OsvAffected, OsvEvent, OsvRecord } from '../types.ts';
import { comparatorFor } from '../versions/index.ts';
import { affectedEntries, ecosystemMatches, fixedVersions, isAffected, packageNameKey } from './match.ts';

const semverCompare = comparatorFor('npm')!.compare;

function entry(ecosystem: string, name: string, fields: Omit<OsvAffected, 'package'>): OsvAffected {
  return { package: { ecosystem, name }, ...fields };
}

function record(affected: OsvAffected[], extra: Partial<OsvRecord> = {}): OsvRecord {
  return { id: 'TEST-1', modified: '2024-01-01T00:00:00Z', affected, ...extra };
}

function range(type: string, ...events: OsvEvent[]): NonNullable<OsvAffected['ranges']>[number] {
  return { type, events };
}

/** The versions of `candidates` that `affected` includes. */
function affectedOf(affected: OsvAffected, candidates: string[], compare = semverCompare): string[] {
  return candidates.filter((v) => isAffected(affected, v, compare));
}

describe('ranges', () => {
  test('introduced 0 / fixed: everything below the fix', () => {
    const a = entry('npm', 'x', { ranges: [range('SEMVER', { introduced: '0' }, { fixed: '1.0.2' })] });
    assert.deepEqual(affectedOf(a, ['0.0.1', '1.0.1', '1.0.2-rc.1', '1.0.2', '1.0.3', '2.0.0']), ['0.0.1', '1.0.1', '1.0.2-rc.1']);
  });

  test('events are sorted before the walk', () => {
    const a = entry('npm', 'x', {
      ranges: [range('ECOSYSTEM', { introduced: '3.0.0' }, { fixed: '3.2.5' }, { introduced: '0' }, { fixed: '1.0.2' }, { introduced: '1.0.0' })],
    });
    assert.deepEqual(affectedOf(a, ['0.1.0', '1.0.1', '1.0.2', '2.0.0', '3.0.0', '3.2.4', '3.2.5', '4.0.0']), ['0.1.0', '1.0.1', '3.0.0', '3.2.4']);
  });

  test('last_affected includes itself, fixed does not', () => {
    const last = entry('npm', 'x', { ranges: [range('SEMVER', { introduced: '1.0.0' }, { last_affected: '2.1.214' })] });
    assert.deepEqual(affectedOf(last, ['0.9.0', '1.0.0', '2.1.214', '2.1.215']), ['1.0.0', '2.1.214']);
  });

  test('limit caps a range; "*" is infinity; several limits are OR’ed', () => {
    const capped = entry('npm', 'x', { ranges: [range('SEMVER', { introduced: '0' }, { limit: '2.0.0' })] });
    assert.deepEqual(affectedOf(capped, ['1.9.9', '2.0.0', '3.0.0']), ['1.9.9']);
    const unbounded = entry('npm', 'x', { ranges: [range('SEMVER', { introduced: '1.0.0' }, { limit: '*' })] });
    assert.deepEqual(affectedOf(unbounded, ['0.9.0', '1.0.0', '99.0.0']), ['1.0.0', '99.0.0']);
    const two = entry('npm', 'x', { ranges: [range('SEMVER', { introduced: '0' }, { fixed: '5.0.0' }, { limit: '1.0.0' }, { limit: '3.0.0' })] });
    assert.deepEqual(affectedOf(two, ['0.5.0', '2.0.0', '3.0.0', '4.0.0']), ['0.5.0', '2.0.0']);
  });

  test('an introduced equal to a fixed opens nothing', () => {
    const a = entry('npm', 'x', { ranges: [range('SEMVER', { fixed: '1.0.0' }, { introduced: '1.0.0' })] });
    assert.deepEqual(affectedOf(a, ['0.9.0', '1.0.0', '1.1.0']), []);
  });

  test('several ranges are OR’ed', () => {
    const a = entry('npm', 'x', {
      ranges: [range('SEMVER', { introduced: '0' }, { fixed: '1.0.0' }), range('SEMVER', { introduced: '2.0.0' }, { fixed: '2.5.0' })],
    });
    assert.deepEqual(affectedOf(a, ['0.5.0', '1.5.0', '2.1.0', '2.5.0']), ['0.5.0', '2.1.0']);
  });

  test('GIT ranges are ignored, the other ranges and the versions list still count', () => {
    const gitOnly = entry('PyPI', 'x', { ranges: [range('GIT', { introduced: '0' }, { fixed: 'abc123' })] });
    assert.deepEqual(affectedOf(gitOnly, ['0.1', '9.9']), []);
    const mixed = entry('PyPI', 'x', {
      ranges: [range('GIT', { introduced: '0' }, { fixed: 'abc123' }), range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.5' })],
      versions: ['2.0'],
    });
    assert.deepEqual(affectedOf(mixed, ['1.0', '1.5', '2.0', '2.0.0', '2.1'], comparatorFor('PyPI')!.compare), ['1.0', '2.0', '2.0.0']);
  });

  test('versions lists match by the ecosystem’s equality, not by string', () => {
    const a = entry('Maven', 'g:a', { versions: ['1.0', '2.0-RC1'] });
    assert.deepEqual(affectedOf(a, ['1', '1.0.0', '1.0.1', '2.0-cr1', '2.0'], comparatorFor('Maven')!.compare), ['1', '1.0.0', '2.0-cr1']);
  });
});

describe('affectedEntries', () => {
  const fixedAt = (ecosystem: string, name: string, fixed: string): OsvAffected =>
    entry(ecosystem, name, { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed })] });

  test('gives the entries for the package whose ranges include the version', () => {
    const inRange = fixedAt('npm', 'lodash', '4.17.21');
    const other = fixedAt('npm', 'lodash-es', '4.17.21');
    const tooOld = entry('npm', 'lodash', { ranges: [range('ECOSYSTEM', { introduced: '5.0.0' }, { fixed: '5.1.0' })] });
    const r = record([inRange, other, tooOld]);
    assert.deepEqual(affectedEntries(r, { ecosystem: 'npm', name: 'lodash', version: '4.17.20' }), [inRange]);
    assert.deepEqual(affectedEntries(r, { ecosystem: 'npm', name: 'lodash', version: '4.17.21' }), []);
  });

  test('withdrawn records never match', () => {
    const r = record([fixedAt('npm', 'lodash', '4.17.21')], { withdrawn: '2024-02-01T00:00:00Z' });
    assert.deepEqual(affectedEntries(r, { ecosystem: 'npm', name: 'lodash', version: '1.0.0' }), []);
  });

  test('the ecosystem string must match in full', () => {
    const r = record([fixedAt('Debian:11', 'openssl', '1.1.1n-0+deb11u5')]);
    assert.equal(affectedEntries(r, { ecosystem: 'Debian:11', name: 'openssl', version: '1.1.1n-0+deb11u4' }).length, 1);
    assert.equal(affectedEntries(r, { ecosystem: 'Debian:12', name: 'openssl', version: '1.1.1n-0+deb11u4' }).length, 0);
    assert.equal(affectedEntries(r, { ecosystem: 'Ubuntu:22.04', name: 'openssl', version: '1.1.1n-0+deb11u4' }).length, 0);
  });

  test('ecosystem strings: what OSV allows', () => {
    assert.equal(ecosystemMatches('Alpine:v3.19', 'Alpine:v3.19'), true);
    assert.equal(ecosystemMatches('Alpine:v3.19', 'Alpine:3.19'), true);
    assert.equal(ecosystemMatches('Alpine:v3.19', 'Alpine:v3.18'), false);
    assert.equal(ecosystemMatches('Alpine:v3.1', 'Alpine:v3.19'), false);
    assert.equal(ecosystemMatches('Debian', 'Debian:12'), true);
    assert.equal(ecosystemMatches('Ubuntu', 'Ubuntu:22.04'), true);
    assert.equal(ecosystemMatches('Alpine', 'Alpine:v3.19'), true);
    assert.equal(ecosystemMatches('Ubuntu:22.04:LTS', 'Ubuntu:22.04'), true);
    assert.equal(ecosystemMatches('Ubuntu:Pro:22.04:LTS', 'Ubuntu:22.04'), false);
    assert.equal(ecosystemMatches('Debian:12', 'Debian'), false);
    assert.equal(ecosystemMatches('AlmaLinux', 'AlmaLinux:9'), false);
    assert.equal(ecosystemMatches('AlmaLinux:8', 'AlmaLinux:9'), false);
    assert.equal(ecosystemMatches('Go', 'Go'), true);
    assert.equal(ecosystemMatches('PyPI', 'pypi'), false);
    assert.equal(ecosystemMatches('DebianXYZ', 'DebianXYZ:1'), false);
  });

  test('a bare distribution name in the record matches every release', () => {
    const r = record([fixedAt('Debian', 'zlib', '1:1.2.13.dfsg-1')]);
    assert.equal(affectedEntries(r, { ecosystem: 'Debian:12', name: 'zlib', version: '1:1.2.11.dfsg-2' }).length, 1);
  });

  test('PyPI names compare PEP 503-normalised, others exactly', () => {
    assert.equal(packageNameKey('PyPI', 'Zope.Interface__x'), 'zope-interface-x');
    const py = record([fixedAt('PyPI', 'typing_extensions', '4.0')]);
    for (const name of ['typing-extensions', 'Typing.Extensions', 'TYPING__EXTENSIONS']) {
      assert.equal(affectedEntries(py, { ecosystem: 'PyPI', name, version: '3.10' }).length, 1, name);
    }
    assert.equal(affectedEntries(py, { ecosystem: 'PyPI', name: 'typingextensions', version: '3.10' }).length, 0);
    const npm = record([fixedAt('npm', 'lodash', '4.17.21')]);
    assert.equal(affectedEntries(npm, { ecosystem: 'npm', name: 'Lodash', version: '1.0.0' }).length, 0);
    const maven = record([fixedAt('Maven', 'org.apache.logging.log4j:log4j-core', '2.15.0')]);
    assert.equal(affectedEntries(maven, { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core', version: '2.14.1' }).length, 1);
    assert.equal(affectedEntries(maven, { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-api', version: '2.14.1' }).length, 0);
  });

  test('unknown ecosystems and unreadable versions match nothing, without throwing', () => {
    const hex = record([fixedAt('Hex', 'plug', '1.0.0')]);
    assert.deepEqual(affectedEntries(hex, { ecosystem: 'Hex', name: 'plug', version: '0.1.0' }), []);
    const npm = record([fixedAt('npm', 'x', '1.0.0')]);
    for (const version of ['', 'latest', 'not a version', '1.0']) assert.deepEqual(affectedEntries(npm, { ecosystem: 'npm', name: 'x', version }), [], version);
    const go = record([fixedAt('Go', 'stdlib', '1.21.4')]);
    assert.deepEqual(affectedEntries(go, { ecosystem: 'Go', name: 'stdlib', version: '(devel)' }), []);
  });

  test('entries without a package and records without affected are skipped', () => {
    assert.deepEqual(affectedEntries(record([{ ranges: [range('ECOSYSTEM', { introduced: '0' })] }]), { ecosystem: 'npm', name: 'x', version: '1.0.0' }), []);
    assert.deepEqual(affectedEntries({ id: 'TEST-2', modified: '2024-01-01T00:00:00Z' }, { ecosystem: 'npm', name: 'x', version: '1.0.0' }), []);
  });
});

describe('fixedVersions', () => {
  test('the fixes above the version, nearest first', () => {
    const a = entry('npm', 'x', {
      ranges: [range('ECOSYSTEM', { introduced: '2.0.0' }, { fixed: '2.0.6' }, { introduced: '0' }, { fixed: '1.26.17' })],
    });
    assert.deepEqual(fixedVersions(a, '1.26.5', semverCompare), ['1.26.17', '2.0.6']);
    assert.deepEqual(fixedVersions(a, '2.0.3', semverCompare), ['2.0.6']);
  });

  test('a fix that another range still covers is skipped (Alpine lists one range per fix)', () => {
    const apk = comparatorFor('Alpine:v3.11')!.compare;
    const a = entry('Alpine:v3.11', 'musl', {
      ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.1.24-r0' }), range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.1.24-r2' })],
    });
    assert.deepEqual(fixedVersions(a, '1.1.23-r0', apk), ['1.1.24-r2']);
  });

  test('no fix: last_affected only, GIT commits, or nothing above the version', () => {
    assert.deepEqual(fixedVersions(entry('npm', 'x', { ranges: [range('SEMVER', { introduced: '0' }, { last_affected: '1.0.0' })] }), '0.5.0', semverCompare), []);
    assert.deepEqual(fixedVersions(entry('PyPI', 'x', { ranges: [range('GIT', { introduced: '0' }, { fixed: 'abc123' })] }), '0.5', semverCompare), []);
    assert.deepEqual(fixedVersions(entry('npm', 'x', { versions: ['1.0.0'] }), '1.0.0', semverCompare), []);
  });
});

function corpusRecord(dir: string, id: string): OsvRecord {
  return JSON.parse(readFileSync(join(VULNDATA, 'osv', dir, `${id}.json`), 'utf8')) as OsvRecord;
}

/** Which of `versions` the record flags for the package, and the nearest fix for each flagged one. */
function flagged(r: OsvRecord, ecosystem: string, name: string, versions: string[]): Record<string, string | undefined> {
  const compare = comparatorFor(ecosystem)!.compare;
  const result: Record<string, string | undefined> = {};
  for (const version of versions) {
    const entries = affectedEntries(r, { ecosystem, name, version });
    if (entries.length > 0) result[version] = entries.flatMap((e) => fixedVersions(e, version, compare)).sort(compare)[0];
  }
  return result;
}

describe('real advisories', { skip: vulndataMissing() }, () => {
  test('PYSEC-2023-192 (urllib3): unsorted events, a GIT range beside the ECOSYSTEM one', () => {
    const r = corpusRecord('PyPI', 'PYSEC-2023-192');
    assert.deepEqual(flagged(r, 'PyPI', 'urllib3', ['1.25.0', '1.26.16', '1.26.17', '1.26.18', '2.0.0', '2.0.5', '2.0.6', '2.1.0']), {
      '1.25.0': '1.26.17',
      '1.26.16': '1.26.17',
      '2.0.0': '2.0.6',
      '2.0.5': '2.0.6',
    });
  });

  test('x_NSP-1: an NSP `<=1.5.1` range is last_affected', () => {
    const r = corpusRecord('npm', 'x_NSP-1');
    assert.deepEqual(flagged(r, 'npm', 'bassmaster', ['1.0.0', '1.5.1', '1.5.2', '2.0.0']), { '1.0.0': undefined, '1.5.1': undefined });
  });

  test('x_NSP-330: a versions list and no ranges', () => {
    const r = corpusRecord('npm', 'x_NSP-330');
    assert.deepEqual(flagged(r, 'npm', 'jquery', ['3.0.0-rc.1', '3.0.0', '3.0.0-beta1', '2.2.4']), { '3.0.0-rc.1': undefined });
  });

  test('GHSA-c2qf-rxjj-qqgw (semver): three entries for one package', () => {
    const r = corpusRecord('npm', 'GHSA-c2qf-rxjj-qqgw');
    assert.deepEqual(flagged(r, 'npm', 'semver', ['5.7.1', '5.7.2', '6.3.0', '6.3.1', '7.0.0', '7.5.1', '7.5.2']), {
      '5.7.1': '5.7.2',
      '6.3.0': '6.3.1',
      '7.0.0': '7.5.2',
      '7.5.1': '7.5.2',
    });
  });

  test('GHSA-29mw-wpgm-hmr9 (lodash): fixed and last_affected entries', () => {
    const r = corpusRecord('npm', 'GHSA-29mw-wpgm-hmr9');
    assert.deepEqual(flagged(r, 'npm', 'lodash', ['4.17.20', '4.17.21']), { '4.17.20': '4.17.21' });
    assert.deepEqual(flagged(r, 'npm', 'lodash.trim', ['4.5.1', '4.5.2']), { '4.5.1': undefined });
  });

  test('DSA-4661-1 (openssl source package, Debian 10)', () => {
    const r = corpusRecord('Debian', 'DSA-4661-1');
    assert.deepEqual(flagged(r, 'Debian:10', 'openssl', ['1.1.1d-0+deb10u2', '1.1.1d-0+deb10u3', '1.1.1n-0+deb10u1']), { '1.1.1d-0+deb10u2': '1.1.1d-0+deb10u3' });
    assert.deepEqual(flagged(r, 'Debian:11', 'openssl', ['1.1.1d-0+deb10u2']), {});
    assert.deepEqual(flagged(r, 'Debian:10', 'libssl1.1', ['1.1.1d-0+deb10u2']), {});
  });

  test('ALPINE-CVE-2019-1543 (secdb, one entry per release)', () => {
    const r = corpusRecord('Alpine', 'ALPINE-CVE-2019-1543');
    assert.deepEqual(flagged(r, 'Alpine:v3.10', 'openssl', ['1.1.1b-r0', '1.1.1b-r1', '1.1.1d-r0']), { '1.1.1b-r0': '1.1.1b-r1' });
    assert.deepEqual(flagged(r, 'Alpine:v3.11', 'openssl', ['1.1.1a-r9']), { '1.1.1a-r9': '1.1.1b-r1' });
    assert.deepEqual(flagged(r, 'Alpine:v3.12', 'openssl', ['1.1.1a-r9']), {});
  });

  test('ALSA-2022:6224 (AlmaLinux 9 openssl-libs, fixed version with an epoch)', () => {
    const r = corpusRecord('AlmaLinux', 'ALSA-2022:6224');
    assert.deepEqual(flagged(r, 'AlmaLinux:9', 'openssl-libs', ['1:3.0.1-23.el9_0', '1:3.0.1-41.el9_0', '1:3.0.1-43.el9_0', '3.0.1-43.el9_0']), {
      '1:3.0.1-23.el9_0': '1:3.0.1-41.el9_0',
      // Without an epoch the installed version is epoch 0, older than any 1: version.
      '3.0.1-43.el9_0': '1:3.0.1-41.el9_0',
    });
    assert.deepEqual(flagged(r, 'AlmaLinux:8', 'openssl-libs', ['1:3.0.1-23.el9_0']), {});
  });

  test('rubysec: two ranges, a last_affected range, a versions list', () => {
    const nokogiri = corpusRecord('RubyGems', 'x_RUBYSEC-nokogiri-GHSA-xc9x-jj77-9p9j');
    assert.deepEqual(flagged(nokogiri, 'RubyGems', 'nokogiri', ['1.15.5', '1.15.6', '1.16.0', '1.16.0.rc1', '1.16.1', '1.16.2', '1.17.0']), {
      '1.15.5': '1.15.6',
      '1.16.0': '1.16.2',
      '1.16.1': '1.16.2',
    });
    const wallet = corpusRecord('RubyGems', 'x_RUBYSEC-blockchain_wallet-CVE-2019-15224');
    assert.deepEqual(flagged(wallet, 'RubyGems', 'blockchain_wallet', ['0.0.5', '0.0.6', '0.0.7', '0.0.8']), { '0.0.6': undefined, '0.0.7': undefined });
    const bot = corpusRecord('RubyGems', 'x_RUBYSEC-awesome-bot-CVE-2019-15224');
    assert.deepEqual(flagged(bot, 'RubyGems', 'awesome-bot', ['1.17.2', '1.18.0', '1.18.0.0', '1.18.1']), { '1.18.0': undefined, '1.18.0.0': undefined });
  });

  test('GO-2023-2185 (stdlib) with Go release versions', () => {
    const r = corpusRecord('Go', 'GO-2023-2185');
    assert.deepEqual(flagged(r, 'Go', 'stdlib', ['go1.20.10', 'go1.20.11', 'go1.20.12', 'go1.21rc2', 'go1.21.0', 'go1.21.4', 'go1.21.5', 'go1.22.0']), {
      'go1.20.10': '1.20.11',
      'go1.20.11': '1.20.12',
      'go1.21rc2': '1.21.4',
      'go1.21.0': '1.21.4',
      'go1.21.4': '1.21.5',
    });
  });

  test('the whole corpus: each range excludes its fixed versions and includes its introduced ones', (t) => {
    let checked = 0;
    const failures: string[] = [];
    for (const dir of readdirSync(join(VULNDATA, 'osv'))) {
      for (const file of readdirSync(join(VULNDATA, 'osv', dir))) {
        const r = JSON.parse(readFileSync(join(VULNDATA, 'osv', dir, file), 'utf8')) as OsvRecord;
        if (r.withdrawn !== undefined) continue;
        for (const a of r.affected ?? []) {
          const comparator = comparatorFor(a.package?.ecosystem ?? '');
          if (!comparator) {
            failures.push(`${r.id}: no comparator for ${a.package?.ecosystem}`);
            continue;
          }
          for (const rg of a.ranges ?? []) {
            if (rg.type !== 'ECOSYSTEM' && rg.type !== 'SEMVER') continue;
            const alone: OsvAffected = { ranges: [rg] };
            const fixed = rg.events.flatMap((e) => ('fixed' in e ? [e.fixed] : []));
            for (const f of fixed) {
              checked++;
              if (isAffected(alone, f, comparator.compare)) failures.push(`${r.id} ${a.package?.name}: fixed ${f} is affected`);
            }
            for (const e of rg.events) {
              if (!('introduced' in e) || e.introduced === '0' || fixed.some((f) => comparator.compare(f, e.introduced) === 0)) continue;
              checked++;
              if (!isAffected(alone, e.introduced, comparator.compare)) failures.push(`${r.id} ${a.package?.name}: introduced ${e.introduced} is not affected`);
            }
          }
        }
      }
    }
    t.diagnostic(`${checked} fixed/introduced versions checked`);
    assert.ok(checked > 20_000);
    assert.deepEqual(failures, []);
  });
});
