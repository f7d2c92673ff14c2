// Go version order: Go module versions (`v1.2.3`, pseudo-versions `v0.0.0-20210101000000-abcdef`,
// `+incompatible`) are SemVer with a `v`; Go OSV records write them without it. The standard library
// and toolchain (OSV packages `stdlib` and `toolchain`) use Go's release names, mapped as the Go
// vulnerability database does (golang.org/x/vulndb internal/stdlib): `go1.21.4` is 1.21.4, `go1.21`
// is 1.21.0, `go1.21rc2` is 1.21.0-rc.2, `go1.9beta1` is 1.9.0-beta.1.
import * as semver from './semver.ts';

/** The SemVer form of a Go module or Go release version. */
export function toSemver(version: string): string {
  const release = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?$/.exec(version.trim());
  if (!release) return version.trim();
  const [, major, minor = '0', patch = '0', pre, preNumber] = release;
  return `${major}.${minor}.${patch}${pre ? `-${pre}.${preNumber}` : ''}`;
}

export function compare(a: string, b: string): number {
  return semver.compare(toSemver(a), toSemver(b));
}

export function isValid(version: string): boolean {
  return semver.isValid(toSemver(version));
}
