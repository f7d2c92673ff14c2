// crates.io packages (OSV ecosystem `crates.io`) from Cargo.lock's `[[package]]` tables
// (https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html). Packages without a `source`
// are the workspace's own crates and path dependencies: they are not crates.io releases, and a
// name that happens to match a published crate would draw its advisories, so they are left out.
// Registry and git sources are kept.
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { basename, checkFileSize, PackageList, purl, text } from './common.ts';
import { readArrayTables } from './toml.ts';

export const cargoLockExtractor: Extractor = {
  name: 'cargo/cargo-lock',
  wants: (entry) => basename(entry.path) === 'Cargo.lock',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = new PackageList(entry, 'crates.io', (name, version) => purl('cargo', undefined, name, version));
    for (const table of readArrayTables(text(content), 'package')) {
      if (table.source !== undefined) list.add(table.name, table.version);
    }
    return list.packages;
  },
};
