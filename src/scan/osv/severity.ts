// The ECR severity of an OSV advisory for one affected package, and the CVSS score behind it.
// Sources, first found wins:
//  1. CVSS vectors in the affected entry's `severity`, then in the record's (OSV schema 1.x): a valid
//     vector of the preferred version, CVSS v3 before v4 before v2. ECR's enhanced scanning reports
//     the CVSS v3 base score and severity, and v3 is what most advisories carry; v4 comes next as it
//     rates on the same bands; v2 last, its scale has no CRITICAL. The base score is used (CVSS v4:
//     base metrics only), never temporal, threat or environmental.
//  2. Numeric base scores in `database_specific.cvss_v3` / `cvss_v4` / `cvss_v2` (rubysec), same order.
//  3. Declared words: `Ubuntu` severity entries, `database_specific.severity` (GHSA, rubysec:
//     LOW / MODERATE / HIGH / CRITICAL), Debian's `ecosystem_specific.urgency` and `severity`.
//  4. Red Hat's errata rating at the start of the summary ("Important: openssl security update") of
//     AlmaLinux, Rocky Linux and Red Hat advisories, which carry no other severity.
// Else UNDEFINED (Go's and Debian's DSA/DLA records say nothing). Rating scale as Amazon Inspector's,
// from the CVSS specifications: v3/v4 0.0 INFORMATIONAL, 0.1-3.9 LOW, 4.0-6.9 MEDIUM, 7.0-8.9 HIGH,
// 9.0-10.0 CRITICAL; v2 0.0-3.9 LOW, 4.0-6.9 MEDIUM, 7.0-10.0 HIGH. A vector that does not parse, or
// whose type does not match its prefix, is skipped for the next source, never thrown.
import cvss from 'ae-cvss-calculator';
import type { FindingSeverity, OsvAffected, OsvRecord, OsvSeverity } from '../types.ts';

export type CvssVersion = 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4';

export interface SeverityRating {
  severity: FindingSeverity;
  score?: number;
  vector?: string;
  version?: CvssVersion;
  /** Where it came from: `affected.severity`, `severity`, `database_specific.cvss_v3`, `database_specific.severity`, `summary`, ..., or `none`. */
  source: string;
}

const PREFERRED: readonly CvssVersion[] = ['CVSS_V3', 'CVSS_V4', 'CVSS_V2'];
const NUMERIC_SCORES: readonly [string, CvssVersion][] = [
  ['cvss_v3', 'CVSS_V3'],
  ['cvss_v4', 'CVSS_V4'],
  ['cvss_v2', 'CVSS_V2'],
];
const WORDS: Readonly<Record<string, FindingSeverity>> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  medium: 'MEDIUM',
  moderate: 'MEDIUM',
  low: 'LOW',
  negligible: 'INFORMATIONAL',
  unimportant: 'INFORMATIONAL',
};
const RED_HAT_FAMILY = /^(AlmaLinux|Rocky Linux|Red Hat)(:|$)/;
const RED_HAT_RATING = /^(Critical|Important|Moderate|Low): /;

/** The severity of `record` for the package of `affected` (one of its `affected` entries), or for the record as a whole. */
export function rateSeverity(record: OsvRecord, affected?: OsvAffected): SeverityRating {
  return (
    bestVector(affected?.severity, 'affected.severity') ??
    bestVector(record.severity, 'severity') ??
    numericScore(record.database_specific) ??
    declaredWord(record, affected) ??
    redHatRating(record, affected) ?? { severity: 'UNDEFINED', source: 'none' }
  );
}

/** The ECR severity of a CVSS base score. */
export function cvssSeverity(score: number, version: CvssVersion): FindingSeverity {
  if (version === 'CVSS_V2') return score < 4 ? 'LOW' : score < 7 ? 'MEDIUM' : 'HIGH';
  return score === 0 ? 'INFORMATIONAL' : score < 4 ? 'LOW' : score < 7 ? 'MEDIUM' : score < 9 ? 'HIGH' : 'CRITICAL';
}

