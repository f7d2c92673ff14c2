// A minimal TOML reader for lock files (Cargo.lock, poetry.lock), after TOML 1.0 (https://toml.io/en/v1.0.0):
// it returns the string values of each `[[name]]` array-of-tables entry, with the keys of its
// sub-tables prefixed (`[package.source]` `type = "git"` gives `source.type`). Other values
// (numbers, booleans, arrays, inline tables, multi-line strings) are stepped over, across lines,
// but not kept. Unterminated input ends the reading with what was read so far.

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

export function readArrayTables(source: string, tableName: string): Record<string, string>[] {
  const tables: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  let prefix = '';
  let pos = 0;

  function skipSpaces(): void {
    while (source[pos] === ' ' || source[pos] === '\t') pos++;
  }

  function toLineEnd(): void {
    const end = source.indexOf('\n', pos);
    pos = end < 0 ? source.length : end;
  }

  /** Reads the string at `pos` (at its opening quote); undefined for a multi-line or broken one. */
  function readString(): string | undefined {
    const quote = source[pos] ?? '';
    const triple = quote.repeat(3);
    if (source.startsWith(triple, pos)) {
      const end = source.indexOf(triple, pos + 3);
      pos = end < 0 ? source.length : end + 3;
      while (source[pos] === quote) pos++; // up to two quotes may close the content
      return undefined;
    }
    let value = '';
    for (pos++; pos < source.length; pos++) {
      const c = source[pos];
      if (c === quote) {
        pos++;
        return value;
      }
      if (c === '\n') return undefined;
      if (c === '\\' && quote === '"') {
        const next = source[++pos] ?? '';
        const hexLength = next === 'u' ? 4 : next === 'U' ? 8 : 0;
        const code = hexLength ? Number.parseInt(source.slice(pos + 1, pos + 1 + hexLength), 16) : NaN;
        if (code >= 0 && code <= 0x10ffff) {
          value += String.fromCodePoint(code);
          pos += hexLength;
        } else {
          value += ESCAPES[next] ?? next;
        }
      } else {
        value += c;
      }
    }
    return undefined;
  }

  /** Steps over a value that is not a one-line string, including arrays and inline tables over several lines. */
  function skipValue(): void {
    let depth = 0;
    while (pos < source.length) {
      const c = source[pos];
      if (c === '"' || c === "'") {
        readString();
        continue;
      }
      if (c === '#') {
        toLineEnd();
        continue;
      }
      if (c === '\n' && depth <= 0) return;
      pos++;
      if (c === '[' || c === '{') depth++;
      else if ((c === ']' || c === '}') && --depth <= 0) return;
    }
  }

  function header(): void {
    const end = source.indexOf('\n', pos);
    const line = source.slice(pos, end < 0 ? source.length : end);
    const arrayTable = /^\[\[\s*([^\]]+?)\s*\]\]/.exec(line)?.[1];
    const table = /^\[\s*([^\]]+?)\s*\]/.exec(line)?.[1];
    if (arrayTable !== undefined) {
      current = arrayTable === tableName ? {} : undefined;
      if (current) tables.push(current);
      prefix = '';
    } else if (current && table?.startsWith(`${tableName}.`)) {
      prefix = `${table.slice(tableName.length + 1)}.`;
    } else {
      current = undefined;
    }
  }

  while (pos < source.length) {
    skipSpaces();
    const c = source[pos];
    if (c === '[') {
      header();
    } else if (c !== '#' && c !== '\n' && c !== '\r') {
      const key = c === '"' || c === "'" ? readString() : /^[A-Za-z0-9_.-]+/.exec(source.slice(pos, pos + 256))?.[0];
      if (key !== undefined && c !== '"' && c !== "'") pos += key.length;
      skipSpaces();
      if (key !== undefined && source[pos] === '=') {
        pos++;
        skipSpaces();
        const q = source[pos];
        if ((q === '"' || q === "'") && !source.startsWith(q.repeat(3), pos)) {
          const value = readString();
          if (current && value !== undefined) current[prefix + key] = value;
        } else {
          skipValue();
        }
      }
    }
    toLineEnd();
    pos++;
  }
  return tables;
}
