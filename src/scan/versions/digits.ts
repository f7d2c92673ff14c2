// Helpers shared by the hand-written version comparators: unbounded numeric comparison of digit
// strings (versions carry dates and build numbers longer than Number.MAX_SAFE_INTEGER) and plain
// code-unit string order (C's strcmp/memcmp on ASCII).

/** Compares two runs of ASCII digits as non-negative integers of any length; `''` counts as 0. */
export function compareDigits(a: string, b: string): number {
  const x = stripZeros(a);
  const y = stripZeros(b);
  return x.length !== y.length ? x.length - y.length : compareText(x, y);
}

/** -1, 0 or 1 by UTF-16 code units, which for ASCII is byte order. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stripZeros(digits: string): string {
  let i = 0;
  while (i < digits.length && digits[i] === '0') i++;
  return digits.slice(i);
}

export function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

export function isLetter(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}
