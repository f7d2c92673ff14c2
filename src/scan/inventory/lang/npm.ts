// npm packages (OSV ecosystem `npm`) from package-lock.json (https://docs.npmjs.com/cli/configuring-npm/package-lock-json:
// lockfileVersion 1 nests `dependencies`, 2 and 3 list `packages` by node_modules path), the
// package.json of installed packages under node_modules, yarn.lock (classic v1's own format; berry's
// YAML with `__metadata`, https://yarnpkg.com/configuration/yarnrc) and pnpm-lock.yaml (keys
// `/name/1.2.3` in v5, `/name@1.2.3` in v6, `name@1.2.3` in v9, with peer suffixes `_peer@1` or
// `(peer@1)`). Versions that are not semver (git, file and tarball sources) are left out.
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { basename, checkFileSize, isRecord, PackageList, parseJson, purl, recordAt, stringAt, text } from './common.ts';

export function npmPurl(name: string, version: string): string {
  const lower = name.toLowerCase();
  const slash = lower.startsWith('@') ? lower.indexOf('/') : -1;
  return slash > 0
    ? purl('npm', lower.slice(0, slash), lower.slice(slash + 1), version)
    : purl('npm', undefined, lower, version);
}

function npmPackages(entry: FileEntry): PackageList {
  return new PackageList(entry, 'npm', npmPurl);
}

/** The semver version, or undefined for git, file and URL "versions". */
function npmVersion(version: unknown): string | undefined {
  return typeof version === 'string' ? (semver.valid(version) ?? undefined) : undefined;
}

/** Splits `name@range` (name possibly scoped); undefined without an `@` after the first character. */
function splitAt(spec: string): { name: string; rest: string } | undefined {
  const at = spec.indexOf('@', 1);
  return at > 0 ? { name: spec.slice(0, at), rest: spec.slice(at + 1) } : undefined;
}

/** YAML as data only: every scalar a string, few aliases, no console output. */
function parseLockYaml(source: string): unknown {
  try {
    return parseYaml(source, { schema: 'failsafe', maxAliasCount: 100, uniqueKeys: false, logLevel: 'silent' }) as unknown;
  } catch {
    return undefined;
  }
}

const NODE_MODULES = 'node_modules/';

function fromPackageLock(list: PackageList, doc: unknown): void {
  const packages = recordAt(doc, 'packages');
  if (packages) {
    // The root is "", workspace sources are keyed by their folder: only installed copies count.
    for (const [key, value] of Object.entries(packages)) {
      const at = key.lastIndexOf(NODE_MODULES);
      if (at < 0 || (at > 0 && key[at - 1] !== '/') || !isRecord(value) || value.link === true) continue;
      list.add(stringAt(value, 'name') ?? key.slice(at + NODE_MODULES.length), npmVersion(value.version));
    }
    return;
  }
  // lockfileVersion 1, walked without recursion (JSON.parse accepts nesting deeper than the stack).
  const pending = [recordAt(doc, 'dependencies')];
  while (pending.length > 0) {
    for (const [name, value] of Object.entries(pending.pop() ?? {})) {
      const version = stringAt(value, 'version');
      const alias = version?.startsWith('npm:') ? splitAt(version.slice('npm:'.length)) : undefined;
      if (alias) list.add(alias.name, npmVersion(alias.rest));
      else list.add(name, npmVersion(version));
      pending.push(recordAt(value, 'dependencies'));
    }
  }
}

export const packageLockExtractor: Extractor = {
  name: 'npm/package-lock',
  wants: (entry) => {
    const name = basename(entry.path);
    return name === 'package-lock.json' || name === 'npm-shrinkwrap.json' || entry.path.endsWith('node_modules/.package-lock.json');
  },
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = npmPackages(entry);
    fromPackageLock(list, parseJson(content));
    return list.packages;
  },
};

/** `node_modules/[@scope/]name/package.json`: the manifest of an installed package, at any depth. */
const INSTALLED_MANIFEST = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/.@][^/]*\/package\.json$/;

