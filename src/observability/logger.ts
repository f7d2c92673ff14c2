// Structured logs (pino). Secrets never reach the log: credentials headers and signed query
// strings are redacted.
import { pino, type Logger, type DestinationStream } from 'pino';

/** Query parameters that carry credentials or bearer grants: their values never reach the log. */
const SECRET_PARAMS = /([?&](?:X-Amz-Security-Token|X-Amz-Signature|X-Amz-Credential|X-Berth-Download)=)[^&]*/gi;

/** The URL with the values of credential-bearing query parameters replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAMS, '$1[redacted]') : url;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'berth' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          'req.headers["x-amz-security-token"]',
          'headers["x-amz-security-token"]',
          'secretAccessKey',
          '*.secretAccessKey',
          'sessionToken',
          '*.sessionToken',
          'password',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
