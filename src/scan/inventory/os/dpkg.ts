// dpkg's database of installed packages: `var/lib/dpkg/status` (deb822 stanzas, deb-control(5) and
// dpkg(1) "INFORMATION ABOUT PACKAGES") and, in distroless images, one stanza per file under
// `var/lib/dpkg/status.d/` (no Status field; `*.md5sums` files beside them are file lists).
// Advisories name the source package, so `Source: name (version)` is kept (binNMUs build binary
// version `1.2-3+b1` from source `1.2-3`).
import type { Extractor, FileEntry, Package } from '../../types.ts';
import { osPurl, plausible, plausibleOrUndefined, stanzas } from './common.ts';

const STATUS = 'var/lib/dpkg/status';
/** Debian policy 5.6.1 (Source) and 5.6.7 (Package): letters, digits, `+`, `-`, `.`, starting alphanumerically. */
const NAME = /^[a-z0-9][a-z0-9+.-]*$/i;
/** Debian policy 5.6.12 (Version): [epoch:]upstream[-revision]. */
const VERSION = /^[A-Za-z0-9.+~:-]+$/;

function isName(value: string | undefined): value is string {
  return plausible(value, 'name') && NAME.test(value);
}

function isVersion(value: string | undefined): value is string {
  return plausible(value, 'version') && VERSION.test(value);
}
const STATUS_DIR = 'var/lib/dpkg/status.d/';

function isDpkgDatabase(path: string): boolean {
  if (path === STATUS) return true;
  if (!path.startsWith(STATUS_DIR)) return false;
  const name = path.slice(STATUS_DIR.length);
  return name !== '' && !name.includes('/') && !name.endsWith('.md5sums');
}

/** The fields of one stanza, names lower-cased; continuation lines are ignored (no field read here spans lines). */
function fields(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!out.has(name)) out.set(name, line.slice(colon + 1).trim());
  }
  return out;
}

/** `Status: <want> <flag> <status>`: the package's files are on disk when the status word is `installed`. */
function isInstalled(status: string | undefined): boolean {
  if (status === undefined) return true; // distroless status.d files
  return status.split(/\s+/)[2] === 'installed';
}

function toPackage(entry: FileEntry, f: Map<string, string>): Package | undefined {
  const name = f.get('package');
  const version = f.get('version');
  if (!isName(name) || !isVersion(version) || !isInstalled(f.get('status'))) return undefined;
  const arch = plausibleOrUndefined(f.get('architecture'));
  const pkg: Package = {
    name,
    version,
    ecosystem: 'Debian',
    kind: 'os',
    sourceName: name,
    layerDigest: entry.layerDigest,
    path: entry.path,
    purl: osPurl('deb', 'debian', name, version, { arch }),
  };
  if (arch !== undefined) pkg.arch = arch;
  const source = /^(\S+)(?:\s+\((\S+)\))?$/.exec(f.get('source') ?? '');
  if (source !== null && isName(source[1])) {
    pkg.sourceName = source[1];
    if (isVersion(source[2]) && source[2] !== version) pkg.sourceVersion = source[2];
  }
  return pkg;
}

export const dpkgExtractor: Extractor = {
  name: 'dpkg',
  wants: (entry) => isDpkgDatabase(entry.path),
  extract(entry, content) {
    const packages: Package[] = [];
    for (const stanza of stanzas(content.toString('utf8'))) {
      const pkg = toPackage(entry, fields(stanza));
      if (pkg !== undefined) packages.push(pkg);
    }
    return packages;
  },
};
