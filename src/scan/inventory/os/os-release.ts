// os-release (https://www.freedesktop.org/software/systemd/man/latest/os-release.html): shell-style
// KEY=value lines, values optionally in double quotes (with \" \\ \$ \` escapes) or single quotes,
// `#` comments. Also how a release names its OSV ecosystem (https://ossf.github.io/osv-schema/,
// "Affected package": `Debian:12`, `Ubuntu:22.04`, `Alpine:v3.19`, `AlmaLinux:9`, `Rocky Linux:9`,
// `Red Hat`) and its package URLs (purl namespace and `distro` qualifier).
import type { OsRelease } from '../../types.ts';

/** The image paths os-release is read from, preferred first. */
export const OS_RELEASE_PATHS: readonly string[] = ['etc/os-release', 'usr/lib/os-release'];

/** The release described by an os-release file, or undefined when it names no ID. */
export function parseOsRelease(text: string): OsRelease | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) continue; // blank, comment or not an assignment
    const [, key = '', raw = ''] = match;
    fields.set(key, unquote(raw.trim()));
  }
  const id = fields.get('ID')?.toLowerCase();
  if (id === undefined || id === '') return undefined;
  const release: OsRelease = { id };
  const versionId = fields.get('VERSION_ID');
  const codename = fields.get('VERSION_CODENAME');
  const prettyName = fields.get('PRETTY_NAME');
  if (versionId) release.versionId = versionId;
  if (codename) release.versionCodename = codename;
  if (prettyName) release.prettyName = prettyName;
  return release;
}

function unquote(raw: string): string {
  if (raw.startsWith("'")) {
    const end = raw.indexOf("'", 1);
    return end < 0 ? raw.slice(1) : raw.slice(1, end);
  }
  if (raw.startsWith('"')) {
    let out = '';
    for (let i = 1; i < raw.length; i++) {
      const c = raw[i];
      if (c === '"') break;
      if (c === '\\' && i + 1 < raw.length && '"\\$`'.includes(raw[i + 1] ?? '')) {
        out += raw[i + 1];
        i++;
      } else {
        out += c;
      }
    }
    return out;
  }
  // Unquoted: up to white space (after which a shell would read a comment or garbage).
  return raw.split(/\s/)[0] ?? '';
}

/** Debian releases by codename, for testing/sid whose os-release has no VERSION_ID. */
const DEBIAN_CODENAMES: Record<string, string> = {
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
};

function major(versionId: string | undefined): string | undefined {
  return versionId === undefined ? undefined : /^\d+/.exec(versionId)?.[0];
}

/** The OSV ecosystem of the release's OS packages. */
export function osEcosystem(os: OsRelease): string {
  switch (os.id) {
    case 'debian': {
      const release = major(os.versionId) ?? DEBIAN_CODENAMES[os.versionCodename ?? ''];
      return release === undefined ? 'Debian' : `Debian:${release}`;
    }
    case 'ubuntu':
      return os.versionId === undefined ? 'Ubuntu' : `Ubuntu:${os.versionId}`;
    case 'alpine': {
      const m = /^(\d+)\.(\d+)/.exec(os.versionId ?? '');
      return m === null ? 'Alpine' : `Alpine:v${m[1]}.${m[2]}`;
    }
    case 'almalinux':
      return withMajor('AlmaLinux', os.versionId);
    case 'rocky':
      return withMajor('Rocky Linux', os.versionId);
    case 'rhel':
      return 'Red Hat';
    default:
      return os.id.charAt(0).toUpperCase() + os.id.slice(1);
  }
}

function withMajor(name: string, versionId: string | undefined): string {
  const m = major(versionId);
  return m === undefined ? name : `${name}:${m}`;
}

/** The purl namespace of the release's OS packages (`debian`, `ubuntu`, `alpine`, `redhat`, ...). */
export function purlNamespace(os: OsRelease): string {
  return os.id === 'rhel' ? 'redhat' : os.id;
}

/** The purl `distro` qualifier: `debian-12`, `ubuntu-22.04`, `alpine-3.19.1`, or `<id>-<codename>`. */
export function purlDistro(os: OsRelease): string | undefined {
  const release = os.versionId ?? os.versionCodename;
  return release === undefined ? undefined : `${os.id}-${release}`;
}
