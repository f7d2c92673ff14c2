// For tests only: a tiny in-process HTTP server standing in for a registry or a token endpoint.
// Each test gives the handler; the server records every request (method, URL, headers, body).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { UpstreamError } from './errors.ts';

export interface FakeRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Its result is ignored, except that a rejected promise answers 500. */
export type FakeHandler = (req: FakeRequest, res: ServerResponse) => unknown;

export interface FakeServer {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export async function startFake(handler: FakeHandler): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: FakeRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(r);
      Promise.resolve(handler(r, res)).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sends an OCI error body (distribution-spec "Error Codes"). */
export function ociError(res: ServerResponse, status: number, code: string, message = code.toLowerCase(), headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

/** For assert.rejects: the error is an UpstreamError of `kind` (and passes `check`). */
export function isUpstream(kind: string, check: (e: UpstreamError) => void = () => undefined) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof UpstreamError, `expected an UpstreamError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    check(e);
    return true;
  };
}
