import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VULNDATA, vulndataMissing } from '../../../test/helpers/vulndata.ts';
import type { OsvRecord } from '../types.ts';
import { MAX_OSV_RECORD_BYTES, parseOsvJson, parseOsvRecord } from './schema.ts';

const OSV = join(VULNDATA, 'osv');
const VALID = { id: 'GHSA-aaaa-bbbb-cccc', modified: '2024-05-01T10:00:00Z' };

interface Manifest {
  osv: Record<string, { records: number; records_per_ecosystem: Record<string, number>; withdrawn: string[] }>;
}

function parsed(value: unknown): OsvRecord {
  const r = parseOsvRecord(value);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.record;
}

function corpusRecord(dir: string, id: string): unknown {
  return JSON.parse(readFileSync(join(OSV, dir, `${id}.json`), 'utf8'));
}

describe('parseOsvRecord on the real corpus', { skip: vulndataMissing() }, () => {
  test('every record of every ecosystem parses, as many per ecosystem string and as many withdrawn as manifest.json says', () => {
    const manifest = JSON.parse(readFileSync(join(VULNDATA, 'manifest.json'), 'utf8')) as Manifest;
    const dirs = readdirSync(OSV).sort();
    assert.deepEqual(dirs, Object.keys(manifest.osv).sort());
    for (const dir of dirs) {
      const perEcosystem: Record<string, number> = {};
      const withdrawn: string[] = [];
      const failures: string[] = [];
      const files = readdirSync(join(OSV, dir));
      for (const file of files) {
        const r = parseOsvJson(readFileSync(join(OSV, dir, file)));
        if (!r.ok) {
          failures.push(`${file}: ${r.error}`);
          continue;
        }
        assert.equal(`${r.record.id}.json`, file);
        if (r.record.withdrawn !== undefined) withdrawn.push(r.record.id);
        for (const ecosystem of new Set(r.record.affected?.map((a) => a.package?.ecosystem))) {
          if (ecosystem !== undefined) perEcosystem[ecosystem] = (perEcosystem[ecosystem] ?? 0) + 1;
        }
      }
      const expected = manifest.osv[dir]!;
      assert.deepEqual(failures, [], dir);
      assert.equal(files.length, expected.records, dir);
      assert.deepEqual(perEcosystem, expected.records_per_ecosystem, dir);
      assert.deepEqual(withdrawn.sort(), [...expected.withdrawn].sort(), dir);
    }
  });

  test('the 7 pypa records with short or non-hex GIT commits parse and keep those commits', () => {
    for (const id of ['PYSEC-2017-27', 'PYSEC-2019-155', 'PYSEC-2021-371', 'PYSEC-2021-424', 'PYSEC-2021-425', 'PYSEC-2021-436', 'PYSEC-2023-80']) {
      const record = parsed(corpusRecord('PyPI', id));
      const commits = record.affected!.flatMap((a) => a.ranges ?? []).filter((r) => r.type === 'GIT').flatMap((r) => r.events.map((e) => Object.values(e)[0] as string));
      assert.ok(commits.some((c) => !/^(0|[0-9a-f]{40})$/.test(c)), `${id} has a commit that is not a full hash`);
    }
  });

  test('PYSEC-2022-15 (withdrawn) keeps its affected entry that has neither ranges nor versions', () => {
    const record = parsed(corpusRecord('PyPI', 'PYSEC-2022-15'));
    assert.ok(record.withdrawn);
    const bare = record.affected!.filter((a) => a.ranges === undefined && a.versions === undefined);
    assert.equal(bare.length, 1);
    assert.ok(bare[0]!.package?.name);
  });

  test('a GHSA record keeps what matching and findings use and drops the rest', () => {
    const raw = corpusRecord('npm', 'GHSA-29mw-wpgm-hmr9') as Record<string, unknown>;
    const record = parsed(raw);
    assert.equal(record.id, 'GHSA-29mw-wpgm-hmr9');
    assert.deepEqual(record.database_specific, raw.database_specific);
    assert.deepEqual(record.severity, raw.severity);
    assert.deepEqual(record.affected, raw.affected);
    assert.equal('schema_version' in record, false);
    assert.ok(record.affected!.some((a) => a.ranges!.some((r) => r.events.some((e) => 'last_affected' in e))));
  });
});

