// Debian and Ubuntu version order, as dpkg compares versions (lib/dpkg/version.c: verrevcmp and
// dpkg_version_compare; Debian Policy §5.6.12). A version is [epoch:]upstream[-revision]: the
// epoch compares numerically (missing is 0), then upstream, then revision (missing is empty, which
// equals "0"). Each part is read as alternating runs: a run of non-digits compares character by
// character with `~` before everything (even the end of the string), then the end, then letters,
// then all other characters; a run of digits compares numerically.
import { compareDigits, isDigit, isLetter } from './digits.ts';

interface DpkgVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

function parse(version: string): DpkgVersion {
  const colon = version.indexOf(':');
  const hasEpoch = colon > 0 && /^\d+$/.test(version.slice(0, colon));
  const rest = hasEpoch ? version.slice(colon + 1) : version;
  const hyphen = rest.lastIndexOf('-');
  return {
    epoch: hasEpoch ? version.slice(0, colon) : '0',
    upstream: hyphen >= 0 ? rest.slice(0, hyphen) : rest,
    revision: hyphen >= 0 ? rest.slice(hyphen + 1) : '',
  };
}

/** Weight of the character at `i` inside a non-digit run (the end of the string weighs 0). */
function weight(s: string, i: number): number {
  const c = s[i];
  if (c === undefined || isDigit(c)) return 0;
  if (c === '~') return -1;
  const code = c.charCodeAt(0);
  return isLetter(c) ? code : code + 256;
}

function digitRunEnd(s: string, i: number): number {
  while (isDigit(s[i])) i++;
  return i;
}

function compareParts(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const diff = weight(a, i) - weight(b, j);
      if (diff !== 0) return diff;
      i++;
      j++;
    }
    const endA = digitRunEnd(a, i);
    const endB = digitRunEnd(b, j);
    const diff = compareDigits(a.slice(i, endA), b.slice(j, endB));
    if (diff !== 0) return diff;
    i = endA;
    j = endB;
  }
  return 0;
}

export function compare(a: string, b: string): number {
  const x = parse(a.trim());
  const y = parse(b.trim());
  return compareDigits(x.epoch, y.epoch) || compareParts(x.upstream, y.upstream) || compareParts(x.revision, y.revision);
}

/** What dpkg accepts without complaint: numeric epoch, upstream starting with a digit, Policy's characters. */
export function isValid(version: string): boolean {
  const { upstream, revision } = parse(version);
  const colon = version.indexOf(':');
  if (colon >= 0 && !/^\d+$/.test(version.slice(0, colon))) return false;
  if (version.endsWith('-')) return false;
  return /^\d[A-Za-z0-9.+~-]*$/.test(upstream) && /^[A-Za-z0-9.+~]*$/.test(revision);
}
