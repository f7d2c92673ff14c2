// Structured logs (pino). Secrets never reach the log: credentials headers and signed query
// strings are redacted.
import { pino, type Logger, type DestinationStream } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'berth' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'secretAccessKey', '*.secretAccessKey', 'password'], censor: '[redacted]' },
    },
    destination,
  );
}
