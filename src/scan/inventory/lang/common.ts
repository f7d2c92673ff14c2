// What the language extractors share: the defensive size check, reading JSON and text without
// throwing, the file name of a path, package URLs (https://github.com/package-url/purl-spec,
// types/*.json) and a de-duplicating package list that refuses implausible names and versions.
import { ScanFailure, type FileEntry, type Package, type ScanLimits } from '../../types.ts';

/**
 * Extractors parse whole files in memory (JSON.parse, YAML, zip), so they rely on the layer reader
 * never handing them more than `limits.maxFileBytes`; this checks it again.
 */
export function checkFileSize(entry: FileEntry, content: Buffer, limits: ScanLimits): void {
  if (content.length > limits.maxFileBytes) {
    throw new ScanFailure('limit', `${entry.path} is ${content.length} bytes, over the limit of ${limits.maxFileBytes} bytes for one file`);
  }
}

/** UTF-8 text without a byte order mark (.NET writes one before its JSON). */
export function text(content: Buffer): string {
  const s = content.toString('utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** The parsed JSON, or undefined when it is not JSON. */
export function parseJson(content: Buffer): unknown {
  try {
    return JSON.parse(text(content)) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value[key]` when `value` is an object and that member is one too. */
export function recordAt(value: unknown, key: string): Record<string, unknown> | undefined {
  const member = isRecord(value) ? value[key] : undefined;
  return isRecord(member) ? member : undefined;
}

export function stringAt(value: unknown, key: string): string | undefined {
  const member = isRecord(value) ? value[key] : undefined;
  return typeof member === 'string' ? member : undefined;
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replaceAll('%3A', ':');
}

/** `pkg:type/namespace/name@version`; namespace segments are separated by `/`, each one percent-encoded. */
export function purl(type: string, namespace: string | undefined, name: string, version: string): string {
  const ns = namespace ? `${namespace.split('/').map(encodeSegment).join('/')}/` : '';
  return `pkg:${type}/${ns}${encodeSegment(name)}@${encodeSegment(version)}`;
}

/** Names and versions longer than this, or with white space or control characters, are not read as packages. */
const MAX_NAME_LENGTH = 512;
const MAX_VERSION_LENGTH = 256;

function plausible(value: string, maxLength: number): boolean {
  // eslint-disable-next-line no-control-regex
  return value.length > 0 && value.length <= maxLength && !/[\s\u0000-\u001f\u007f]/.test(value);
}

/** The packages of one file: same ecosystem, de-duplicated by name, version and path. */
export class PackageList {
  readonly #entry: FileEntry;
  readonly #ecosystem: string;
  readonly #purlOf: (name: string, version: string) => string;
  readonly #byKey = new Map<string, Package>();

  constructor(entry: FileEntry, ecosystem: string, purlOf: (name: string, version: string) => string) {
    this.#entry = entry;
    this.#ecosystem = ecosystem;
    this.#purlOf = purlOf;
  }

  /** Adds the package unless its name or version is missing or implausible; `path` defaults to the entry's. */
  add(name: unknown, version: unknown, path = this.#entry.path): void {
    if (typeof name !== 'string' || typeof version !== 'string') return;
    if (!plausible(name, MAX_NAME_LENGTH) || !plausible(version, MAX_VERSION_LENGTH)) return;
    const key = `${name}\u0000${version}\u0000${path}`;
    if (this.#byKey.has(key)) return;
    this.#byKey.set(key, {
      name,
      version,
      ecosystem: this.#ecosystem,
      kind: 'lang',
      layerDigest: this.#entry.layerDigest,
      path,
      purl: this.#purlOf(name, version),
    });
  }

  get packages(): Package[] {
    return [...this.#byKey.values()];
  }
}
