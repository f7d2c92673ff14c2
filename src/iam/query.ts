// AWS's query protocol on berth's port: form-encoded `Action=...&Version=...` requests to `POST /`,
// signed with SigV4 for their service, answered in XML. STS is served here (GetCallerIdentity so
// far); IAM joins it. ECR's JSON protocol hands these requests over (they have no X-Amz-Target).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isRegistryError, type RegistryError } from '../core/errors.ts';
import type { Principal, SigV4Verifier } from '../auth/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { queryError, queryResponse, type XmlNode } from './xml.ts';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const STS_VERSION = '2011-06-15';

export interface QueryDeps {
  /** Verifies requests signed for the `sts` service. */
  stsVerifier: SigV4Verifier;
  meta: MetaStore;
}

class QueryError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** STS's names and statuses for the signature refusals SigV4Verifier raises. */
function fromRegistryError(e: RegistryError): QueryError {
  switch (e.code) {
    case 'SignatureMissing':
      return new QueryError('MissingAuthenticationToken', e.message, 403);
    case 'SignatureIncomplete':
      return new QueryError('IncompleteSignature', e.message, 403);
    case 'SignatureInvalid':
      return new QueryError('SignatureDoesNotMatch', e.message, 403);
    case 'ClientUnrecognized':
    case 'Unauthorized':
      return new QueryError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    case 'TokenExpired':
      return new QueryError('ExpiredToken', e.message, 400);
    case 'TooManyRequests':
      return new QueryError('Throttling', 'Rate exceeded', 400);
    default:
      return new QueryError('InvalidParameterValue', e.message, e.status >= 500 ? 500 : 400);
  }
}

type StsOperation = (principal: Principal, params: URLSearchParams, deps: QueryDeps) => Promise<Record<string, XmlNode>>;

const STS_OPERATIONS: Record<string, StsOperation> = {
  // Who the caller is. Needs no permission: AWS answers it even under an explicit deny.
  GetCallerIdentity: async (p, _params, deps) => {
    let userId = p.accountId;
    if (p.kind === 'user') userId = (await deps.meta.iam.get(p.accountId, 'user', p.userName))?.id ?? p.accessKeyId;
    return { UserId: userId, Account: p.accountId, Arn: p.arn };
  },
};

/** Whether a request to `POST /` is a query-protocol request (form-encoded, no X-Amz-Target). */
export function isQueryRequest(req: FastifyRequest): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return req.headers['x-amz-target'] === undefined && type === 'application/x-www-form-urlencoded';
}

export async function handleQuery(req: FastifyRequest, reply: FastifyReply, body: Buffer, deps: QueryDeps): Promise<void> {
  try {
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    req.berth = { op: `sts:${action.slice(0, 64)}` };
    const raw = req.raw.url ?? '/';
    const q = raw.indexOf('?');
    let principal: Principal;
    try {
      principal = await deps.stsVerifier.verify({ method: req.method, path: q === -1 ? raw : raw.slice(0, q), query: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)), headers: req.headers, body });
    } catch (e) {
      if (isRegistryError(e)) throw fromRegistryError(e);
      throw e;
    }
    req.berth = { ...req.berth, principal: principal.arn };
    const op = Object.hasOwn(STS_OPERATIONS, action) ? STS_OPERATIONS[action] : undefined;
    if (op === undefined) throw new QueryError('InvalidAction', `Could not find operation ${action.slice(0, 100)} for version ${params.get('Version')?.slice(0, 20) ?? ''}`);
    if (params.get('Version') !== STS_VERSION) throw new QueryError('InvalidParameterValue', `Version must be ${STS_VERSION}`);
    const result = await op(principal, params, deps);
    await reply.code(200).header('Content-Type', 'text/xml').send(queryResponse(action, STS_NAMESPACE, result, req.id));
  } catch (e) {
    const err = e instanceof QueryError ? e : new QueryError('InternalFailure', 'An internal error occurred; the log has the details under the request id.', 500);
    if (!(e instanceof QueryError)) req.log.error({ err: e }, 'query request failed');
    await reply
      .code(err.status)
      .header('Content-Type', 'text/xml')
      .send(queryError(STS_NAMESPACE, err.status >= 500 ? 'Receiver' : 'Sender', err.code, err.message, req.id));
  }
}
