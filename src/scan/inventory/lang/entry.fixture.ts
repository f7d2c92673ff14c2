// Test helpers for the language extractors: a file entry as the layer reader would give it, and
// running an extractor on in-memory content the way the reader does (only if it wants the file).
import assert from 'node:assert/strict';
import { DEFAULT_SCAN_LIMITS, type Extractor, type FileEntry, type Package, type ScanLimits } from '../../types.ts';

export const LAYER = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';

export function fileEntry(path: string, content: Buffer | string = '', mode = 0o644): FileEntry {
  return { path, size: Buffer.byteLength(content), mode, layerDigest: LAYER };
}

/** The extractor's packages for `content` at `path`; fails the test when it does not want the file. */
export async function extractFile(
  extractor: Extractor,
  path: string,
  content: Buffer | string,
  options: { mode?: number; limits?: ScanLimits } = {},
): Promise<Package[]> {
  const buffer = Buffer.from(content);
  const entry = fileEntry(path, buffer, options.mode);
  assert.ok(extractor.wants(entry), `${extractor.name} wants ${path}`);
  return extractor.extract(entry, buffer, options.limits ?? DEFAULT_SCAN_LIMITS);
}

/** `name@version` of each package, sorted, for compact assertions. */
export function ids(packages: Package[]): string[] {
  return packages.map((p) => `${p.name}@${p.version}`).sort();
}
