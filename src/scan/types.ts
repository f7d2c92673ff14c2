// The scanner's shared vocabulary: what an inventory is made of, how extractors see the files of an
// image, and the limits that keep hostile layers from hurting the registry. Pure types and one
// error class; the layer reader (src/scan/layers.ts), the inventory builder
// (src/scan/inventory/index.ts), the extractors (src/scan/inventory/os/, src/scan/inventory/lang/),
// the vulnerability matcher (src/scan/osv/, src/scan/versions/) and the SBOM writers all speak it.

/** One installed package, where it was found and how advisories name it. */
export interface Package {
  /** The package's own name: dpkg/apk/rpm binary package name, npm/PyPI/... package name. */
  name: string;
  version: string;
  /**
   * The OSV ecosystem the package belongs to. Language extractors give the full string (`npm`,
   * `PyPI`, `RubyGems`, `Maven`, `Go`, `crates.io`, `NuGet`). OS extractors give the distribution's
   * name only (`Debian`, `Ubuntu`, `Alpine`, `AlmaLinux`, `Rocky Linux`, `Red Hat`, ...); the
   * inventory builder appends the release from os-release (`Debian:12`, `Alpine:v3.19`,
   * `AlmaLinux:9`).
   */
  ecosystem: string;
  /** `os` for packages of the distribution's package manager, `lang` for language packages. */
  kind: 'os' | 'lang';
  /** dpkg `Source:` name, apk origin (`o:`), the source RPM's name. OS advisories match on it. */
  sourceName?: string;
  /** dpkg `Source: foo (1.2-3)` version when it differs from `version`. */
  sourceVersion?: string;
  /** Digest of the layer holding the file the package was read from. */
  layerDigest: string;
  /** Path of that file inside the image, without a leading `/` (nested archives: `a.war!/WEB-INF/lib/b.jar`). */
  path: string;
  /** Package URL (https://github.com/package-url/purl-spec) when the extractor can form one. */
  purl?: string;
  /** SPDX license expressions or names as the package declares them. */
  licenses?: string[];
  /** Architecture for OS packages (`amd64`, `x86_64`, `noarch`, ...). */
  arch?: string;
}

/** The distribution an image is built on, from `etc/os-release` (or `usr/lib/os-release`). */
export interface OsRelease {
  /** `ID=` (`debian`, `ubuntu`, `alpine`, `almalinux`, `rocky`, `rhel`, ...). */
  id: string;
  /** `VERSION_ID=` (`12`, `22.04`, `3.19.1`, `9.3`). */
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
}

/** What one image contains: the result of reading its layers once, in order. */
export interface Inventory {
  os?: OsRelease;
  /** From the image config. */
  platform: { os: string; architecture: string; variant?: string };
  packages: Package[];
}

/** A regular file of the image as the layer reader meets it. */
export interface FileEntry {
  /** Normalised path inside the image, without a leading `/`. */
  path: string;
  size: number;
  /** Unix mode bits (0o755 ...). */
  mode: number;
  layerDigest: string;
}

/**
 * Finds packages in the files it asks for. The layer reader streams every layer once; for each
 * regular file an extractor `wants`, it reads the content (up to `limits.maxFileBytes`, else the
 * scan fails) and calls `extract`. Results are kept per path: a later layer's file of the same path
 * replaces them, a whiteout removes them.
 */
export interface Extractor {
  readonly name: string;
  /** Decided on the path, size and mode alone; must be cheap (called for every file). */
  wants(entry: FileEntry): boolean;
  /** Packages in this file. Malformed content gives no packages (or the ones it can read), never a throw, unless a limit is broken. */
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] | Promise<Package[]>;
}

/** Bounds against hostile layers; breaking one fails the scan with a ScanLimitError. */
export interface ScanLimits {
  /** Decompressed bytes of one layer. */
  maxLayerBytes: number;
  /** Decompressed bytes over all layers of one image. */
  maxImageBytes: number;
  /** Entries (files, directories, links) over all layers of one image. */
  maxFiles: number;
  /** Bytes of one file read into memory for an extractor (a bigger wanted file fails the scan). */
  maxFileBytes: number;
  /** Characters of one path. */
  maxPathLength: number;
  /** Depth of archives inside archives (a jar in a war in an ear is depth 3). */
  maxArchiveDepth: number;
  /** Entries of one archive inside the image (a jar's zip entries). */
  maxArchiveEntries: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = Object.freeze({
  maxLayerBytes: 8 * 1024 ** 3,
  maxImageBytes: 16 * 1024 ** 3,
  maxFiles: 2_000_000,
  maxFileBytes: 256 * 1024 ** 2,
  maxPathLength: 4096,
  maxArchiveDepth: 4,
  maxArchiveEntries: 100_000,
});

/** A scan refused because the image broke a limit or could not be read; `message` is the ECR scan status description. */
export class ScanFailure extends Error {
  readonly reason: 'limit' | 'corrupt' | 'unsupported';
  constructor(reason: 'limit' | 'corrupt' | 'unsupported', message: string) {
    super(message);
    this.name = 'ScanFailure';
    this.reason = reason;
  }
}

/** An OSV advisory as berth keeps it (https://ossf.github.io/osv-schema/), the fields matching and findings use. */
export interface OsvRecord {
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  related?: string[];
  summary?: string;
  details?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: { type: string; url: string }[];
  database_specific?: Record<string, unknown>;
}

export interface OsvSeverity {
  type: string; // CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu
  score: string;
}

export interface OsvAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  severity?: OsvSeverity[];
  ranges?: OsvRange[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvRange {
  /** ECOSYSTEM, SEMVER or GIT (others may appear in newer records). */
  type: string;
  repo?: string;
  events: OsvEvent[];
  database_specific?: Record<string, unknown>;
}

export type OsvEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

/** ECR's finding severities, highest first. */
export type FindingSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNDEFINED';
