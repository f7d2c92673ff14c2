// Content digests (OCI image-spec descriptor.md#digests): `algorithm:encoded`.
import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** The canonical `algorithm:hex` string. */
  digest: string;
}

/** Whether `s` is a syntactically valid digest of a supported algorithm. */
export function isDigest(s: string): boolean {
  return tryParseDigest(s) !== null;
}

export function tryParseDigest(s: string): ParsedDigest | null {
  const m = DIGEST_RE.exec(s);
  if (m === null) return null;
  const algorithm = m[1] as string;
  const hex = m[2] as string;
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return null;
  if (hex.length !== ENCODED_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) return null;
  return { algorithm, hex, digest: s };
}

/** Parses a digest or throws DIGEST_INVALID (unsupported algorithm or bad encoding). */
export function parseDigest(s: string, what = 'digest'): ParsedDigest {
  const d = tryParseDigest(s);
  if (d !== null) return d;
  const m = DIGEST_RE.exec(s);
  if (m !== null && m[1] !== 'sha256' && m[1] !== 'sha512') {
    throw new RegistryError('DigestInvalid', `unsupported digest algorithm "${m[1]}" in ${what}: berth supports sha256 and sha512`, { digest: s });
  }
  throw new RegistryError('DigestInvalid', `invalid ${what} "${truncate(s)}": expected sha256:<64 hex> or sha512:<128 hex>`, { digest: truncate(s) });
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}
