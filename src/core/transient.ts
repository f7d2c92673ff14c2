// Recognising failures of a backing store that are worth retrying (a database restarting, an object
// store briefly refusing connections), so that clients get 503 and a Retry-After instead of a 500.

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);
/** PostgreSQL SQLSTATEs of connection loss, shutdown and restart. */
const PG_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const MESSAGES = [/Connection terminated/i, /connection timeout/i, /timeout exceeded when trying to connect/i, /Client has encountered a connection error/i, /socket hang up/i];

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  errors?: unknown;
}

export function isTransientBackendError(e: unknown, depth = 0): boolean {
  if (typeof e !== 'object' || e === null || depth > 4) return false;
  const x = e as ErrorLike;
  if (typeof x.code === 'string' && (NETWORK_CODES.has(x.code) || PG_CODES.has(x.code))) return true;
  if (typeof x.message === 'string' && MESSAGES.some((re) => re.test(x.message as string))) return true;
  // AWS SDK errors: a 5xx or throttling after the SDK's own retries.
  const status = x.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429 || status === 503)) return true;
  if (x.name === 'TimeoutError' || x.name === 'RequestTimeout' || x.name === 'SlowDown' || x.name === 'ServiceUnavailable') return true;
  if (Array.isArray(x.errors) && x.errors.some((inner) => isTransientBackendError(inner, depth + 1))) return true;
  return isTransientBackendError(x.cause, depth + 1);
}
