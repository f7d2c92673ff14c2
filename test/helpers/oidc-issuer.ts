// An OpenID Connect issuer served by the test itself on a loopback port: a discovery document, a
// JWKS with one RSA key, and ID tokens signed with it (or with another key, to forge one), as a CI
// system (GitHub Actions, GitLab) or a Kubernetes cluster issues them to its jobs and pods.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type CryptoKey } from 'jose';

export interface TestIssuer {
  /** `http://127.0.0.1:<port>/ci` */
  url: string;
  /** The issuer as IAM names it: `127.0.0.1:<port>/ci` */
  issuer: string;
  /** An ID token for `claims` (sub, aud, ...), valid `ttlSeconds` from `now`; signed by the issuer's key unless `forge`. */
  token(claims: JWTPayload, opts?: { ttlSeconds?: number; now?: number; forge?: boolean; iss?: string }): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** Stops answering (the issuer "is down"): requests get 503. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startTestIssuer(path = '/ci'): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  let down = false;
  let base = '';
  const server: Server = createServer((req, res) => {
    if (down) {
      res.writeHead(503).end();
      return;
    }
    if (req.url === `${path}/.well-known/openid-configuration`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
      return;
    }
    if (req.url === `${path}/jwks`) {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}${path}`;
  const sign = async (claims: JWTPayload, key: CryptoKey, opts: { ttlSeconds?: number; now?: number; iss?: string }): Promise<string> => {
    const now = Math.floor((opts.now ?? Date.now()) / 1000);
    return await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1', typ: 'JWT' })
      .setIssuer(opts.iss ?? base)
      .setIssuedAt(now)
      .setExpirationTime(now + (opts.ttlSeconds ?? 300))
      .sign(key);
  };
  return {
    url: base,
    issuer: `127.0.0.1:${port}${path}`,
    token: async (claims, opts = {}) => await sign(claims, opts.forge === true ? other.privateKey : privateKey, opts),
    jwksFetches: () => fetches,
    setDown: (d) => {
      down = d;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
