// The one error renderer of the ECR JSON API: {"__type": "<Exception>", "message": "..."} with HTTP
// 400 (500 for ServerException), and the check that an operation only answers with exceptions its
// model entry lists.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { isTransientBackendError } from '../core/transient.ts';
import { OPERATIONS, type OperationName } from './generated/model.ts';

/** Exceptions every AWS JSON service may answer with, whatever the operation's model lists. */
export const COMMON_EXCEPTIONS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'UnrecognizedClientException',
  'ExpiredTokenException',
  'ThrottlingException',
  'ServiceUnavailableException',
  'SerializationException',
  'UnknownOperationException',
  'ServerException',
]);

/** An exception that is not a RegistryError code of the catalog (protocol-level, ECR-only). */
export class EcrException extends Error {
  readonly type: string;
  readonly status: number;
  /** Members of the exception's shape besides the message (InvalidLayerPartException's uploadId, ...), sent in the body. */
  readonly fields: Readonly<Record<string, string | number>> | undefined;
  constructor(type: string, message: string, status = 400, fields?: Readonly<Record<string, string | number>>) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
    this.fields = fields;
  }
}

export function toEcrError(err: unknown): { type: string; message: string; status: number; headers?: Record<string, string>; fields?: Readonly<Record<string, string | number>> } {
  if (err instanceof EcrException) return { type: err.type, message: err.message, status: err.status, ...(err.fields !== undefined ? { fields: err.fields } : {}) };
  if (isRegistryError(err)) {
    const out: { type: string; message: string; status: number; headers?: Record<string, string> } = { type: err.ecrType, message: err.message, status: err.ecrStatus };
    if (err.headers !== undefined) out.headers = err.headers;
    return out;
  }
  if (isTransientBackendError(err)) return { type: 'ServerException', message: 'a backing store is unavailable; retry shortly', status: 500 };
  return { type: 'ServerException', message: 'internal error', status: 500 };
}

/** Whether `type` may be answered by `op` (its modelled errors, or an error every operation may give). */
export function declared(op: OperationName, type: string): boolean {
  return COMMON_EXCEPTIONS.has(type) || OPERATIONS[op].errors.includes(type);
}

export async function renderEcrError(err: unknown, req: FastifyRequest, reply: FastifyReply, op: OperationName | undefined, strict: boolean): Promise<void> {
  let e = toEcrError(err);
  if (e.type === 'ServerException' && !(err instanceof RegistryError)) req.log.error({ err }, 'unhandled error');
  if (op !== undefined && !declared(op, e.type)) {
    req.log.error({ op, type: e.type, message: e.message }, 'an operation answered with an exception its model does not list');
    if (strict) e = { type: 'ServerException', message: `berth bug: ${op} answered ${e.type} (${e.message}), which the ECR model does not list for it`, status: 500 };
  }
  if (e.headers !== undefined) void reply.headers(e.headers);
  await reply
    .code(e.status)
    .header('Content-Type', 'application/x-amz-json-1.1')
    .send(Buffer.from(JSON.stringify({ ...e.fields, __type: e.type, message: e.message })));
}
