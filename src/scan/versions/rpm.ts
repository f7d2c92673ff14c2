// RPM version order (AlmaLinux, Rocky Linux, Red Hat): rpm's rpmvercmp (rpmio/rpmvercmp.c) over
// [epoch:]version[-release], as rpmdsCompare/rpmVersionCompare apply it. The epoch is the leading
// digits before a `:` and compares numerically, a missing one being 0 (AlmaLinux writes fixed
// versions as `1:3.0.7-…` while rpm databases often leave the epoch out); the release follows the
// last `-`, and a version without one sorts before the same version with one. rpmvercmp skips
// characters other than ASCII letters, digits, `~` and `^`, compares runs of digits numerically and
// runs of letters with strcmp, a digit run beating a letter run; `~` sorts before anything, even
// the end, and `^` after the end but before anything else.
import { compareDigits, compareText, isDigit, isLetter } from './digits.ts';

interface Evr {
  epoch: string;
  version: string;
  release: string | undefined;
}

function parse(evr: string): Evr {
  const m = /^(\d*):(.*)$/s.exec(evr);
  const rest = m ? m[2]! : evr;
  const hyphen = rest.lastIndexOf('-');
  return {
    epoch: m ? m[1]! : '0',
    version: hyphen >= 0 ? rest.slice(0, hyphen) : rest,
    release: hyphen >= 0 ? rest.slice(hyphen + 1) : undefined,
  };
}

function isSegmentChar(c: string | undefined): boolean {
  return c !== undefined && (isDigit(c) || isLetter(c) || c === '~' || c === '^');
}

function runEnd(s: string, i: number, inRun: (c: string | undefined) => boolean): number {
  while (i < s.length && inRun(s[i])) i++;
  return i;
}

/** rpmvercmp: negative, 0 or positive. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    i = runEnd(a, i, (c) => !isSegmentChar(c));
    j = runEnd(b, j, (c) => !isSegmentChar(c));
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(a[i]);
    const inRun = numeric ? isDigit : isLetter;
    const endA = runEnd(a, i, inRun);
    const endB = runEnd(b, j, inRun);
    if (endB === j) return numeric ? 1 : -1;
    const segA = a.slice(i, endA);
    const segB = b.slice(j, endB);
    const diff = numeric ? compareDigits(segA, segB) : compareText(segA, segB);
    if (diff !== 0) return diff;
    i = endA;
    j = endB;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export function compare(a: string, b: string): number {
  const x = parse(a.trim());
  const y = parse(b.trim());
  const byEpoch = compareDigits(x.epoch, y.epoch);
  if (byEpoch !== 0) return byEpoch;
  const byVersion = rpmvercmp(x.version, y.version);
  if (byVersion !== 0) return byVersion;
  if (x.release === undefined || y.release === undefined) return (x.release === undefined ? 0 : 1) - (y.release === undefined ? 0 : 1);
  return rpmvercmp(x.release, y.release);
}

/** An EVR rpm would build: optional numeric epoch, then a version starting with an alphanumeric and no whitespace. */
export function isValid(evr: string): boolean {
  return /^(?:\d+:)?[A-Za-z0-9][^\s:]*$/.test(evr);
}
