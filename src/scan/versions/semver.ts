// SemVer 2.0.0 precedence (https://semver.org, §11) for npm, crates.io and Go module versions.
// Comparison is written out rather than taken from the `semver` package because OSV data and the
// osv-scalibr vectors need what node-semver refuses: numbers past 2^53 (compared here as digit
// strings of any length), a missing minor or patch (0), and components after the third (build data,
// ignored). Validity, the question of whether an installed version is a real one, is node-semver's.
import semver from 'semver';
import { compareDigits, compareText } from './digits.ts';

interface SemVer {
  core: [string, string, string];
  prerelease: string[];
}

/** Total: anything that is not a version still gets a place (its leading numbers, the rest as a prerelease). */
function parse(version: string): SemVer {
  const [, numbers = '', rest = ''] = /^v?([\d.]*)(.*)$/s.exec(version.trim())!;
  const [major = '0', minor = '0', patch = '0'] = numbers.split('.').filter((n) => n !== '');
  const prerelease = rest.split('+')[0]!.replace(/^-/, '');
  return { core: [major, minor, patch], prerelease: prerelease === '' ? [] : prerelease.split('.') };
}

function compareIdentifiers(a: string, b: string): number {
  const numericA = /^\d+$/.test(a);
  const numericB = /^\d+$/.test(b);
  if (numericA && numericB) return compareDigits(a, b);
  if (numericA !== numericB) return numericA ? -1 : 1;
  return compareText(a, b);
}

function comparePrereleases(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = compareIdentifiers(a[i]!, b[i]!);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const diff = compareDigits(x.core[i]!, y.core[i]!);
    if (diff !== 0) return diff;
  }
  return comparePrereleases(x.prerelease, y.prerelease);
}

export function isValid(version: string): boolean {
  return semver.valid(version) !== null;
}
