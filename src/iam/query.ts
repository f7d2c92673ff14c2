// AWS's query protocol on berth's port: form-encoded `Action=...&Version=...` requests to `POST /`,
// signed with SigV4 for their service (iam or sts, read from the credential scope), answered in XML.
// Inputs are decoded and validated against botocore's models (src/iam/generated/), outputs encoded
// from them. ECR's JSON protocol hands these requests over (they have no X-Amz-Target).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isRegistryError, type RegistryError } from '../core/errors.ts';
import { requestFacts, type Authorizer, type Principal, type RequestFacts, type SigV4Verifier } from '../auth/index.ts';
import type { Keyring } from '../auth/crypto.ts';
import type { MetaStore } from '../meta/index.ts';
import type { OperationShape, Shape } from '../aws/shapes.ts';
import { decodeQuery, encodeQueryError, encodeQueryResponse, QueryDecodeError } from '../aws/query.ts';
import { validateShape } from '../aws/validate.ts';
import * as IamModel from './generated/iam.ts';
import * as StsModel from './generated/sts.ts';
import type { WebIdentityVerifier } from './oidc.ts';

export interface QueryDeps {
  /** Verifiers of requests signed for the `iam` and the `sts` service. */
  verifiers: { iam: SigV4Verifier; sts: SigV4Verifier };
  meta: MetaStore;
  authorizer: Authorizer;
  keyring: Keyring;
  /** Forgets cached verifications of an access key (deleted or deactivated). */
  invalidateKey: (accessKeyId: string) => void;
  webIdentity: WebIdentityVerifier;
  region: string;
  now: () => number;
  log: Logger;
  /** Answer InternalFailure when an operation raises an exception its model entry does not list (tests). */
  strictErrors?: boolean;
}

/** An error in the query protocol's terms: a modelled exception shape (`NoSuchEntityException`) or a common code (`AccessDenied`). */
export class QueryException extends Error {
  readonly shape: string;
  constructor(shape: string, message: string) {
    super(message);
    this.shape = shape;
  }
}

/** The common errors every query operation may answer (not in the models' per-operation lists). */
export const COMMON_QUERY_ERRORS: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  ValidationError: 400,
  InvalidAction: 400,
  InvalidParameterValue: 400,
  MissingAuthenticationToken: 403,
  IncompleteSignature: 403,
  SignatureDoesNotMatch: 403,
  InvalidClientTokenId: 403,
  ExpiredToken: 403,
  Throttling: 400,
  InternalFailure: 500,
};

export interface QueryContext {
  deps: QueryDeps;
  /** The caller; null only for the operations that take no signature (AssumeRoleWithWebIdentity). */
  principal: Principal | null;
  /** The caller's account (IAM's operations act on it). */
  accountId: string;
  facts: RequestFacts;
  requestId: string;
  now: number;
  /** Refuses with AccessDenied, in AWS's words, unless the policies allow the action on the resource. */
  authorize(action: string, resourceArn: string, facts?: Partial<RequestFacts>): Promise<void>;
}

export type QueryHandler = (ctx: QueryContext, input: Record<string, unknown>) => Promise<unknown>;

export interface QueryService {
  name: 'iam' | 'sts';
  namespace: string;
  version: string;
  shapes: Record<string, Shape>;
  operations: Record<string, OperationShape>;
  handlers: Record<string, QueryHandler>;
  /** Operations called without a signature. */
  unsigned: ReadonlySet<string>;
}

const services: Partial<Record<'iam' | 'sts', QueryService>> = {};

/** Registers a service's handlers (iam-api.ts and sts-api.ts do, when imported). */
export function defineService(s: QueryService): void {
  services[s.name] = s;
}

export const IAM_META = { namespace: IamModel.METADATA.xmlNamespace, version: IamModel.METADATA.apiVersion, shapes: IamModel.SHAPES, operations: IamModel.OPERATIONS as Record<string, OperationShape> };
export const STS_META = { namespace: StsModel.METADATA.xmlNamespace, version: StsModel.METADATA.apiVersion, shapes: StsModel.SHAPES, operations: StsModel.OPERATIONS as Record<string, OperationShape> };

/** The query protocol's names and statuses for the signature refusals SigV4Verifier raises. */
function fromRegistryError(e: RegistryError): QueryException {
  switch (e.code) {
    case 'SignatureMissing':
      return new QueryException('MissingAuthenticationToken', e.message);
    case 'SignatureIncomplete':
      return new QueryException('IncompleteSignature', e.message);
    case 'SignatureInvalid':
      return new QueryException('SignatureDoesNotMatch', e.message);
    case 'ClientUnrecognized':
    case 'Unauthorized':
      return new QueryException('InvalidClientTokenId', 'The security token included in the request is invalid.');
    case 'TokenExpired':
      return new QueryException('ExpiredToken', 'The security token included in the request is expired');
    case 'TooManyRequests':
      return new QueryException('Throttling', 'Rate exceeded');
    default:
      return new QueryException(e.status >= 500 ? 'InternalFailure' : 'InvalidParameterValue', e.message);
  }
}

/** Whether a request to `POST /` is a query-protocol request (form-encoded, no X-Amz-Target). */
export function isQueryRequest(req: FastifyRequest): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return req.headers['x-amz-target'] === undefined && type === 'application/x-www-form-urlencoded';
}

/** The service a request is signed for (`.../<region>/<service>/aws4_request`), if it is signed. */
function signedService(req: FastifyRequest, query: URLSearchParams): string | undefined {
  const auth = req.headers.authorization;
  const credential = (typeof auth === 'string' ? /Credential=([^,\s]+)/.exec(auth)?.[1] : undefined) ?? query.get('X-Amz-Credential') ?? undefined;
  return credential?.split('/')[3];
}

