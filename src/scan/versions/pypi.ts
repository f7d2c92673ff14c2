// Python version order: PEP 440 (packaging's `Version`, via @renovatebot/pep440), which also
// normalises spellings (`1.0RC1` = `1.0rc1`, `1.0-1` = `1.0.post1`) and orders local versions.
// Strings that are not PEP 440 versions get packaging's pre-22 `LegacyVersion` order, which old
// advisories and the osv-scalibr vectors still use: they sort before every PEP 440 version and
// among themselves by setuptools' historical key (numbers zero-padded to 8 digits, `pre`,
// `preview` and `rc` as `c`, `dev` as `@`, `-` as `final-`, trailing zeros dropped).
import * as pep440 from '@renovatebot/pep440';
import { compareText, isDigit } from './digits.ts';

const LEGACY_REPLACEMENTS: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };

function legacyKey(version: string): string[] {
  const key: string[] = [];
  for (const raw of [...version.toLowerCase().split(/(\d+|[a-z]+|\.|-)/), 'final']) {
    const part = LEGACY_REPLACEMENTS[raw] ?? raw;
    if (part === '' || part === '.') continue;
    if (isDigit(part[0])) {
      key.push(part.padStart(8, '0'));
      continue;
    }
    const word = `*${part}`;
    if (word < '*final') while (key.at(-1) === '*final-') key.pop();
    while (key.at(-1) === '00000000') key.pop();
    key.push(word);
  }
  return key;
}

function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = compareText(a[i]!, b[i]!);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

export function compare(a: string, b: string): number {
  const validA = isValid(a);
  const validB = isValid(b);
  if (validA && validB) return pep440.compare(a.trim(), b.trim());
  if (validA !== validB) return validA ? 1 : -1;
  return compareKeys(legacyKey(a.trim()), legacyKey(b.trim()));
}

export function isValid(version: string): boolean {
  return pep440.valid(version.trim()) !== null;
}
