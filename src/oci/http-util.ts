// Small HTTP helpers for the OCI endpoints: ranges, pagination, body reading.
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../core/errors.ts';

export interface ParsedRange {
  start: number;
  end: number;
}

/**
 * Parses a `Range: bytes=...` header against an entity of `size` bytes (RFC 9110 14.1.2).
 * Returns null to serve the whole entity (no header, or a form we choose to ignore such as
 * several ranges), a range, or throws 416 when the range cannot be satisfied.
 */
export function parseRangeHeader(header: string | undefined, size: number): ParsedRange | null {
  if (header === undefined) return null;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (m === null) return null;
  const [, a = '', b = ''] = m;
  let start: number;
  let end: number;
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) throw unsatisfiable(size);
    // RFC 9110 14.1.1: a suffix range of an empty representation is satisfiable (with nothing).
    if (size === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return null;
  }
  if (start >= size || size === 0) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): RegistryError {
  return new RegistryError('RangeNotSatisfiable', `requested range not satisfiable: the blob has ${size} bytes`, { size }, { 'Content-Range': `bytes */${size}` });
}

/** `Content-Range` of a PATCH chunk: `<start>-<end>` (also `bytes <start>-<end>/<total>`). */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (m === null) throw new RegistryError('BlobUploadInvalid', `malformed Content-Range "${header.slice(0, 100)}": expected <start>-<end>`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('BlobUploadInvalid', `Content-Range ${header} ends before it starts`);
  return { start, end };
}

export function parseContentLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (!/^\d+$/.test(header)) throw new RegistryError('BadRequest', `malformed Content-Length "${header.slice(0, 40)}"`);
  return Number(header);
}

/** The page size `n` of tag and catalog listings. */
export function parsePageSize(v: string | null, def: number, max: number): number {
  if (v === null || v === '') return def;
  if (!/^\d+$/.test(v)) throw new RegistryError('BadRequest', `invalid n "${v.slice(0, 40)}": expected a non-negative integer`);
  return Math.min(Number(v), max);
}

/** Reads a request body into memory, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) throw tooLarge();
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}
