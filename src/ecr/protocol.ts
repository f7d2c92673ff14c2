// The ECR JSON API (AWS JSON 1.1): POST / with X-Amz-Target, signed with SigV4, on the same port as
// /v2/. Every request is authenticated, its input validated against the ECR model, authorized as
// its `ecr:` action, and answered in AWS's format; handlers only throw.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.ts';
import type { RateLimiter } from '../core/throttle.ts';
import { repositoryArn, requestFacts, type RequestFacts, type SigV4Verifier } from '../auth/index.ts';
import { validateShape, violationMessage } from '../aws/validate.ts';
import type { EcrContext, EcrDeps } from './context.ts';
import { EcrException, renderEcrError } from './errors.ts';
import { METADATA, OPERATIONS, SHAPES, type OperationName } from './generated/model.ts';
import type { EcrOperation } from './operation.ts';

export interface EcrProtocolDeps extends EcrDeps {
  verifier: SigV4Verifier;
  operations: ReadonlyArray<EcrOperation<OperationName>>;
  /** Answer ServerException when an operation throws an exception its model does not list (tests). */
  strictErrors: boolean;
  /** Per-account request rates (ECR's quotas); none: unlimited. */
  limiter?: RateLimiter;
  /**
   * Another AWS protocol sharing `POST /` (the query protocol of STS and IAM): it takes the requests
   * it claims (`claims`) before ECR looks at them.
   */
  other?: { claims(req: FastifyRequest): boolean; handle(req: FastifyRequest, reply: FastifyReply, body: Buffer): Promise<void> };
}

/** Largest request body: an UploadLayerPart of ECR's 20 MiB parts, base64 in JSON. */
const BODY_LIMIT = 32 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** The ECR operation, for the access log and the error renderer. */
    ecrOperation?: OperationName;
  }
}

export async function ecrPlugin(app: FastifyInstance, deps: EcrProtocolDeps): Promise<void> {
  const handlers = new Map<string, EcrOperation<OperationName>>();
  for (const op of deps.operations) handlers.set(op.name, op);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
  app.setErrorHandler(async (err, req, reply) => {
    // Fastify's own refusals (a body over the limit) in AWS's words.
    const e = (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? new EcrException('SerializationException', `request body larger than ${BODY_LIMIT} bytes`) : err;
    await renderEcrError(e, req, reply, req.ecrOperation, deps.strictErrors);
  });

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-amzn-RequestId', req.id);
  });

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (deps.other?.claims(req) === true) return await deps.other.handle(req, reply, (req.body as Buffer | undefined) ?? Buffer.alloc(0));
    const target = req.headers['x-amz-target'];
    const prefix = `${METADATA.targetPrefix}.`;
    if (typeof target !== 'string' || !target.startsWith(prefix)) {
      throw new EcrException('UnknownOperationException', target === undefined ? 'the X-Amz-Target header is missing' : `unknown X-Amz-Target "${String(target).slice(0, 200)}"`);
    }
    const name = target.slice(prefix.length);
    if (!Object.hasOwn(OPERATIONS, name)) throw new EcrException('UnknownOperationException', `unknown operation ${name.slice(0, 100)}`);
    const opName = name as OperationName;
    req.ecrOperation = opName;
    req.berth = { op: `ecr:${opName}` };
    const op = handlers.get(opName);

    const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const raw = req.raw.url ?? '/';
    const q = raw.indexOf('?');
    const principal = await deps.verifier.verify({
      method: req.method,
      path: q === -1 ? raw : raw.slice(0, q),
      query: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)),
      headers: req.headers,
      body,
    });
    req.berth = { ...req.berth, principal: principal.arn };
    const allowed = deps.limiter?.take(principal.accountId, opName);
    if (allowed !== undefined && !allowed.ok) throw new RegistryError('TooManyRequests', 'Rate exceeded', undefined, { 'Retry-After': String(allowed.retryAfterSeconds) });

    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/x-amz-json-1.1' && contentType !== 'application/x-amz-json-1.0' && contentType !== 'application/json') {
      throw new EcrException('SerializationException', `expected Content-Type application/x-amz-json-1.1, not "${contentType ?? ''}"`);
    }
    let input: unknown = {};
    if (body.length > 0) {
      try {
        input = JSON.parse(body.toString('utf8')) as unknown;
      } catch (e) {
        throw new EcrException('SerializationException', `the request body is not valid JSON: ${(e as Error).message}`);
      }
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new EcrException('SerializationException', 'the request body must be a JSON object');
    const shape = OPERATIONS[opName].input;
    if (shape !== undefined) {
      const v = validateShape(SHAPES, shape, input);
      if (v !== null) {
        const errors = OPERATIONS[opName].errors;
        const type = errors.includes('InvalidParameterException') || !errors.includes('ValidationException') ? 'InvalidParameterException' : 'ValidationException';
        throw new EcrException(type, violationMessage(v));
      }
    }
    if (op === undefined) {
      throw new EcrException('UnknownOperationException', `berth does not implement ${opName} (yet)`);
    }

    const obj = input as Record<string, unknown>;
    const registryId = typeof obj.registryId === 'string' ? obj.registryId : undefined;
    const accountId = registryId ?? principal.accountId;
    const facts = { ...requestFacts(req), ...tagFacts(obj) };
    const ctx: EcrContext = {
      ...deps,
      facts,
      principal,
      accountId,
      requestId: req.id,
      async authorize(action, name) {
        const arn = name === undefined ? `arn:aws:ecr:${deps.region}:${accountId}:repository/*` : repositoryArn(deps.region, accountId, name);
        const d = await deps.authorizer.authorize(principal, action, { arn, accountId }, facts);
        if (!d.allowed) throw new RegistryError('Denied', d.reason);
      },
    };
    const output = await op.handler(ctx, input);
    await reply.header('Content-Type', 'application/x-amz-json-1.1').send(Buffer.from(JSON.stringify(output ?? {})));
  };

  app.route({ method: 'POST', url: '/', handler });
}

/**
 * The tags a request sets or removes, for aws:RequestTag/<key> and aws:TagKeys: `tags` of
 * CreateRepository and TagResource (and of templates), `tagKeys` of UntagResource.
 */
export function tagFacts(input: Record<string, unknown>): Pick<RequestFacts, 'requestTags' | 'values'> {
  if (Array.isArray(input.tags)) {
    const tags = input.tags as Array<{ Key?: unknown; Value?: unknown }>;
    return { requestTags: Object.fromEntries(tags.filter((t) => typeof t.Key === 'string').map((t) => [t.Key as string, typeof t.Value === 'string' ? t.Value : ''])) };
  }
  if (Array.isArray(input.tagKeys)) return { values: { 'aws:TagKeys': (input.tagKeys as unknown[]).filter((k): k is string => typeof k === 'string') } };
  return {};
}
