// Parsing of WWW-Authenticate (RFC 7235 section 4.1, RFC 9110 section 11.6.1): one or more
// challenges, each an auth scheme followed by either a token68 or comma-separated auth-params whose
// values are tokens or quoted strings (RFC 9110 section 5.6.4, where commas and escaped quotes may
// appear). Registries send `Bearer realm="...",service="...",scope="..."` (Docker token
// authentication, RFC 6750 section 3) or `Basic realm="..."`.

export interface Challenge {
  /** The auth scheme, lowercased (`bearer`, `basic`). */
  scheme: string;
  /** Auth-params by lowercased name. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*/y;
const OWS = /[ \t]*/y;
const LIST_SEPARATORS = /[ \t,]*/y;
const PARAM_AHEAD = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=/y;

export class ChallengeSyntaxError extends Error {
  override readonly name = 'ChallengeSyntaxError';
}

/** Every challenge in the header value; throws ChallengeSyntaxError when it does not follow the grammar. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  let i = 0;
  const at = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(header);
    if (m === null) return undefined;
    i = re.lastIndex;
    return m[0];
  };
  const lookingAt = (re: RegExp): boolean => {
    re.lastIndex = i;
    return re.test(header);
  };
  const fail = (what: string): never => {
    throw new ChallengeSyntaxError(`malformed WWW-Authenticate: ${what} at offset ${i}`);
  };
  const atEndOfItem = (): boolean => i >= header.length || header[i] === ',';
  const quoted = (): string => {
    let out = '';
    for (i++; i < header.length; i++) {
      const c = header[i] as string;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') i++;
      if (i < header.length) out += header[i];
    }
    return fail('unterminated quoted string');
  };

  const challenges: Challenge[] = [];
  for (;;) {
    at(LIST_SEPARATORS);
    if (i >= header.length) break;
    const scheme = at(TOKEN) ?? fail('expected an auth scheme');
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    const spaced = at(OWS) !== '';
    if (atEndOfItem()) continue;
    if (!spaced) fail(`unexpected "${header[i]}" after the scheme`);
    const start = i;
    const t68 = at(TOKEN68);
    at(OWS);
    if (t68 !== undefined && atEndOfItem()) {
      challenge.token68 = t68;
      continue;
    }
    i = start;
    for (;;) {
      const name = at(TOKEN) ?? fail('expected an auth-param name');
      at(OWS);
      if (header[i] !== '=') fail(`expected "=" after "${name}"`);
      i++;
      at(OWS);
      const value = header[i] === '"' ? quoted() : (at(TOKEN) ?? fail(`expected a value for "${name}"`));
      challenge.params[name.toLowerCase()] = value;
      at(OWS);
      if (i >= header.length) break;
      if (header[i] !== ',') fail(`expected "," after the value of "${name}"`);
      at(LIST_SEPARATORS);
      // After a comma comes either the next auth-param of this challenge or the next challenge.
      if (!lookingAt(PARAM_AHEAD)) break;
    }
  }
  return challenges;
}
