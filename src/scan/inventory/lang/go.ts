// Go modules (OSV ecosystem `Go`) from the build information the Go linker embeds in executables, as
// Go's debug/buildinfo reads it: a 32-byte header at a 16-byte aligned offset, starting with the
// magic `\xff Go buildinf:`, then the pointer size and a flags byte. Since Go 1.18 (flags & 2) the
// Go version and the module information follow the header as varint-length-prefixed strings; the
// older format points at them by virtual address, which needs the executable's section table, and
// is not read (binaries built before Go 1.18 give no packages). The module information is text
// (runtime/debug.BuildInfo): `mod` (the main module), `dep` lines and `=>` lines replacing the
// line before. The toolchain becomes the package `stdlib` (osv.dev's name for the standard library),
// `go1.21.4` giving `1.21.4`. Versions lose Go's `v` for OSV's SEMVER ranges; purls keep it.
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { checkFileSize, PackageList, purl } from './common.ts';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const ALIGNMENT = 16;
const FLAG_INLINE_STRINGS = 2;
/** The module information is framed by 16 sentinel bytes on each side, the text ending in a newline. */
const SENTINEL_SIZE = 16;
/** A Go executable is at least this large (the runtime alone is over 1 MB). */
const MIN_BINARY_BYTES = 64 * 1024;

/** An unsigned LEB128 varint at `pos`, as Go's encoding/binary.Uvarint writes it. */
function readUvarint(buf: Buffer, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 8 && pos + i < buf.length; i++) {
    const byte = buf[pos + i] ?? 0;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return { value, next: pos + i + 1 };
  }
  return undefined;
}

/** The Go version and module information of the Go 1.18+ header at `at`, or undefined when it is not one. */
function readBuildInfo(content: Buffer, at: number): { goVersion: string; modinfo: string } | undefined {
  if (at + HEADER_SIZE > content.length || ((content[at + MAGIC.length + 1] ?? 0) & FLAG_INLINE_STRINGS) === 0) return undefined;
  const strings: Buffer[] = [];
  let pos = at + HEADER_SIZE;
  for (let i = 0; i < 2; i++) {
    const length = readUvarint(content, pos);
    if (!length || length.next + length.value > content.length) return undefined;
    strings.push(content.subarray(length.next, length.next + length.value));
    pos = length.next + length.value;
  }
  const [version = Buffer.alloc(0), framed = Buffer.alloc(0)] = strings;
  const goVersion = version.toString('utf8');
  if (!/^(?:go\d|devel )/.test(goVersion)) return undefined;
  const modinfo =
    framed.length > 2 * SENTINEL_SIZE && framed[framed.length - SENTINEL_SIZE - 1] === 0x0a
      ? framed.subarray(SENTINEL_SIZE, framed.length - SENTINEL_SIZE)
      : framed;
  return { goVersion, modinfo: modinfo.toString('utf8') };
}

/** The build information of the first aligned magic that starts a valid header. */
export function findBuildInfo(content: Buffer): { goVersion: string; modinfo: string } | undefined {
  for (let at = content.indexOf(MAGIC); at >= 0; at = content.indexOf(MAGIC, at + 1)) {
    const info = at % ALIGNMENT === 0 ? readBuildInfo(content, at) : undefined;
    if (info) return info;
  }
  return undefined;
}

/** `go1.21.4` → `1.21.4`, `go1.20` → `1.20.0`, `go1.22rc1` → `1.22.0-rc.1`; development toolchains give undefined. */
export function stdlibVersion(goVersion: string): string | undefined {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?(?:\s|$)/.exec(goVersion);
  if (!m) return undefined;
  return `${m[1]}.${m[2]}.${m[3] ?? '0'}${m[4] ? `-${m[4]}.${m[5]}` : ''}`;
}

function goPurl(name: string, version: string): string {
  const lower = name.toLowerCase();
  const slash = lower.lastIndexOf('/');
  const goVersion = name === 'stdlib' ? version : `v${version}`;
  return slash > 0 ? purl('golang', lower.slice(0, slash), lower.slice(slash + 1), goVersion) : purl('golang', undefined, lower, goVersion);
}

interface Module {
  path: string;
  version: string;
}

/** The main module and dependencies, each replaced by its `=>` line when it has one. */
function modules(modinfo: string): Module[] {
  const found: Module[] = [];
  for (const line of modinfo.split('\n')) {
    const [kind, path = '', version = ''] = line.split('\t');
    if (kind === 'mod' || kind === 'dep') found.push({ path, version });
    else if (kind === '=>' && found.length > 0) found[found.length - 1] = { path, version };
  }
  return found;
}

/**
 * Reads executables of `MIN_BINARY_BYTES` up to `maxBinaryBytes`: a bigger one is left alone rather
 * than failing the scan at the reader's `maxFileBytes`, so pass that limit here.
 */
export function goBinaryExtractor(maxBinaryBytes: number): Extractor {
  return {
    name: 'go/binary',
    wants: (entry) => (entry.mode & 0o111) !== 0 && entry.size >= MIN_BINARY_BYTES && entry.size <= maxBinaryBytes,
    extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
      checkFileSize(entry, content, limits);
      const info = findBuildInfo(content);
      if (!info) return [];
      const list = new PackageList(entry, 'Go', goPurl);
      list.add('stdlib', stdlibVersion(info.goVersion));
      for (const module of modules(info.modinfo)) {
        // `(devel)` is an unversioned main module; a replacement by a local directory has no version.
        if (module.version !== '(devel)') list.add(module.path, module.version.replace(/^v/, '') || undefined);
      }
      return list.packages;
    },
  };
}
