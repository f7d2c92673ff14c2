// The inventory builder: reads an image's layers once each, in order, runs the extractors on the
// files they want, and keeps the results per path the way the image's root filesystem would look
// (OCI image-spec layer.md "Changesets" and "Whiteouts": a later entry at a path replaces it, a
// whiteout or opaque directory hides what lower layers put there, never what its own layer adds).
// Then the OS packages get their release from os-release (etc/os-release, else usr/lib/os-release).
import { readLayer, type ImageTally, type LayerSource } from '../layers.ts';
import { DEFAULT_SCAN_LIMITS, type Extractor, type FileEntry, type Inventory, type OsRelease, type Package, type ScanLimits } from '../types.ts';
import { withDistro } from './os/common.ts';
import { OS_RELEASE_PATHS, osEcosystem, parseOsRelease, purlDistro, purlNamespace } from './os/os-release.ts';

export type { LayerSource };

/** What one file of the image gave. */
interface Found {
  file: FileEntry;
  packages: Package[];
  osRelease?: OsRelease;
}

/** Found results by path, with a count of the results under each directory, so that a subtree can be dropped without visiting every path. */
class FoundByPath {
  readonly #byPath = new Map<string, Found>();
  readonly #below = new Map<string, number>();

  get(path: string): Found | undefined {
    return this.#byPath.get(path);
  }

  has(path: string): boolean {
    return this.#byPath.has(path);
  }

  /** Whether results lie under the directory (`''`: the root). */
  hasBelow(dir: string): boolean {
    return dir === '' ? this.#byPath.size > 0 : this.#below.has(dir);
  }

  set(path: string, found: Found): void {
    if (!this.#byPath.has(path)) this.#count(path, 1);
    this.#byPath.set(path, found);
  }

  delete(path: string): void {
    if (this.#byPath.delete(path)) this.#count(path, -1);
  }

  deleteBelow(dir: string): void {
    if (!this.hasBelow(dir)) return;
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const path of [...this.#byPath.keys()]) if (path.startsWith(prefix)) this.delete(path);
  }

  values(): IterableIterator<Found> {
    return this.#byPath.values();
  }

  #count(path: string, delta: number): void {
    for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
      const dir = path.slice(0, slash);
      const n = (this.#below.get(dir) ?? 0) + delta;
      if (n === 0) this.#below.delete(dir);
      else this.#below.set(dir, n);
    }
  }
}

/**
 * The packages of an image. Layers are read in order, once each; `limits` bound the work (a broken
 * limit, a corrupt layer or a wanted file over maxFileBytes rejects with a ScanFailure).
 */
export async function buildInventory(
  layers: AsyncIterable<LayerSource> | Iterable<LayerSource>,
  config: { os: string; architecture: string; variant?: string },
  extractors: Extractor[],
  limits: ScanLimits = DEFAULT_SCAN_LIMITS,
): Promise<Inventory> {
  const found = new FoundByPath();
  const tally: ImageTally = { bytes: 0, entries: 0 };
  const wants = (file: FileEntry): boolean => OS_RELEASE_PATHS.includes(file.path) || extractors.some((e) => e.wants(file));

  const extractFile = async (file: FileEntry, content: Buffer): Promise<Found | undefined> => {
    const packages: Package[] = [];
    for (const extractor of extractors) {
      if (!extractor.wants(file)) continue;
      for (const pkg of await extractor.extract(file, content, limits)) packages.push(pkg);
    }
    const osRelease = OS_RELEASE_PATHS.includes(file.path) ? parseOsRelease(content.toString('utf8')) : undefined;
    if (packages.length === 0 && osRelease === undefined) return undefined;
    return osRelease === undefined ? { file, packages } : { file, packages, osRelease };
  };

  for await (const layer of layers) {
    // Changes of this layer, applied when it is read: whiteouts act on lower layers only.
    const removed = new Set<string>();
    const removedBelow = new Set<string>();
    const added = new Map<string, Found>();
    const hideLower = (path: string, self: boolean, below: boolean): void => {
      if (self && found.has(path)) removed.add(path);
      if (below && found.hasBelow(path)) removedBelow.add(path);
    };
    /**
     * A hard link shares its target's content: it gets the target's results when the target was read
     * (a wanted file earlier in this layer or below) and the link's own path is wanted too.
     */
    const linked = (path: string, targetPath: string): Found | undefined => {
      const target = added.get(targetPath) ?? found.get(targetPath);
      if (target === undefined) return undefined;
      const file = { ...target.file, path, layerDigest: layer.digest };
      return wants(file) ? relink(target, file) : undefined;
    };

    for await (const entry of readLayer(layer, { limits, wants, tally })) {
      if (entry.type === 'whiteout' || entry.type === 'opaque') {
        hideLower(entry.path, entry.type === 'whiteout', true);
        continue;
      }
      // Any other entry replaces what lower layers had at its path, and a non-directory what they had below it.
      hideLower(entry.path, true, entry.type !== 'directory');
      added.delete(entry.path);
      const result =
        entry.type === 'file' && entry.content !== undefined
          ? await extractFile(entry.file, entry.content)
          : entry.type === 'hardlink'
            ? linked(entry.path, entry.target)
            : undefined;
      if (result !== undefined) added.set(entry.path, result);
    }

    for (const path of removed) found.delete(path);
    for (const dir of removedBelow) found.deleteBelow(dir);
    for (const [path, result] of added) found.set(path, result);
  }

  const os = OS_RELEASE_PATHS.map((p) => found.get(p)?.osRelease).find((r) => r !== undefined);
  const packages: Package[] = [];
  for (const result of found.values()) for (const pkg of result.packages) packages.push(os === undefined ? pkg : withRelease(pkg, os));

  const inventory: Inventory = {
    platform:
      config.variant === undefined
        ? { os: config.os, architecture: config.architecture }
        : { os: config.os, architecture: config.architecture, variant: config.variant },
    packages: dedupeAndSort(packages),
  };
  if (os !== undefined) inventory.os = os;
  return inventory;
}

/** A hard link's copy of its target's results, under the link's path and layer. */
function relink(target: Found, file: FileEntry): Found {
  const from = target.file.path;
  const packages = target.packages.map((pkg) => ({
    ...pkg,
    layerDigest: file.layerDigest,
    path: pkg.path === from ? file.path : pkg.path.startsWith(`${from}!`) ? file.path + pkg.path.slice(from.length) : pkg.path,
  }));
  return target.osRelease === undefined ? { file, packages } : { file, packages, osRelease: target.osRelease };
}

/** An OS package with the release's ecosystem and package URL namespace and distro. */
function withRelease(pkg: Package, os: OsRelease): Package {
  if (pkg.kind !== 'os') return pkg;
  const out: Package = { ...pkg, ecosystem: osEcosystem(os) };
  if (pkg.purl !== undefined) out.purl = withDistro(pkg.purl, purlNamespace(os), purlDistro(os));
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One package per ecosystem, name, version and path, ordered by them. */
function dedupeAndSort(packages: Package[]): Package[] {
  const byKey = new Map<string, Package>();
  for (const pkg of packages) {
    const key = [pkg.ecosystem, pkg.name, pkg.version, pkg.path].join('\u0000');
    if (!byKey.has(key)) byKey.set(key, pkg);
  }
  return [...byKey.values()].sort(
    (a, b) => compare(a.ecosystem, b.ecosystem) || compare(a.name, b.name) || compare(a.version, b.version) || compare(a.path, b.path),
  );
}
