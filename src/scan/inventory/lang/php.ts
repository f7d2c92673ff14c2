// Packagist packages (OSV ecosystem `Packagist`) from composer.lock's `packages` and `packages-dev`
// lists (https://getcomposer.org/doc/01-basic-usage.md#commit-your-composer-lock-file-to-version-control):
// `vendor/name` and the version as Composer wrote it (`v5.4.31`, `1.2.3`, `dev-main`).
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { basename, checkFileSize, isRecord, PackageList, parseJson, purl, stringAt } from './common.ts';

function composerPurl(name: string, version: string): string {
  const slash = name.indexOf('/');
  const lower = name.toLowerCase();
  return slash > 0 ? purl('composer', lower.slice(0, slash), lower.slice(slash + 1), version) : purl('composer', undefined, lower, version);
}

export const composerLockExtractor: Extractor = {
  name: 'packagist/composer-lock',
  wants: (entry) => basename(entry.path) === 'composer.lock',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const doc = parseJson(content);
    const list = new PackageList(entry, 'Packagist', composerPurl);
    for (const section of ['packages', 'packages-dev']) {
      const packages = isRecord(doc) ? doc[section] : undefined;
      for (const pkg of Array.isArray(packages) ? (packages as unknown[]) : []) list.add(stringAt(pkg, 'name'), stringAt(pkg, 'version'));
    }
    return list.packages;
  },
};
