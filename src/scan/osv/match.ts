// Whether an OSV advisory affects one installed package: the OSV schema's evaluation algorithm
// (https://ossf.github.io/osv-schema/#evaluation). An `affected` entry applies when its package
// names the installed one (same ecosystem string, same name) and the version is in its `versions`
// list (equal by the ecosystem's order) or in one of its ranges; ranges are OR'ed. Only ECOSYSTEM
// and SEMVER ranges are evaluated (GIT ranges need the repository; the entry's other ranges and its
// `versions` still count). A range's events are sorted by version (`introduced: "0"` first) and
// walked: `introduced` <= v opens, `fixed` <= v closes, `last_affected` < v closes; `limit`
// events, if any, cap the range (v must be below one of them; `*` is infinity). Withdrawn records,
// ecosystems without a comparator and installed versions the ecosystem cannot read match nothing.
import { comparatorFor } from '../versions/index.ts';
import type { OsvAffected, OsvEvent, OsvRange, OsvRecord } from '../types.ts';

export interface InstalledVersion {
  /** Full OSV ecosystem string (`Debian:12`, `PyPI`). */
  ecosystem: string;
  /** The name advisories use: for Debian and Alpine the source package, elsewhere the package's own. */
  name: string;
  version: string;
}

export type Compare = (a: string, b: string) => number;

type EventKind = 'introduced' | 'fixed' | 'last_affected' | 'limit';

const EVALUATED_RANGE_TYPES = new Set(['ECOSYSTEM', 'SEMVER']);
/** Distributions whose records may name the bare distribution for every release. */
const RELEASE_OPTIONAL = new Set(['Debian', 'Ubuntu', 'Alpine']);
/** Order of events at the same version: an `introduced` equal to a `fixed` opens an empty range. */
const TIE_ORDER: Record<EventKind, number> = { introduced: 0, last_affected: 1, fixed: 2, limit: 3 };

/** The entries of `record` that name the installed package and include its version (none if withdrawn). */
export function affectedEntries(record: OsvRecord, pkg: InstalledVersion): OsvAffected[] {
  const comparator = comparatorFor(pkg.ecosystem);
  if (record.withdrawn !== undefined || !comparator?.isValid(pkg.version)) return [];
  return (record.affected ?? []).filter(
    (entry) =>
      entry.package !== undefined &&
      ecosystemMatches(entry.package.ecosystem, pkg.ecosystem) &&
      packageNameKey(pkg.ecosystem, entry.package.name) === packageNameKey(pkg.ecosystem, pkg.name) &&
      isAffected(entry, pkg.version, comparator.compare),
  );
}

/**
 * Whether a record's ecosystem string covers the package's. Exact, except that a Debian, Ubuntu or
 * Alpine record may give the bare distribution name, Ubuntu's `:LTS` suffix is optional, and the `v`
 * of an Alpine release (`Alpine:v3.19`) is optional.
 */
export function ecosystemMatches(recordEcosystem: string, packageEcosystem: string): boolean {
  const record = normaliseEcosystem(recordEcosystem);
  const pkg = normaliseEcosystem(packageEcosystem);
  return record === pkg || (RELEASE_OPTIONAL.has(record) && pkg.startsWith(`${record}:`));
}

function normaliseEcosystem(ecosystem: string): string {
  if (ecosystem.startsWith('Ubuntu:')) return ecosystem.replace(/:LTS$/, '');
  if (ecosystem.startsWith('Alpine:')) return ecosystem.replace(/^Alpine:v/, 'Alpine:');
  return ecosystem;
}

/** The form names compare in: PEP 503 normalisation for PyPI (`Foo_Bar.baz` is `foo-bar-baz`), else as written. */
export function packageNameKey(ecosystem: string, name: string): string {
  return ecosystem === 'PyPI' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/** Whether `version` is in the entry's `versions` list or one of its ECOSYSTEM/SEMVER ranges. */
export function isAffected(affected: OsvAffected, version: string, compare: Compare): boolean {
  return (
    (affected.versions ?? []).some((listed) => compare(listed, version) === 0) ||
    (affected.ranges ?? []).some((range) => inRange(range, version, compare))
  );
}

/**
 * For a `version` the entry affects, the versions that fix it, nearest first: the `fixed` events
 * above it at which the entry no longer applies (empty when no fix is known). For Alpine, which lists
 * one range per fix of the same issue, this skips the lower fixes that another range still covers.
 */
export function fixedVersions(affected: OsvAffected, version: string, compare: Compare): string[] {
  const fixes = new Set<string>();
  for (const range of affected.ranges ?? []) {
    if (!EVALUATED_RANGE_TYPES.has(range.type)) continue;
    for (const event of range.events) if ('fixed' in event && compare(event.fixed, version) > 0) fixes.add(event.fixed);
  }
  return [...fixes].filter((fix) => !isAffected(affected, fix, compare)).sort(compare);
}

function inRange(range: OsvRange, version: string, compare: Compare): boolean {
  if (!EVALUATED_RANGE_TYPES.has(range.type)) return false;
  const events = range.events.map(eventOf);
  const limits = events.filter((e) => e.kind === 'limit');
  if (limits.length > 0 && !limits.some((e) => e.version === '*' || compare(version, e.version) < 0)) return false;
  let affected = false;
  for (const event of sortEvents(events, compare)) {
    if (event.kind === 'introduced') affected ||= event.version === '0' || compare(version, event.version) >= 0;
    else if (event.kind === 'fixed' && compare(version, event.version) >= 0) affected = false;
    else if (event.kind === 'last_affected' && compare(version, event.version) > 0) affected = false;
  }
  return affected;
}

function eventOf(event: OsvEvent): { kind: EventKind; version: string } {
  const [kind, version] = Object.entries(event)[0] as [EventKind, string];
  return { kind, version };
}

function sortEvents(events: { kind: EventKind; version: string }[], compare: Compare): { kind: EventKind; version: string }[] {
  const isZero = (e: { kind: EventKind; version: string }): boolean => e.kind === 'introduced' && e.version === '0';
  return events
    .filter((e) => e.kind !== 'limit')
    .sort((a, b) => {
      if (isZero(a) || isZero(b)) return Number(isZero(b)) - Number(isZero(a));
      return compare(a.version, b.version) || TIE_ORDER[a.kind] - TIE_ORDER[b.kind];
    });
}
