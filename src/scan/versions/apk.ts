// Alpine version order, as apk-tools compares versions (src/version.c; grammar in apk-package(5):
// number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}). A version is read as a chain of
// tokens: the first number, further `.number`s, one lower-case letter, `_suffix` names
// (alpha < beta < pre < rc < none < cvs < svn < git < hg < p) each with an optional number, a `~`
// commit hash and the `-r` revision. Tokens of the same kind compare by value (numbers
// numerically, except that a `.number` with a leading zero compares as a string); where one
// version's chain goes on and the other's turns to a later kind of token or ends, the one going on
// is newer unless it goes on with a pre-release suffix. Digits right after the letter (`6.6.2p1`,
// as Alpine 3.11 shipped opensmtpd) are a further number, as in apk-tools 2 (apk-tools 3 refuses
// them).
//
// Two points follow osv-scalibr (whose vectors the tests use) rather than apk-tools, and only
// matter for versions Alpine never ships: a missing revision is `-r0` (apk-tools puts `1` before
// `1-r0`; Alpine packages always carry a revision), and malformed versions. For those the tokens up
// to the malformation count, the rest ("junk") sorts before the end of a version and equals any
// other junk, `-r` without digits is revision 0, and two versions malformed before their revision
// compare as plain strings.
import { compareDigits, compareText, isDigit } from './digits.ts';

// Token kinds in the order apk-tools ranks them; JUNK is what follows a malformation.
const FIRST = 0;
const NUMBER = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NUMBER = 4;
const HASH = 5;
const REVISION = 6;
const END = 7;
const JUNK = 8;

const SUFFIXES = ['alpha', 'beta', 'pre', 'rc', '', 'cvs', 'svn', 'git', 'hg', 'p'];
const NO_SUFFIX = SUFFIXES.indexOf('');

interface Token {
  kind: number;
  text: string;
}

interface Chain {
  tokens: Token[];
  /** Malformed before any revision (junk after a revision is tolerated). */
  invalid: boolean;
}

/** The next token after one of kind `previous` at `i`, and where it ends; JUNK if none fits. */
function nextToken(version: string, i: number, previous: number): [Token, number] {
  const c = version[i];
  const run = (pattern: RegExp, from: number): string => pattern.exec(version.slice(from))![0];
  if (c === undefined) return [{ kind: END, text: '' }, i];
  if (c >= 'a' && c <= 'z' && previous <= NUMBER) return [{ kind: LETTER, text: c }, i + 1];
  if (c === '.' && previous <= NUMBER) {
    const digits = run(/^\d*/, i + 1);
    if (digits !== '') return [{ kind: NUMBER, text: digits }, i + 1 + digits.length];
  }
  if (isDigit(c) && (previous === LETTER || previous === SUFFIX)) {
    const digits = run(/^\d*/, i);
    return [{ kind: previous === LETTER ? NUMBER : SUFFIX_NUMBER, text: digits }, i + digits.length];
  }
  if (c === '_' && previous <= SUFFIX_NUMBER) {
    const name = run(/^[a-z]*/, i + 1);
    if (name !== '' && SUFFIXES.includes(name)) return [{ kind: SUFFIX, text: name }, i + 1 + name.length];
  }
  if (c === '~' && previous < HASH) {
    const hash = run(/^[0-9a-f]*/, i + 1);
    if (hash !== '') return [{ kind: HASH, text: hash }, i + 1 + hash.length];
  }
  if (c === '-' && version[i + 1] === 'r' && previous < REVISION) {
    const digits = run(/^\d*/, i + 2);
    return [{ kind: REVISION, text: digits }, i + 2 + digits.length];
  }
  return [{ kind: JUNK, text: '' }, i];
}

function tokenize(version: string): Chain {
  const first = /^\d*/.exec(version)![0];
  let token: Token = first === '' ? { kind: JUNK, text: '' } : { kind: FIRST, text: first };
  let i = first.length;
  const tokens: Token[] = [];
  while (token.kind !== END && token.kind !== JUNK) {
    tokens.push(token);
    [token, i] = nextToken(version, i, token.kind);
  }
  const previous = tokens.at(-1)?.kind;
  if (previous !== REVISION) tokens.push({ kind: REVISION, text: '0' });
  tokens.push(token);
  return { tokens, invalid: token.kind === JUNK && previous !== REVISION };
}

function compareTokens(a: Token, b: Token): number {
  switch (a.kind) {
    case NUMBER:
      return a.text.startsWith('0') || b.text.startsWith('0') ? compareText(a.text, b.text) : compareDigits(a.text, b.text);
    case LETTER:
    case HASH:
      return compareText(a.text, b.text);
    case SUFFIX:
      return SUFFIXES.indexOf(a.text) - SUFFIXES.indexOf(b.text);
    default:
      return compareDigits(a.text, b.text);
  }
}

function isPreRelease(token: Token): boolean {
  return token.kind === SUFFIX && SUFFIXES.indexOf(token.text) < NO_SUFFIX;
}

export function compare(a: string, b: string): number {
  const x = tokenize(a.trim());
  const y = tokenize(b.trim());
  if (x.invalid && y.invalid) return compareText(a.trim(), b.trim());
  for (let i = 0; ; i++) {
    const s = x.tokens[i]!;
    const t = y.tokens[i]!;
    if (s.kind !== t.kind) {
      if (isPreRelease(s)) return -1;
      if (isPreRelease(t)) return 1;
      return t.kind - s.kind;
    }
    if (s.kind === END || s.kind === JUNK) return 0;
    const diff = compareTokens(s, t);
    if (diff !== 0) return diff;
  }
}

/** The apk-package(5) grammar, with apk-tools 2's digits after a letter. */
export function isValid(version: string): boolean {
  return /^\d+(?:\.\d+|[a-z]\d+)*[a-z]?(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(?:~[0-9a-f]+)?(?:-r\d+)?$/.test(version);
}