/** The base score of a CVSS vector of the given version, or undefined when it is not a complete, valid vector of that version. */
export function cvssBaseScore(version: CvssVersion, vector: string): number | undefined {
  try {
    const parsed = parseVector(version, vector.trim());
    if (parsed === undefined || !parsed.isBaseFullyDefined()) return undefined;
    const scores = parsed.calculateScores();
    const base = 'baseMetricsOnly' in scores ? scores.baseMetricsOnly : scores.base;
    // Math.max: the v2 formula gives -0 for no impact.
    return typeof base === 'number' && base >= 0 && base <= 10 ? Math.max(base, 0) : undefined;
  } catch {
    // The calculator throws on unknown metrics and values.
    return undefined;
  }
}

/** The calculator's model of a vector whose prefix is of `version` (a v2 vector has none, or CVSS:2.0/). */
function parseVector(version: CvssVersion, v: string) {
  if (version === 'CVSS_V2') return !v.startsWith('CVSS:') || v.startsWith('CVSS:2.0/') ? new cvss.Cvss2(v) : undefined;
  if (version === 'CVSS_V4') return v.startsWith('CVSS:4.0/') ? new cvss.Cvss4P0(v) : undefined;
  if (v.startsWith('CVSS:3.1/')) return new cvss.Cvss3P1(v);
  return v.startsWith('CVSS:3.0/') ? new cvss.Cvss3P0(v) : undefined;
}

function bestVector(entries: OsvSeverity[] | undefined, source: string): SeverityRating | undefined {
  for (const version of PREFERRED) {
    for (const entry of entries ?? []) {
      if (entry.type !== version) continue;
      const score = cvssBaseScore(version, entry.score);
      if (score !== undefined) return { severity: cvssSeverity(score, version), score, vector: entry.score.trim(), version, source };
    }
  }
  return undefined;
}

function numericScore(databaseSpecific: Record<string, unknown> | undefined): SeverityRating | undefined {
  for (const [key, version] of NUMERIC_SCORES) {
    const score = databaseSpecific?.[key];
    if (typeof score === 'number' && score >= 0 && score <= 10) {
      return { severity: cvssSeverity(score, version), score, version, source: `database_specific.${key}` };
    }
  }
  return undefined;
}

function declaredWord(record: OsvRecord, affected: OsvAffected | undefined): SeverityRating | undefined {
  const ubuntu = (entries: OsvSeverity[] | undefined, source: string): [string, unknown][] =>
    (entries ?? []).filter((e) => e.type === 'Ubuntu').map((e) => [source, e.score]);
  const candidates: [string, unknown][] = [
    ...ubuntu(affected?.severity, 'affected.severity'),
    ...ubuntu(record.severity, 'severity'),
    ['affected.database_specific.severity', affected?.database_specific?.severity],
    ['database_specific.severity', record.database_specific?.severity],
    ['affected.ecosystem_specific.urgency', affected?.ecosystem_specific?.urgency],
    ['affected.ecosystem_specific.severity', affected?.ecosystem_specific?.severity],
  ];
  for (const [source, word] of candidates) {
    const severity = typeof word === 'string' ? WORDS[word.trim().toLowerCase()] : undefined;
    if (severity !== undefined) return { severity, source };
  }
  return undefined;
}

function redHatRating(record: OsvRecord, affected: OsvAffected | undefined): SeverityRating | undefined {
  const entries = affected === undefined ? (record.affected ?? []) : [affected];
  if (!entries.some((a) => RED_HAT_FAMILY.test(a.package?.ecosystem ?? ''))) return undefined;
  const rating = RED_HAT_RATING.exec(record.summary ?? '')?.[1];
  const severity = rating === undefined ? undefined : WORDS[rating.toLowerCase()];
  return severity === undefined ? undefined : { severity, source: 'summary' };
}