/** IAM's wording of a constraint violation: the member path in lower camel case (`userName`, `tags.1.member.key`). */
function validationMessage(path: string, message: string, value: unknown): string {
  const shown = typeof value === 'string' ? `Value '${value.length > 100 ? `${value.slice(0, 100)}...` : value}' at` : 'Value at';
  const at = path
    .split('.')
    .map((p) => p.charAt(0).toLowerCase() + p.slice(1))
    .join('.');
  return `1 validation error detected: ${shown} '${at}' failed to satisfy constraint: Member ${message}`;
}

/** The value at a path of validateShape's (`Tags.1.member.Key`: list items counted from 1). */
function valueAt(input: Record<string, unknown>, path: string): unknown {
  let v: unknown = input;
  for (const part of path.split('.')) {
    if (part === 'member' && (typeof v !== 'object' || v === null || !Object.hasOwn(v, 'member'))) continue;
    if (typeof v !== 'object' || v === null) return undefined;
    if (Array.isArray(v)) {
      if (!/^\d+$/.test(part)) return undefined;
      v = v[Number(part) - 1];
    } else {
      v = (v as Record<string, unknown>)[part];
    }
  }
  return v;
}

export async function handleQuery(req: FastifyRequest, reply: FastifyReply, body: Buffer, deps: QueryDeps): Promise<void> {
  const raw = req.raw.url ?? '/';
  const q = raw.indexOf('?');
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  const params = new URLSearchParams(body.toString('utf8'));
  const action = params.get('Action') ?? '';
  const scope = signedService(req, query);
  // Unsigned: only STS's web identity call takes none; anything else is answered as its service would.
  const service = scope === 'iam' || scope === 'sts' ? services[scope] : scope === undefined && Object.hasOwn(IAM_META.operations, action) ? services.iam : services.sts;
  const namespace = service?.namespace ?? STS_META.namespace;
  req.berth = { op: `${service?.name ?? scope ?? 'sts'}:${action.slice(0, 64)}` };
  try {
    if (service === undefined) throw new QueryException('InvalidClientTokenId', `Credential should be scoped to correct service: 'iam' or 'sts', not '${(scope ?? '').slice(0, 20)}'.`);
    const opShape = Object.hasOwn(service.operations, action) ? service.operations[action] : undefined;
    const handler = Object.hasOwn(service.handlers, action) ? service.handlers[action] : undefined;
    let principal: Principal | null = null;
    if (!(service.unsigned.has(action) && scope === undefined)) {
      try {
        principal = await deps.verifiers[service.name].verify({ method: req.method, path: q === -1 ? raw : raw.slice(0, q), query, headers: req.headers, body });
      } catch (e) {
        if (isRegistryError(e)) throw fromRegistryError(e);
        throw e;
      }
      req.berth = { ...req.berth, principal: principal.arn };
    }
    if (opShape === undefined || handler === undefined) throw new QueryException('InvalidAction', `Could not find operation ${action.slice(0, 100)} for version ${params.get('Version')?.slice(0, 20) ?? ''}`);
    if (params.get('Version') !== service.version) throw new QueryException('InvalidParameterValue', `Version must be ${service.version}`);
    let input: Record<string, unknown>;
    try {
      input = decodeQuery(service.shapes, opShape.input, params);
    } catch (e) {
      if (e instanceof QueryDecodeError) throw new QueryException('ValidationError', e.message);
      throw e;
    }
    if (opShape.input !== undefined) {
      const v = validateShape(service.shapes, opShape.input, input);
      if (v !== null) throw new QueryException('ValidationError', validationMessage(v.path, v.message, valueAt(input, v.path)));
    }
    const facts = requestFacts(req);
    const now = deps.now();
    const ctx: QueryContext = {
      deps,
      principal,
      accountId: principal?.accountId ?? '',
      facts,
      requestId: req.id,
      now,
      async authorize(act, resourceArn, more = {}) {
        const accountId = /^arn:aws:(?:iam|sts|ecr):[^:]*:(\d{12}):/.exec(resourceArn)?.[1] ?? ctx.accountId;
        const d = await deps.authorizer.authorize(principal, act, { arn: resourceArn, accountId }, { ...facts, ...more });
        if (!d.allowed) throw new QueryException('AccessDenied', d.reason);
      },
    };
    const result = await handler(ctx, input);
    await reply.code(200).header('Content-Type', 'text/xml').send(encodeQueryResponse(service.shapes, opShape, action, namespace, result, req.id));
  } catch (e) {
    let code = 'InternalFailure';
    let status = 500;
    let message = 'An internal error occurred; the log has the details under the request id.';
    if (e instanceof QueryException) {
      const shape = service?.shapes[e.shape];
      const modelled = shape?.type === 'structure' ? shape.error : undefined;
      const opErrors = service !== undefined && Object.hasOwn(service.operations, action) ? service.operations[action]?.errors : undefined;
      if (modelled !== undefined && deps.strictErrors === true && opErrors !== undefined && !opErrors.includes(e.shape)) {
        req.log.error({ exception: e.shape, action }, 'an operation raised an exception its model does not list');
      } else if (modelled !== undefined) {
        code = modelled.code;
        status = modelled.status;
        message = e.message;
      } else {
        code = e.shape;
        status = COMMON_QUERY_ERRORS[e.shape] ?? 400;
        message = e.message;
      }
    } else {
      req.log.error({ err: e }, 'query request failed');
    }
    await reply
      .code(status)
      .header('Content-Type', 'text/xml')
      .send(encodeQueryError(namespace, status >= 500 ? 'Receiver' : 'Sender', code, message, req.id));
  }
}
