// What the OS package extractors share: blank-line separated stanzas (dpkg's deb822 status files,
// apk's installed database), plausibility checks for names and versions read from hostile files,
// and package URLs (https://github.com/package-url/purl-spec: types deb, apk, rpm, whose namespace
// is the distribution and whose `distro` qualifier names its release).

/** The non-empty lines of each stanza; stanzas are separated by empty or blank lines. */
export function stanzas(text: string): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim() === '') {
      if (current.length > 0) out.push(current);
      current = [];
    } else {
      current.push(trimmed);
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

const MAX_NAME_LENGTH = 256;
const MAX_VERSION_LENGTH = 256;

/** A name or version as package managers write them: non-empty, bounded, no white space or control characters. */
export function plausible(value: string | undefined, kind: 'name' | 'version'): value is string {
  const max = kind === 'name' ? MAX_NAME_LENGTH : MAX_VERSION_LENGTH;
  // eslint-disable-next-line no-control-regex
  return value !== undefined && value.length > 0 && value.length <= max && !/[\s\u0000-\u001f\u007f]/.test(value);
}

function encode(segment: string): string {
  return encodeURIComponent(segment).replaceAll('%3A', ':');
}

/** `pkg:<type>/<namespace>/<name>@<version>?<qualifiers>`, qualifiers sorted by key, undefined ones left out. */
export function osPurl(type: string, namespace: string, name: string, version: string, qualifiers: Record<string, string | undefined> = {}): string {
  const query = Object.entries(qualifiers)
    .filter((q): q is [string, string] => q[1] !== undefined && q[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${encode(v)}`)
    .join('&');
  return `pkg:${type}/${encode(namespace)}/${encode(name)}@${encode(version)}${query === '' ? '' : `?${query}`}`;
}

/**
 * The OS package URL with the distribution's namespace and `distro` qualifier, known only once
 * os-release is read (extractors form it with their family's default namespace, `debian`,
 * `alpine`, `redhat`). Other purls are returned unchanged.
 */
export function withDistro(purl: string, namespace: string, distro: string | undefined): string {
  const match = /^pkg:([^/]+)\/[^/]+\/([^/?#]+@[^?#]+)(?:\?([^#]*))?$/.exec(purl);
  if (match === null) return purl;
  const [, type = '', nameAtVersion = '', query = ''] = match;
  const qualifiers = new Map<string, string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) qualifiers.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  if (distro !== undefined) qualifiers.set('distro', encode(distro));
  const sorted = [...qualifiers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  return `pkg:${type}/${encode(namespace)}/${nameAtVersion}${sorted.length === 0 ? '' : `?${sorted.join('&')}`}`;
}

/** The value when it is a plausible name (architectures, origins), else undefined. */
export function plausibleOrUndefined(value: string | undefined): string | undefined {
  return plausible(value, 'name') ? value : undefined;
}
