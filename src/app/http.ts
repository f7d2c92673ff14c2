// The HTTP server: one Fastify instance serving /v2/, the health endpoints and (later) the ECR API.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ociPlugin, renderOciError, type OciDeps } from '../oci/index.ts';
import { ecrPlugin, type EcrProtocolDeps } from '../ecr/index.ts';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { redactUrl } from '../observability/logger.ts';

export interface HttpDeps {
  log: Logger;
  /** Whether this process serves the registry API (the api role); health endpoints are always served. */
  api: boolean;
  oci: OciDeps;
  ecr: EcrProtocolDeps;
  tls?: { cert: string; key: string } | undefined;
  /** Readiness: resolves when every backing store answers. */
  ready: () => Promise<void>;
  /** Set to true when shutdown begins: responses then close their connections. */
  lifecycle: { closing: boolean };
}

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** What llhttp's error codes mean, for the client. */
const HTTP_PARSER_ERRORS: Record<string, string> = {
  HPE_INVALID_CONTENT_LENGTH: 'invalid Content-Length header',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length together with Transfer-Encoding',
  HPE_INVALID_TRANSFER_ENCODING: 'invalid Transfer-Encoding header',
  HPE_INVALID_HEADER_TOKEN: 'invalid character in a header name',
  HPE_INVALID_METHOD: 'invalid method',
  HPE_INVALID_URL: 'invalid request target',
  HPE_HEADER_OVERFLOW: 'headers too large',
  HPE_INVALID_CHUNK_SIZE: 'invalid chunk size in a chunked body',
};

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const https = deps.tls === undefined ? null : { cert: readFileSync(deps.tls.cert), key: readFileSync(deps.tls.key) };
  const app = Fastify({
    loggerInstance: deps.log,
    // One access-log line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    ...(https === null ? {} : { https }),
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID_RE.test(h) ? h : randomUUID();
    },
    // Large blobs stream for as long as they take; idle connections still time out.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 75_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 2048 },
    // Requests Node's HTTP parser refuses (a malformed Content-Length, a bad header): answered in
    // the OCI error format, since no route was reached to say otherwise.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy(err);
      const what = HTTP_PARSER_ERRORS[(err as { code?: string }).code ?? ''] ?? 'malformed HTTP request';
      const body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: `bad request: ${what}` }] });
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    // Errors Fastify raises before routing (an undecodable path): in the OCI format on /v2/.
    frameworkErrors: (err, req, reply) => {
      const e = err.code === 'FST_ERR_BAD_URL' ? new RegistryError('BadRequest', `the request path is not valid percent-encoding: ${err.message}`) : err;
      if (req.url.startsWith('/v2')) return void renderOciError(e, req, reply, deps.oci.realm);
      void reply.raw.writeHead(isRegistryError(e) ? e.status : 400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message }));
    },
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('X-Request-Id', req.id);
  });
  // During shutdown a keep-alive connection would outlive its last request and hold the process
  // until the shutdown timeout: answer with Connection: close and close connections as they go idle.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (deps.lifecycle.closing) void reply.header('Connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (deps.lifecycle.closing) setImmediate(() => app.server.closeIdleConnections());
    const b = req.berth;
    req.log.info(
      {
        method: req.method,
        url: redactUrl(req.url.length > 500 ? `${req.url.slice(0, 500)}...` : req.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(b?.op !== undefined ? { op: b.op } : {}),
        ...(b?.repository !== undefined ? { repository: b.repository } : {}),
        ...(b?.principal !== undefined ? { principal: b.principal } : {}),
      },
      'request',
    );
  });

  app.get('/healthz', async (_req, reply) => {
    await reply.header('Cache-Control', 'no-store').send({ status: 'ok' });
  });
  app.get('/readyz', async (req, reply) => {
    try {
      await deps.ready();
      await reply.header('Cache-Control', 'no-store').send({ status: 'ready' });
    } catch (e) {
      req.log.warn({ err: e }, 'not ready');
      await reply.code(503).header('Cache-Control', 'no-store').send({ status: 'unavailable', reason: (e as Error).message });
    }
  });

  if (deps.api) {
    void app.register(async (scope) => {
      await ociPlugin(scope, deps.oci);
    });
    void app.register(async (scope) => {
      await ecrPlugin(scope, deps.ecr);
    });
  }
  return app;
}