export const installedPackageExtractor: Extractor = {
  name: 'npm/installed',
  wants: (entry) => INSTALLED_MANIFEST.test(entry.path),
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const doc = parseJson(content);
    const list = npmPackages(entry);
    list.add(stringAt(doc, 'name'), npmVersion(stringAt(doc, 'version')));
    return list.packages;
  },
};

/** The package names of a yarn classic entry header: `"@a/b@^1", alias@npm:real@^2:`. */
function classicHeaderNames(line: string): string[] {
  const names = new Set<string>();
  for (const quoted of line.replace(/:\s*$/, '').split(',')) {
    const spec = splitAt(quoted.trim().replace(/^"(.*)"$/, '$1'));
    if (!spec) continue;
    const alias = spec.rest.startsWith('npm:') ? splitAt(spec.rest.slice('npm:'.length)) : undefined;
    names.add(alias?.name ?? spec.name);
  }
  return [...names];
}

function fromYarnClassic(list: PackageList, source: string): void {
  let names: string[] = [];
  for (const line of source.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    if (!/^\s/.test(line)) {
      names = classicHeaderNames(line);
      continue;
    }
    const version = /^ {2}version "?([^"\s]+)"?\s*$/.exec(line)?.[1];
    if (version === undefined) continue;
    for (const name of names) list.add(name, npmVersion(version));
    names = [];
  }
}

/** Resolutions of the project's own folders, not of published packages. */
const LOCAL_PROTOCOLS = new Set(['workspace', 'link', 'portal']);

function fromYarnBerry(list: PackageList, doc: unknown): void {
  if (!isRecord(doc)) return;
  for (const [key, value] of Object.entries(doc)) {
    const resolution = stringAt(value, 'resolution');
    const spec = key === '__metadata' || resolution === undefined ? undefined : splitAt(resolution);
    if (!spec || LOCAL_PROTOCOLS.has(spec.rest.split(':', 1)[0] ?? '')) continue;
    list.add(spec.name, npmVersion(stringAt(value, 'version')));
  }
}

export const yarnLockExtractor: Extractor = {
  name: 'npm/yarn-lock',
  wants: (entry) => basename(entry.path) === 'yarn.lock',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = npmPackages(entry);
    const source = text(content);
    if (/^"?__metadata"?:/m.test(source)) fromYarnBerry(list, parseLockYaml(source));
    else fromYarnClassic(list, source);
    return list.packages;
  },
};

/** Name and version of a pnpm-lock.yaml `packages`/`snapshots` key. */
function pnpmKey(key: string, slashForm: boolean): { name: string; version: string } | undefined {
  let spec = key.startsWith('/') ? key.slice(1) : key;
  const peers = spec.indexOf('(');
  if (peers >= 0) spec = spec.slice(0, peers);
  if (slashForm) {
    const slash = spec.lastIndexOf('/');
    const version = spec.slice(slash + 1);
    const underscore = version.indexOf('_');
    return slash > 0 ? { name: spec.slice(0, slash), version: underscore >= 0 ? version.slice(0, underscore) : version } : undefined;
  }
  const at = spec.lastIndexOf('@');
  return at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1) } : undefined;
}

function fromPnpmLock(list: PackageList, doc: unknown): void {
  const slashForm = Number.parseFloat(stringAt(doc, 'lockfileVersion') ?? '') < 6;
  for (const section of ['packages', 'snapshots']) {
    for (const [key, value] of Object.entries(recordAt(doc, section) ?? {})) {
      const parsed = pnpmKey(key, slashForm);
      list.add(stringAt(value, 'name') ?? parsed?.name, npmVersion(stringAt(value, 'version') ?? parsed?.version));
    }
  }
}

export const pnpmLockExtractor: Extractor = {
  name: 'npm/pnpm-lock',
  wants: (entry) => basename(entry.path) === 'pnpm-lock.yaml',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = npmPackages(entry);
    fromPnpmLock(list, parseLockYaml(text(content)));
    return list.packages;
  },
};
