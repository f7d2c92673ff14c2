// The language package extractors the inventory builder runs over every layer: npm, PyPI, RubyGems,
// Maven, Go, crates.io, NuGet and Packagist (see each module for its formats and rules).
import { DEFAULT_SCAN_LIMITS, type Extractor, type ScanLimits } from '../../types.ts';
import { depsJsonExtractor } from './dotnet.ts';
import { goBinaryExtractor } from './go.ts';
import { javaArchiveExtractor } from './java.ts';
import { installedPackageExtractor, packageLockExtractor, pnpmLockExtractor, yarnLockExtractor } from './npm.ts';
import { composerLockExtractor } from './php.ts';
import { pipfileLockExtractor, poetryLockExtractor, pythonInstalledExtractor, requirementsExtractor } from './python.ts';
import { gemfileLockExtractor, gemspecExtractor } from './ruby.ts';
import { cargoLockExtractor } from './rust.ts';

/**
 * Every language extractor. Pass the scan's limits: the Go extractor only wants executables it can
 * be given (up to `maxFileBytes`), since any executable may be a Go program and a big one is no
 * reason to fail a scan. The other extractors want their files whatever the size, and rely on the
 * layer reader to refuse one over `maxFileBytes` before they parse it whole in memory.
 */
export function defaultLangExtractors(limits: Pick<ScanLimits, 'maxFileBytes'> = DEFAULT_SCAN_LIMITS): Extractor[] {
  return [
    packageLockExtractor,
    installedPackageExtractor,
    yarnLockExtractor,
    pnpmLockExtractor,
    pythonInstalledExtractor,
    poetryLockExtractor,
    requirementsExtractor,
    pipfileLockExtractor,
    gemspecExtractor,
    gemfileLockExtractor,
    javaArchiveExtractor,
    goBinaryExtractor(limits.maxFileBytes),
    cargoLockExtractor,
    depsJsonExtractor,
    composerLockExtractor,
  ];
}
