// Maven version order, as Maven's ComparableVersion (maven-artifact; the rules are in "Version Order
// Specification" of the POM reference). Lower-cased, a version splits into items at `.`, at `-` and
// where digits meet non-digits; a `-` or a digit/letter transition opens a nested list. Numbers
// compare numerically; qualifiers rank alpha < beta < milestone < rc = cr < snapshot < "" = ga =
// final = release < sp < any other (alphabetically), with `a1`, `b1`, `m1` as alpha-1, beta-1,
// milestone-1; a number beats a qualifier and a list; trailing null items (0, "", empty lists) of
// each list are dropped, so 1 = 1.0 = 1-0 = 1.ga. This is maven-artifact 3.8's algorithm (the one
// the osv-scalibr vectors were generated with) plus two points of the specification that 3.8 lacks:
// the `release` alias and the flat trimming of nulls before a hyphen (`1-ga-1` = `1-1`). Maven 3.9
// changed parsing again (`X-1` as `X1`); OSV's own Maven ordering follows the specification.
// Written by hand: npm has no maintained library for it.
import { compareText, isDigit } from './digits.ts';

type Item = bigint | string | Item[];

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const SHORT_QUALIFIERS: Record<string, string> = { a: 'alpha', b: 'beta', m: 'milestone' };
const RELEASE = String(QUALIFIERS.indexOf(''));

function qualifier(text: string, followedByDigit: boolean): string {
  const long = followedByDigit ? (SHORT_QUALIFIERS[text] ?? text) : text;
  return ALIASES[long] ?? long;
}

/** A key whose string order is the qualifier order: the rank of a known qualifier, else `7-name`. */
function qualifierKey(q: string): string {
  const rank = QUALIFIERS.indexOf(q);
  return rank < 0 ? `${QUALIFIERS.length}-${q}` : String(rank);
}

function isNull(item: Item): boolean {
  if (typeof item === 'bigint') return item === 0n;
  if (typeof item === 'string') return qualifierKey(item) === RELEASE;
  return item.length === 0;
}

function dropTrailingNulls(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i]!;
    if (isNull(item)) list.splice(i, 1);
    else if (!Array.isArray(item)) break;
  }
}

/**
 * A sub-list left holding only a list loses a level: `1-ga-1` normalises to [1, [[1]]], which the
 * specification's flat reading (trim nulls before each hyphen: `1-1`) equals to [1, [1]].
 */
function unwrapLoneList(list: Item[]): void {
  const only = list[0];
  if (list.length === 1 && Array.isArray(only)) list.splice(0, 1, ...only);
}

function parse(version: string): Item[] {
  const text = version.trim().toLowerCase();
  const root: Item[] = [];
  const lists = [root];
  let list = root;
  let inDigits = false;
  let start = 0;
  const token = (end: number, digits: boolean): Item => (digits ? BigInt(text.slice(start, end)) : qualifier(text.slice(start, end), false));
  const openList = (): void => {
    const sub: Item[] = [];
    list.push(sub);
    lists.push(sub);
    list = sub;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '.' || c === '-') {
      list.push(i === start ? 0n : token(i, inDigits));
      start = i + 1;
      if (c === '-') openList();
    } else if (isDigit(c)) {
      if (!inDigits && i > start) {
        list.push(qualifier(text.slice(start, i), true));
        start = i;
        openList();
      }
      inDigits = true;
    } else {
      if (inDigits && i > start) {
        list.push(token(i, true));
        start = i;
        openList();
      }
      inDigits = false;
    }
  }
  if (text.length > start) list.push(token(text.length, inDigits));
  for (const l of lists.reverse()) {
    dropTrailingNulls(l);
    if (l !== root) unwrapLoneList(l);
  }
  return root;
}

/** ComparableVersion's Item.compareTo, `b` undefined standing for a missing item. */
function compareItem(a: Item, b: Item | undefined): number {
  if (typeof a === 'bigint') {
    if (b === undefined) return a === 0n ? 0 : 1;
    if (typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
    return 1;
  }
  if (typeof a === 'string') {
    if (b === undefined) return compareText(qualifierKey(a), RELEASE);
    if (typeof b === 'string') return compareText(qualifierKey(a), qualifierKey(b));
    return -1;
  }
  if (b === undefined) return a.length === 0 ? 0 : compareItem(a[0]!, undefined);
  if (!Array.isArray(b)) return typeof b === 'bigint' ? -1 : 1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const left = a[i];
    const right = b[i];
    const diff = left === undefined ? (right === undefined ? 0 : -compareItem(right, undefined)) : compareItem(left, right);
    if (diff !== 0) return diff;
  }
  return 0;
}

export function compare(a: string, b: string): number {
  return compareItem(parse(a), parse(b));
}

/** Maven accepts any version string; a usable one is non-empty and has no whitespace. */
export function isValid(version: string): boolean {
  return /^\S+$/.test(version);
}
