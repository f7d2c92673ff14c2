// PyPI packages (OSV ecosystem `PyPI`): installed distributions in site-packages or dist-packages
// (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, an `.egg-info` file, `*.egg/EGG-INFO/PKG-INFO`:
// core metadata headers, https://packaging.python.org/en/latest/specifications/core-metadata/),
// poetry.lock `[[package]]` tables, the pinned lines of requirements files
// (https://pip.pypa.io/en/stable/reference/requirements-file-format/) and Pipfile.lock. Names are
// kept as written; the purl carries the PEP 503 normalised name, which is also how OSV names them.
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { basename, checkFileSize, PackageList, parseJson, purl, recordAt, stringAt, text } from './common.ts';
import { readArrayTables } from './toml.ts';

/** PEP 503: runs of `-`, `_` and `.` become one `-`, lower case. */
export function normalizePypiName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

function pypiPackages(entry: FileEntry): PackageList {
  return new PackageList(entry, 'PyPI', (name, version) => purl('pypi', undefined, normalizePypiName(name), version));
}

/** The first value of each header (lower-cased name) before the first empty line; continuation lines are joined. */
function metadataHeaders(source: string): Map<string, string> {
  const headers = new Map<string, string>();
  const end = source.search(/\r?\n\r?\n/);
  let last: string | undefined;
  for (const line of (end < 0 ? source : source.slice(0, end)).split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (last !== undefined) headers.set(last, `${headers.get(last) ?? ''} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    last = colon > 0 && !headers.has(name) ? name : undefined;
    if (last !== undefined) headers.set(last, line.slice(colon + 1).trim());
  }
  return headers;
}

const INSTALLED_METADATA = /\.dist-info\/METADATA$|\.egg-info\/PKG-INFO$|\.egg-info$|\.egg\/EGG-INFO\/PKG-INFO$/;
/** Python's install directories; egg-info elsewhere is a project's own, left by `setup.py develop` or a build. */
const SITE_PACKAGES = /(?:^|\/)(?:site|dist)-packages\//;

export const pythonInstalledExtractor: Extractor = {
  name: 'pypi/installed',
  wants: (entry) => INSTALLED_METADATA.test(entry.path) && SITE_PACKAGES.test(entry.path),
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const headers = metadataHeaders(text(content));
    const list = pypiPackages(entry);
    list.add(headers.get('name'), headers.get('version'));
    return list.packages;
  },
};

export const poetryLockExtractor: Extractor = {
  name: 'pypi/poetry-lock',
  wants: (entry) => basename(entry.path) === 'poetry.lock',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = pypiPackages(entry);
    for (const table of readArrayTables(text(content), 'package')) {
      // A `directory` source is a path dependency: the project's own code, not a PyPI release.
      if (table['source.type'] !== 'directory') list.add(table.name, table.version);
    }
    return list.packages;
  },
};

/** `name[extras] == version` (or `===`), after markers (`;`), options (`--hash`) and comments are cut off. */
const PINNED = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\]\s*)?===?\s*([^\s*,;]+)$/;

function fromRequirements(list: PackageList, source: string): void {
  for (const raw of source.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    const line = raw.replace(/(?:^|\s)#.*$/, '').split(';')[0]?.split(/\s--?[A-Za-z]/)[0]?.trim() ?? '';
    const pinned = PINNED.exec(line);
    if (pinned) list.add(pinned[1], pinned[2]);
  }
}

export const requirementsExtractor: Extractor = {
  name: 'pypi/requirements',
  wants: (entry) => /^requirements.*\.txt$/.test(basename(entry.path)),
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = pypiPackages(entry);
    fromRequirements(list, text(content));
    return list.packages;
  },
};

export const pipfileLockExtractor: Extractor = {
  name: 'pypi/pipfile-lock',
  wants: (entry) => basename(entry.path) === 'Pipfile.lock',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const doc = parseJson(content);
    const list = pypiPackages(entry);
    for (const section of ['default', 'develop']) {
      for (const [name, value] of Object.entries(recordAt(doc, section) ?? {})) {
        list.add(name, /^===?(.+)$/.exec(stringAt(value, 'version') ?? '')?.[1]);
      }
    }
    return list.packages;
  },
};
