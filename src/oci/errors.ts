// The one error renderer of /v2/: every failure becomes an OCI error body
// {"errors":[{"code","message","detail"}]} with the catalog's status.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isRegistryError, RegistryError } from '../core/errors.ts';

function toRegistryError(err: unknown): RegistryError {
  if (isRegistryError(err)) return err;
  const fe = err as Partial<FastifyError> & { code?: string };
  if (fe.code === 'ECONNRESET' || fe.code === 'ERR_STREAM_PREMATURE_CLOSE' || (err instanceof Error && err.message === 'aborted')) {
    return new RegistryError('BlobUploadInvalid', 'the client closed the connection before the body was complete');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RegistryError('BadRequest', fe.message ?? 'bad request');
  }
  return new RegistryError('Internal', 'internal error');
}

export async function renderOciError(err: unknown, req: FastifyRequest, reply: FastifyReply, realm = 'berth'): Promise<void> {
  const e = toRegistryError(err);
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
  // A refused request whose body was not read: close the connection rather than drain it.
  if (!req.raw.readableEnded && req.raw.headers['content-length'] !== '0' && (req.raw.headers['content-length'] !== undefined || req.raw.headers['transfer-encoding'] !== undefined)) {
    void reply.header('Connection', 'close');
  }
  await reply
    .code(e.status)
    .header('Content-Type', 'application/json')
    .send(JSON.stringify({ errors: [body] }));
}
