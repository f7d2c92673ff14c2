// NuGet version order (NuGet.Versioning's VersionComparer; learn.microsoft.com "NuGet package
// versioning"): Major.Minor.Patch.Revision, missing parts 0, then SemVer 2.0 prerelease rules with
// labels compared case-insensitively (ordinal, upper-cased); build metadata after `+` is ignored.
import { compareDigits, compareText } from './digits.ts';

interface NuGetVersion {
  release: string[];
  prerelease: string[];
}

function parse(version: string): NuGetVersion {
  const withoutMetadata = version.trim().split('+')[0]!;
  const hyphen = withoutMetadata.indexOf('-');
  const release = hyphen >= 0 ? withoutMetadata.slice(0, hyphen) : withoutMetadata;
  const prerelease = hyphen >= 0 ? withoutMetadata.slice(hyphen + 1) : '';
  return { release: release.split('.'), prerelease: prerelease === '' ? [] : prerelease.split('.') };
}

function compareLabels(a: string, b: string): number {
  const numericA = /^\d+$/.test(a);
  const numericB = /^\d+$/.test(b);
  if (numericA && numericB) return compareDigits(a, b);
  if (numericA !== numericB) return numericA ? -1 : 1;
  return compareText(a.toUpperCase(), b.toUpperCase());
}

export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 4; i++) {
    const diff = compareDigits(x.release[i] ?? '0', y.release[i] ?? '0');
    if (diff !== 0) return diff;
  }
  if (x.prerelease.length === 0 || y.prerelease.length === 0) return y.prerelease.length - x.prerelease.length;
  for (let i = 0; i < Math.min(x.prerelease.length, y.prerelease.length); i++) {
    const diff = compareLabels(x.prerelease[i]!, y.prerelease[i]!);
    if (diff !== 0) return diff;
  }
  return x.prerelease.length - y.prerelease.length;
}

export function isValid(version: string): boolean {
  return /^\d+(?:\.\d+){0,3}(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/.test(version.trim());
}