describe('parseOsvRecord normalises', () => {
  test('nulls where the schema allows them become absent; unknown fields are dropped; *_specific objects are kept whole', () => {
    const record = parsed({
      ...VALID,
      schema_version: '1.6.0',
      aliases: null,
      references: null,
      severity: null,
      credits: [{ name: 'someone' }],
      database_specific: { nested: { deep: [1, 'two'] } },
      affected: [
        {
          package: { ecosystem: 'PyPI', name: 'urllib3', purl: 'pkg:pypi/urllib3', extra: true },
          severity: null,
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.0.0' }, { fixed: '2.0.6' }, { introduced: '0' }, { fixed: '1.26.17' }], database_specific: { a: 1 } }],
          versions: ['2.0.5'],
          ecosystem_specific: { urgency: 'low' },
        },
      ],
    });
    assert.deepEqual(record, {
      ...VALID,
      database_specific: { nested: { deep: [1, 'two'] } },
      affected: [
        {
          package: { ecosystem: 'PyPI', name: 'urllib3', purl: 'pkg:pypi/urllib3' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.0.0' }, { fixed: '2.0.6' }, { introduced: '0' }, { fixed: '1.26.17' }], database_specific: { a: 1 } }],
          versions: ['2.0.5'],
          ecosystem_specific: { urgency: 'low' },
        },
      ],
    });
  });

  test('accepts what real databases have beyond the JSON Schema: short GIT commits, no repo, no introduced, unknown ecosystems and range types, timestamp offsets', () => {
    const record = parsed({
      id: 'x_CUSTOM-1',
      modified: '2024-05-01T10:00:00.123456+02:00',
      affected: [
        { ranges: [{ type: 'GIT', events: [{ introduced: 'abc123' }, { fixed: 'v1.2.3' }] }] },
        { package: { ecosystem: 'Brand New Linux:7', name: 'pkg' }, ranges: [{ type: 'CUSTOM', events: [{ fixed: '2' }, { last_affected: '1' }] }] },
      ],
    });
    assert.equal(record.affected!.length, 2);
  });
});

describe('parseOsvRecord rejects', () => {
  const withAffected = (affected: unknown) => ({ ...VALID, affected: [affected] });
  const withEvents = (events: unknown) => withAffected({ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events }] });
  const cases: [string, unknown, string][] = [
    ['a record that is not an object', 42, '$: must be an object, not a number'],
    ['a record that is an array', [VALID], '$: must be an object, not an array'],
    ['null', null, '$: must be an object, not null'],
    ['a missing id', { modified: VALID.modified }, '$.id: is required'],
    ['a missing modified', { id: VALID.id }, '$.modified: is required'],
    ['an empty id', { ...VALID, id: '' }, '$.id: must be letters, digits'],
    ['an id with a slash', { ...VALID, id: '../etc/passwd' }, '$.id: must be letters, digits'],
    ['a numeric id', { ...VALID, id: 7 }, '$.id: must be a string, not a number'],
    ['a modified that is not a timestamp', { ...VALID, modified: 'yesterday' }, '$.modified: must be an RFC 3339 timestamp'],
    ['a modified that is no date', { ...VALID, modified: '2024-13-45T10:00:00Z' }, '$.modified: is not a valid date'],
    ['aliases that are not strings', { ...VALID, aliases: ['CVE-1', 2] }, '$.aliases[1]: must be a string, not a number'],
    ['a summary that is not a string', { ...VALID, summary: { text: 'x' } }, '$.summary: must be a string, not an object'],
    ['affected that is an object', { ...VALID, affected: { package: {} } }, '$.affected: must be an array, not an object'],
    ['an affected entry that is a number', withAffected(3), '$.affected[0]: must be an object, not a number'],
    ['a package without a name', withAffected({ package: { ecosystem: 'npm' } }), '$.affected[0].package.name: is required'],
    ['a package with an empty ecosystem', withAffected({ package: { ecosystem: '', name: 'x' } }), '$.affected[0].package.ecosystem: must not be empty'],
    ['ranges that are not an array', withAffected({ ranges: { type: 'SEMVER' } }), '$.affected[0].ranges: must be an array, not an object'],
    ['a range without a type', withAffected({ ranges: [{ events: [{ introduced: '0' }] }] }), '$.affected[0].ranges[0].type: is required'],
    ['a range without events', withAffected({ ranges: [{ type: 'SEMVER' }] }), '$.affected[0].ranges[0].events: is required'],
    ['a range with no events', withEvents([]), '$.affected[0].ranges[0].events: must have at least one event'],
    ['an event with two keys', withEvents([{ introduced: '0', fixed: '1.0.0' }]), '$.affected[0].ranges[0].events[0]: must have exactly one of introduced, fixed, last_affected, limit (has introduced and fixed)'],
    ['an empty event', withEvents([{ introduced: '0' }, {}]), '$.affected[0].ranges[0].events[1]: must have exactly one of introduced, fixed, last_affected, limit (has none)'],
    ['an event of an unknown kind', withEvents([{ affected: '1.0' }]), '$.affected[0].ranges[0].events[0]: must have exactly one of introduced, fixed, last_affected, limit (has affected)'],
    ['an event with a numeric version', withEvents([{ introduced: 0 }]), '$.affected[0].ranges[0].events[0].introduced: must be a string, not a number'],
    ['an event that is a string', withEvents(['0']), '$.affected[0].ranges[0].events[0]: must be an object, not a string'],
    ['a version that is not a string', withAffected({ versions: ['1.0.0', 1.1] }), '$.affected[0].versions[1]: must be a string, not a number'],
    ['versions that are a string', withAffected({ versions: '1.0.0' }), '$.affected[0].versions: must be an array, not a string'],
    ['a severity entry without a score', { ...VALID, severity: [{ type: 'CVSS_V3' }] }, '$.severity[0].score: is required'],
    ['an affected severity entry without a type', withAffected({ severity: [{ score: 'x' }] }), '$.affected[0].severity[0].type: is required'],
    ['database_specific that is an array', { ...VALID, database_specific: [1] }, '$.database_specific: must be an object, not an array'],
    ['ecosystem_specific that is a string', withAffected({ ecosystem_specific: 'x' }), '$.affected[0].ecosystem_specific: must be an object, not a string'],
    ['a reference without a url', { ...VALID, references: [{ type: 'WEB' }] }, '$.references[0].url: is required'],
  ];
  for (const [what, value, error] of cases) {
    test(what, () => {
      const r = parseOsvRecord(value);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.error.startsWith(error), `${r.ok ? '' : r.error} should start with ${error}`);
    });
  }

  test('several problems are named together, at most three', () => {
    const r = parseOsvRecord({ affected: [1, 2, 3, 4] });
    assert.ok(!r.ok);
    assert.equal(r.error.split('; ').length, 3);
    assert.match(r.error, /\$\.id: is required/);
  });
});

describe('parseOsvJson', () => {
  test('parses bytes of a valid record', () => {
    const r = parseOsvJson(Buffer.from(JSON.stringify(VALID)));
    assert.deepEqual(r, { ok: true, record: VALID });
  });

  test('refuses text that is not JSON', () => {
    const r = parseOsvJson(Buffer.from('{"id": "GHSA-1",'));
    assert.ok(!r.ok);
    assert.match(r.error, /^not JSON: /);
  });

  test(`refuses a record larger than the maximum (${MAX_OSV_RECORD_BYTES} bytes by default) before parsing it`, () => {
    const big = Buffer.from(JSON.stringify({ ...VALID, summary: 'x'.repeat(10 * 1024 * 1024) }));
    const r = parseOsvJson(big);
    assert.deepEqual(r, { ok: false, error: `record is ${big.length} bytes, more than the ${MAX_OSV_RECORD_BYTES} allowed` });
    const small = Buffer.from(JSON.stringify(VALID));
    assert.equal(parseOsvJson(small, small.length).ok, true);
    assert.equal(parseOsvJson(small, small.length - 1).ok, false);
  });
});
