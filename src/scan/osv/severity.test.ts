import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VULNDATA, vulndataMissing } from '../../../test/helpers/vulndata.ts';
import type { OsvAffected, OsvRecord } from '../types.ts';
import { parseOsvRecord } from './schema.ts';
import { cvssBaseScore, cvssSeverity, rateSeverity, type SeverityRating } from './severity.ts';

function corpus(dir: string, id: string): OsvRecord {
  const r = parseOsvRecord(JSON.parse(readFileSync(join(VULNDATA, 'osv', dir, `${id}.json`), 'utf8')));
  assert.ok(r.ok);
  return r.record;
}

const record = (extra: Partial<OsvRecord> = {}): OsvRecord => ({ id: 'TEST-1', modified: '2024-01-01T00:00:00Z', ...extra });
const V3_CRITICAL = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H';

describe('rateSeverity on real advisories', { skip: vulndataMissing() }, () => {
  const cases: [string, string, string, SeverityRating][] = [
    [
      'a GHSA npm record: its CVSS v3 vector rather than its declared word',
      'npm',
      'GHSA-jf85-cpcp-j695',
      { severity: 'CRITICAL', score: 9.1, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H', version: 'CVSS_V3', source: 'severity' },
    ],
    [
      'a GHSA npm record declared MODERATE, whose vector rates 5.3',
      'npm',
      'GHSA-29mw-wpgm-hmr9',
      { severity: 'MEDIUM', score: 5.3, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L', version: 'CVSS_V3', source: 'severity' },
    ],
    ['a GHSA npm record without a vector: its database_specific.severity', 'npm', 'GHSA-4xc9-xhrj-v574', { severity: 'HIGH', source: 'database_specific.severity' }],
    [
      'an NSP record with a CVSS 3.0 vector',
      'npm',
      'x_NSP-368',
      { severity: 'LOW', score: 1.8, vector: 'CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L', version: 'CVSS_V3', source: 'severity' },
    ],
    ['an NSP record whose only vector is invalid (I:U) and kept aside', 'npm', 'x_NSP-504', { severity: 'UNDEFINED', source: 'none' }],
    [
      'a PyPI record with CVSS_V3',
      'PyPI',
      'PYSEC-2023-192',
      { severity: 'HIGH', score: 8.1, vector: 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N', version: 'CVSS_V3', source: 'severity' },
    ],
    ['a Go record: Go advisories carry no severity', 'Go', 'GO-2022-0236', { severity: 'UNDEFINED', source: 'none' }],
    ['an AlmaLinux record: the Red Hat rating of its summary ("Important:")', 'AlmaLinux', 'ALSA-2020:2755', { severity: 'HIGH', source: 'summary' }],
    ['a Debian DLA: no severity', 'Debian', 'DLA-3068-1', { severity: 'UNDEFINED', source: 'none' }],
    ['an Alpine secdb record: no severity', 'Alpine', 'ALPINE-CVE-2019-14697', { severity: 'UNDEFINED', source: 'none' }],
    ['a rubysec record with only a numeric CVSS v3 score', 'RubyGems', 'x_RUBYSEC-RedCloth-CVE-2023-31606', { severity: 'HIGH', score: 7.5, version: 'CVSS_V3', source: 'database_specific.cvss_v3' }],
    ['a rubysec record with only a numeric CVSS v2 score', 'RubyGems', 'x_RUBYSEC-actionpack-CVE-2008-7248', { severity: 'MEDIUM', score: 6.8, version: 'CVSS_V2', source: 'database_specific.cvss_v2' }],
    [
      'a rubysec record with v4 2.3 and v3 6.5: v3 is preferred over the LOW derived from v4',
      'RubyGems',
      'x_RUBYSEC-activestorage-CVE-2026-33658',
      { severity: 'MEDIUM', score: 6.5, version: 'CVSS_V3', source: 'database_specific.cvss_v3' },
    ],
    ['a rubysec record with only a CVSS v4 score', 'RubyGems', 'x_RUBYSEC-action_text-trix-GHSA-53p3-c7vp-4mcc', { severity: 'LOW', score: 2.1, version: 'CVSS_V4', source: 'database_specific.cvss_v4' }],
  ];
  for (const [what, dir, id, expected] of cases) {
    test(`${what} (${id})`, () => {
      const r = corpus(dir, id);
      for (const affected of r.affected ?? []) assert.deepEqual(rateSeverity(r, affected), expected);
      assert.deepEqual(rateSeverity(r), expected);
    });
  }

  test('AlmaLinux ratings map Critical, Moderate and Low too', () => {
    for (const [id, word, severity] of [
      ['ALSA-2021:4903', 'Critical', 'CRITICAL'],
      ['ALSA-2020:4490', 'Moderate', 'MEDIUM'],
      ['ALSA-2021:4510', 'Low', 'LOW'],
    ] as const) {
      const r = corpus('AlmaLinux', id);
      assert.ok(r.summary!.startsWith(`${word}: `), r.summary);
      assert.deepEqual(rateSeverity(r), { severity, source: 'summary' });
    }
  });
});

describe('rateSeverity chooses among sources', () => {
  const v2 = { type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:P/A:P' };
  const v4 = { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N' };

  test('the affected entry before the record', () => {
    const affected: OsvAffected = { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:L/A:L' }] };
    const r = record({ severity: [{ type: 'CVSS_V3', score: V3_CRITICAL }], affected: [affected] });
    assert.deepEqual(rateSeverity(r, affected), { severity: 'LOW', score: 3.9, vector: affected.severity![0]!.score, version: 'CVSS_V3', source: 'affected.severity' });
    assert.equal(rateSeverity(r, {}).source, 'severity');
  });

  test('CVSS v3 before v4 before v2, whatever the order of the entries', () => {
    assert.deepEqual(rateSeverity(record({ severity: [v2, v4, { type: 'CVSS_V3', score: V3_CRITICAL }] })), {
      severity: 'CRITICAL',
      score: 9.8,
      vector: V3_CRITICAL,
      version: 'CVSS_V3',
      source: 'severity',
    });
    assert.deepEqual(rateSeverity(record({ severity: [v2, v4] })), { severity: 'MEDIUM', score: 6.9, vector: v4.score, version: 'CVSS_V4', source: 'severity' });
    assert.deepEqual(rateSeverity(record({ severity: [v2] })), { severity: 'HIGH', score: 7.5, vector: v2.score, version: 'CVSS_V2', source: 'severity' });
  });

  test('an invalid vector falls through to the next valid one, then to the next source', () => {
    const bad = [
      { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:U/A:U' }, // unknown value
      { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H' }, // incomplete
      { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y' }, // unknown metric
      { type: 'CVSS_V3', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }, // wrong version for its type
      { type: 'CVSS_V3', score: '' },
      { type: 'CVSS_V2', score: 'garbage' },
      { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N' },
    ];
    assert.deepEqual(rateSeverity(record({ severity: [...bad, v2] })).version, 'CVSS_V2');
    assert.deepEqual(rateSeverity(record({ severity: bad, database_specific: { severity: 'MODERATE' } })), { severity: 'MEDIUM', source: 'database_specific.severity' });
    assert.deepEqual(rateSeverity(record({ severity: bad })), { severity: 'UNDEFINED', source: 'none' });
  });

  test('numeric scores come after vectors and must be numbers from 0 to 10', () => {
    const dbs = { cvss_v3: 9.8, severity: 'LOW' };
    assert.equal(rateSeverity(record({ severity: [v2], database_specific: dbs })).source, 'severity');
    assert.deepEqual(rateSeverity(record({ database_specific: dbs })), { severity: 'CRITICAL', score: 9.8, version: 'CVSS_V3', source: 'database_specific.cvss_v3' });
    assert.deepEqual(rateSeverity(record({ database_specific: { cvss_v3: '9.8', cvss_v4: 11, severity: 'LOW' } })), { severity: 'LOW', source: 'database_specific.severity' });
  });

  test('declared words: Ubuntu priorities, GHSA and rubysec words, Debian urgencies', () => {
    const words: [string, string][] = [
      ['CRITICAL', 'CRITICAL'],
      ['HIGH', 'HIGH'],
      ['important', 'HIGH'],
      ['MODERATE', 'MEDIUM'],
      ['medium', 'MEDIUM'],
      ['Low', 'LOW'],
      ['negligible', 'INFORMATIONAL'],
      ['unimportant', 'INFORMATIONAL'],
      ['not yet assigned', 'UNDEFINED'],
    ];
    for (const [word, severity] of words) {
      assert.equal(rateSeverity(record({ database_specific: { severity: word } })).severity, severity, word);
      assert.equal(rateSeverity(record(), { ecosystem_specific: { urgency: word } }).severity, severity, word);
    }
    const ubuntu = record({ severity: [{ type: 'Ubuntu', score: 'medium' }], database_specific: { severity: 'HIGH' } });
    assert.deepEqual(rateSeverity(ubuntu), { severity: 'MEDIUM', source: 'severity' });
    assert.deepEqual(rateSeverity(record({ severity: [{ type: 'Ubuntu', score: 'high' }, { type: 'CVSS_V3', score: V3_CRITICAL }] })).severity, 'CRITICAL');
    assert.deepEqual(rateSeverity(record(), { ecosystem_specific: { urgency: 'not yet assigned', severity: 'low' } }), { severity: 'LOW', source: 'affected.ecosystem_specific.severity' });
    assert.deepEqual(rateSeverity(record({ database_specific: { severity: 'LOW' } }), { database_specific: { severity: 'HIGH' } }), {
      severity: 'HIGH',
      source: 'affected.database_specific.severity',
    });
  });

  test('the Red Hat rating of a summary counts only for AlmaLinux, Rocky Linux and Red Hat packages', () => {
    const r = (ecosystem: string) => record({ summary: 'Important: kernel security update', affected: [{ package: { ecosystem, name: 'kernel' } }] });
    assert.equal(rateSeverity(r('Rocky Linux:9')).severity, 'HIGH');
    assert.equal(rateSeverity(r('Red Hat')).severity, 'HIGH');
    assert.equal(rateSeverity(r('AlmaLinux:8'), { package: { ecosystem: 'AlmaLinux:8', name: 'kernel' } }).severity, 'HIGH');
    assert.equal(rateSeverity(r('npm')).severity, 'UNDEFINED');
    assert.equal(rateSeverity(r('AlmaLinuxish')).severity, 'UNDEFINED');
    assert.equal(rateSeverity(record({ summary: 'Kernel update: Important', affected: [{ package: { ecosystem: 'AlmaLinux:9', name: 'k' } }] })).severity, 'UNDEFINED');
  });
});

describe('cvssBaseScore and cvssSeverity', () => {
  const v3: [string, number, string][] = [
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0, 'INFORMATIONAL'],
    ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6, 'LOW'],
    ['CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:L/A:L', 3.9, 'LOW'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:N/A:L', 4, 'MEDIUM'],
    ['CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:N/I:L/A:H', 6.9, 'MEDIUM'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:H', 7, 'HIGH'],
    ['CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:H/A:H', 8.9, 'HIGH'],
    ['CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H', 9, 'CRITICAL'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10, 'CRITICAL'],
    ['CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'MEDIUM'],
    // Temporal metrics do not lower the base score.
    [`${V3_CRITICAL}/E:U/RL:O/RC:U`, 9.8, 'CRITICAL'],
  ];
  for (const [vector, score, severity] of v3) {
    test(`CVSS v3 ${vector} is ${score}, ${severity}`, () => {
      assert.equal(cvssBaseScore('CVSS_V3', vector), score);
      assert.equal(cvssSeverity(score, 'CVSS_V3'), severity);
    });
  }

  const v2: [string, number, string][] = [
    ['AV:L/AC:H/Au:M/C:N/I:N/A:N', 0, 'LOW'],
    ['AV:L/AC:H/Au:S/C:N/I:N/A:C', 3.8, 'LOW'],
    ['AV:L/AC:H/Au:N/C:N/I:N/A:C', 4, 'MEDIUM'],
    ['AV:L/AC:M/Au:N/C:C/I:C/A:C', 6.9, 'MEDIUM'],
    ['AV:A/AC:M/Au:M/C:C/I:C/A:C', 7, 'HIGH'],
    ['AV:N/AC:L/Au:N/C:C/I:C/A:C', 10, 'HIGH'],
    ['CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P', 7.5, 'HIGH'],
  ];
  for (const [vector, score, severity] of v2) {
    test(`CVSS v2 ${vector} is ${score}, ${severity}`, () => {
      assert.equal(cvssBaseScore('CVSS_V2', vector), score);
      assert.equal(cvssSeverity(score, 'CVSS_V2'), severity);
    });
  }

  test('CVSS v4: the base metrics only, threat metrics left out', () => {
    assert.equal(cvssBaseScore('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H'), 10);
    assert.equal(cvssBaseScore('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U'), 9.3);
    assert.equal(cvssBaseScore('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N'), 0);
  });

  test('the v3/v4 scale at and between its bounds', () => {
    const scale: [number, string][] = [
      [0, 'INFORMATIONAL'],
      [0.1, 'LOW'],
      [3.9, 'LOW'],
      [4, 'MEDIUM'],
      [6.9, 'MEDIUM'],
      [7, 'HIGH'],
      [8.9, 'HIGH'],
      [9, 'CRITICAL'],
      [10, 'CRITICAL'],
    ];
    for (const [score, severity] of scale) {
      assert.equal(cvssSeverity(score, 'CVSS_V3'), severity, String(score));
      assert.equal(cvssSeverity(score, 'CVSS_V4'), severity, String(score));
    }
  });

  test('invalid vectors give no score and never throw', () => {
    for (const [version, vector] of [
      ['CVSS_V3', 'garbage'],
      ['CVSS_V3', 'CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'],
      ['CVSS_V3', 'CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'],
      ['CVSS_V3', 'AV:N/AC:L/Au:N/C:P/I:P/A:P'],
      ['CVSS_V2', V3_CRITICAL],
      ['CVSS_V2', 'AV:N/AC:L'],
      ['CVSS_V4', V3_CRITICAL],
      ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:Z'],
    ] as const) {
      assert.equal(cvssBaseScore(version, vector), undefined, `${version} ${vector}`);
    }
  });
});
