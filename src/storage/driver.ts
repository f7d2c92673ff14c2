// The StorageDriver seam: bytes by key. Keys are relative paths with '/' separators (see paths.ts).
import type { Readable, Writable } from 'node:stream';

export interface ObjectInfo {
  size: number;
  modifiedAt: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * A stream of bytes into one object. Bytes written are not visible at the key until `commit()`
 * (for a new object) and are durable once `commit()` resolves. `cancel()` discards what this
 * writer wrote (an append writer leaves the object as it was before). A process that dies while
 * appending may leave part of the appended bytes in the object: callers treat the stored size as
 * the truth.
 */
export interface ObjectWriter extends Writable {
  /** Bytes in the object so far, including what this writer appended. */
  readonly size: number;
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

export interface StorageDriver {
  readonly name: string;
  /** Whether `writer(key, { append: true })` is supported (filesystem yes; object stores no). */
  readonly appendable: boolean;
  stat(key: string): Promise<ObjectInfo | null>;
  /** A stream of the object's bytes (or a range of them). Rejects with a NotFoundError when absent. */
  reader(key: string, range?: ByteRange): Promise<Readable>;
  /** A writer for a new object (`append: false`, replaces atomically on commit) or appending to one. */
  writer(key: string, opts?: { append?: boolean }): Promise<ObjectWriter>;
  /**
   * Writes the object's bytes (or a range) to `dest` without ending it, reusing buffers where the
   * backend allows; resolves once `dest` has taken every byte. `onOpen` runs once the object is open, before the first byte is written
   * (the place to send response headers); an absent object rejects with NotFoundError before it.
   * `dest` must be done with each chunk once that chunk's write callback has run (a socket or an
   * HTTP response is; a PassThrough that keeps chunks queued is not): the buffer may be reused then.
   */
  copyTo(key: string, dest: Writable, range?: ByteRange, onOpen?: () => void): Promise<void>;
  /** Reads a whole small object. Rejects with a NotFoundError when absent. */
  get(key: string): Promise<Buffer>;
  /** Writes a whole small object atomically and durably. */
  put(key: string, data: Uint8Array): Promise<void>;
  /**
   * Writes the concatenation of `sources`, in order, to `dest`, replacing it atomically: `dest`
   * shows nothing until all of it is there. The sources stay. NotFoundError when a source is absent.
   */
  concat(sources: readonly string[], dest: string): Promise<void>;
  /** Moves an object, replacing the destination atomically. */
  move(from: string, to: string): Promise<void>;
  /** Deletes an object, or everything under a prefix ending in '/'. Absent keys are not an error. */
  delete(key: string): Promise<void>;
  /** Keys under a prefix ('' or ending in '/'), in no particular order. */
  list(prefix: string): AsyncIterable<string>;
  /** A URL that serves the object without credentials until it expires, when the backend can. */
  presignGet?(key: string, expiresInSeconds: number): Promise<string | null>;
  /**
   * Removes what writers that never finished left in the backend (an object store's incomplete
   * multipart uploads) when it was started before `before` (epoch ms); returns how many. Optional.
   */
  purgeIncomplete?(before: number): Promise<number>;
  /** Releases connections and other resources. Optional. */
  close?(): Promise<void>;
  /** Checks the backend is reachable and writable. */
  check(): Promise<void>;
}

export class NotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`storage: ${key} not found`);
    this.name = 'NotFoundError';
    this.key = key;
  }
}

export function isNotFound(e: unknown): e is NotFoundError {
  return e instanceof NotFoundError;
}
