// apk's database of installed packages, `lib/apk/db/installed`: blank-line separated stanzas of
// `X:value` lines (apk-tools doc/apk-v2.5, "Installed database" field letters): `P` name, `V`
// version, `A` architecture, `o` origin (the source package advisories name), `L` license.
import type { Extractor, FileEntry, Package } from '../../types.ts';
import { osPurl, plausible, plausibleOrUndefined, stanzas } from './common.ts';

const INSTALLED = 'lib/apk/db/installed';

/** The first value of each field letter in a stanza (file lists repeat `F:`/`R:`, read no further). */
function fields(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    if (line.length < 2 || line[1] !== ':') continue;
    const key = line[0] ?? '';
    if (!out.has(key)) out.set(key, line.slice(2).trim());
  }
  return out;
}

function toPackage(entry: FileEntry, f: Map<string, string>): Package | undefined {
  const name = f.get('P');
  const version = f.get('V');
  if (!plausible(name, 'name') || !plausible(version, 'version')) return undefined;
  const arch = plausibleOrUndefined(f.get('A'));
  const origin = f.get('o');
  const license = f.get('L');
  const pkg: Package = {
    name,
    version,
    ecosystem: 'Alpine',
    kind: 'os',
    sourceName: plausible(origin, 'name') ? origin : name,
    layerDigest: entry.layerDigest,
    path: entry.path,
    purl: osPurl('apk', 'alpine', name, version, { arch }),
  };
  if (arch !== undefined) pkg.arch = arch;
  if (license !== undefined && license !== '') pkg.licenses = [license];
  return pkg;
}

export const apkExtractor: Extractor = {
  name: 'apk',
  wants: (entry) => entry.path === INSTALLED,
  extract(entry, content) {
    const packages: Package[] = [];
    for (const stanza of stanzas(content.toString('utf8'))) {
      const pkg = toPackage(entry, fields(stanza));
      if (pkg !== undefined) packages.push(pkg);
    }
    return packages;
  },
};
