// The one error renderer of /v2/: every failure becomes an OCI error body
// {"errors":[{"code","message","detail"}]} with the catalog's status.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { isTransientBackendError } from '../core/transient.ts';

/** Up to this many unread body bytes are drained after an error response, keeping the connection. */
const UNREAD_BODY_DRAIN_LIMIT = 1024 * 1024;

function toRegistryError(err: unknown, req: FastifyRequest): RegistryError {
  if (isRegistryError(err)) return err;
  const fe = err as Partial<FastifyError> & { code?: string };
  const clientGone = req.raw.readableAborted || req.raw.socket.destroyed;
  if (fe.code === 'ERR_STREAM_PREMATURE_CLOSE' || (err instanceof Error && err.message === 'aborted') || (clientGone && fe.code === 'ECONNRESET')) {
    return new RegistryError('BlobUploadInvalid', 'the client closed the connection before the body was complete');
  }
  if (isTransientBackendError(err)) {
    return new RegistryError('Unavailable', 'a backing store is unavailable; retry shortly', undefined, { 'Retry-After': '2' });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RegistryError('BadRequest', fe.message ?? 'bad request');
  }
  return new RegistryError('Internal', 'internal error');
}

export async function renderOciError(err: unknown, req: FastifyRequest, reply: FastifyReply, realm = 'berth'): Promise<void> {
  const e = toRegistryError(err, req);
  if (e.code === 'Internal') req.log.error({ err }, 'unhandled error');
  else if (e.status >= 500) req.log.warn({ err }, e.message);
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  const body: { code: string; message: string; detail?: unknown } = { code: e.ociCode, message: e.code === 'Internal' ? `internal error (request id ${req.id})` : e.message };
  if (e.detail !== undefined) body.detail = e.detail;
  if (e.status === 401) void reply.header('WWW-Authenticate', `Basic realm="${realm}"`);
  if (e.headers !== undefined) void reply.headers(e.headers);
  // A refused request whose body was not read: Node discards the rest of a body after the response
  // so the connection stays usable; a large or unbounded body is not worth receiving, so then the
  // connection is closed instead.
  const declared = Number(req.raw.headers['content-length'] ?? '0');
  if (!req.raw.readableEnded && (req.raw.headers['transfer-encoding'] !== undefined || declared > UNREAD_BODY_DRAIN_LIMIT)) {
    void reply.header('Connection', 'close');
  }
  await reply
    .code(e.status)
    .header('Content-Type', 'application/json')
    .send(JSON.stringify({ errors: [body] }));
}
