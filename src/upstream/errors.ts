// Failures of another registry, as the upstream client reports them: one error class whose `kind`
// says what went wrong (HTTP status and the OCI error code from distribution-spec "Error Codes"
// mapped to a few cases callers act on) and whether trying again later may help.

export type UpstreamErrorKind =
  | 'unauthorized' // 401: no or wrong credentials, or a challenge the client cannot answer
  | 'denied' // 403 or DENIED: authenticated but not allowed
  | 'not-found' // 404: repository, manifest, blob or upload unknown
  | 'rate-limited' // 429 or TOOMANYREQUESTS
  | 'unavailable' // 5xx, connection refused or reset
  | 'digest-mismatch' // content does not match its digest
  | 'timeout' // no response, or no bytes, within timeoutMs
  | 'invalid-response' // an answer the client cannot use (oversized manifest, bad JSON, no Location)
  | 'rejected'; // any other 4xx (MANIFEST_INVALID, UNSUPPORTED, ...)

const RETRYABLE: ReadonlySet<UpstreamErrorKind> = new Set(['rate-limited', 'unavailable', 'timeout']);

export interface UpstreamErrorDetails {
  status?: number | undefined;
  code?: string | undefined;
  url: string | URL;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly kind: UpstreamErrorKind;
  /** HTTP status of the upstream's answer, when there was one. */
  readonly status: number | undefined;
  /** The registry's OCI error code (`errors[0].code`), when it sent one. */
  readonly code: string | undefined;
  /** The request URL without credentials or query string. */
  readonly url: string;
  /** Whether the same request may succeed later (rate limits, outages, timeouts). */
  readonly retryable: boolean;
  /** How long the upstream asked to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: UpstreamErrorKind, message: string, details: UpstreamErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.status = details.status;
    this.code = details.code;
    this.url = redactUrl(details.url);
    this.retryable = RETRYABLE.has(kind);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * A URL safe to show: no user info and no query string (presigned URLs carry signatures there,
 * token endpoints carry account names).
 */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** The kind of an HTTP error answer, from its status and OCI error code. */
export function kindOfStatus(status: number, code: string | undefined): UpstreamErrorKind {
  if (status === 429 || code === 'TOOMANYREQUESTS') return 'rate-limited';
  if (status >= 500) return 'unavailable';
  if (status === 401) return 'unauthorized';
  if (status === 403 || code === 'DENIED') return 'denied';
  if (status === 404) return 'not-found';
  return 'rejected';
}
