// RubyGems version order, as Gem::Version#<=> (rubygems/version.rb): `-` reads as `.pre.`, the
// version splits into runs of digits and runs of letters, trailing zeros of the release part and of
// the prerelease part are dropped, then segments compare in turn (a missing one is 0): numbers
// numerically, strings by byte order, a string before a number. Written by hand because
// @renovatebot/ruby-semver loses precision on long numbers and rejects `1beta`, which the
// osv-scalibr vectors order.
import { compareDigits, compareText } from './digits.ts';

type Segment = string; // digits or letters

function isNumber(segment: Segment): boolean {
  return /^\d/.test(segment);
}

function dropTrailingZeros(segments: Segment[]): Segment[] {
  let end = segments.length;
  while (end > 0 && isNumber(segments[end - 1]!) && compareDigits(segments[end - 1]!, '0') === 0) end--;
  return segments.slice(0, end);
}

function canonicalSegments(version: string): Segment[] {
  const segments = version.trim().replaceAll('-', '.pre.').match(/[0-9]+|[a-z]+/gi) ?? [];
  const firstString = segments.findIndex((s) => !isNumber(s));
  if (firstString < 0) return dropTrailingZeros(segments);
  return [...dropTrailingZeros(segments.slice(0, firstString)), ...dropTrailingZeros(segments.slice(firstString))];
}

export function compare(a: string, b: string): number {
  const x = canonicalSegments(a);
  const y = canonicalSegments(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const s = x[i] ?? '0';
    const t = y[i] ?? '0';
    const numeric = [isNumber(s), isNumber(t)];
    if (numeric[0] !== numeric[1]) return numeric[0] ? 1 : -1;
    const diff = numeric[0] ? compareDigits(s, t) : compareText(s, t);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Gem::Version's ANCHORED_VERSION_PATTERN, less the empty version. */
export function isValid(version: string): boolean {
  return /^\s*[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\s*$/.test(version);
}
