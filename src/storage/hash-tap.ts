// Hashing while bytes stream through, shared by the upload stores.
import { Transform } from 'node:stream';
import { RegistryError } from '../core/errors.ts';

export interface Updatable {
  update(data: Uint8Array): unknown;
}

/** A pass-through stage that feeds every chunk to `hash` and counts bytes. */
export function hashTap(hash: Updatable): Transform & { received: number } {
  const tap = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      tap.received += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
  }) as Transform & { received: number };
  tap.received = 0;
  return tap;
}

export function outOfOrder(expected: number, stored: number): RegistryError {
  return new RegistryError(
    'ChunkOutOfOrder',
    `chunk starts at byte ${expected} but the upload has ${stored} bytes; resume at ${stored}`,
    { uploaded: stored },
    { Range: stored === 0 ? '0-0' : `0-${stored - 1}` },
  );
}

export function sizeMismatch(received: number, announced: number): RegistryError {
  return new RegistryError('SizeInvalid', `received ${received} bytes but Content-Length announced ${announced}`);
}

export function digestMismatch(actual: string, expected: string): RegistryError {
  return new RegistryError('DigestMismatch', `the uploaded content has digest ${actual}, not ${expected}`, { expected, actual });
}
