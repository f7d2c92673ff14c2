// AWS Signature Version 4 verification for berth's AWS-protocol APIs (the ECR JSON API now, IAM and
// STS later). The expected signature is computed by the AWS SDK's own signer (@smithy/signature-v4)
// from the request as received: only the headers the client says it signed, the exact body bytes,
// and the client's date; berth never re-implements the algorithm.
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../core/errors.ts';
import type { Principal } from './principal.ts';

/** What the verifier needs of an incoming request. */
export interface SignedRequest {
  method: string;
  /** Path without the query string, as sent (percent-encoded). */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

export interface ResolvedKey {
  secretAccessKey: string;
  principal: Principal;
  /** For temporary credentials: SHA-256 (hex) of the session token the request must carry. */
  sessionTokenSha256?: string;
  /** Epoch ms after which temporary credentials are expired. */
  expiresAt?: number;
}

/** Looks up an access key's secret; undefined when the key is unknown or inactive. */
export type KeyResolver = (accessKeyId: string) => Promise<ResolvedKey | undefined>;

export interface SigV4Options {
  /** The region requests must be scoped to (IAM, a global service, also takes us-east-1). */
  region: string | readonly string[];
  service: string;
  /** Allowed distance between the request date and the server clock, in seconds. */
  clockSkewSeconds: number;
  resolve: KeyResolver;
  now?: () => number;
}

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

function one(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h.join(',') : h;
}

/** `20261122T053000Z` -> epoch ms, or NaN. */
function amzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function fmt(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export class SigV4Verifier {
  private readonly opts: SigV4Options;
  private readonly now: () => number;

  constructor(opts: SigV4Options) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Whether the request carries SigV4 authentication (header or presigned query). */
  static present(req: Pick<SignedRequest, 'headers' | 'query'>): boolean {
    return (one(req.headers.authorization) ?? '').startsWith('AWS4-') || req.query.has('X-Amz-Signature');
  }

  async verify(req: SignedRequest): Promise<Principal> {
    const presigned = req.query.has('X-Amz-Signature');
    let credential: string;
    let signedHeaders: string[];
    let signature: string;
    let dateText: string;
    let expiresIn: number | undefined;
    let token: string | undefined;
    if (presigned) {
      const alg = req.query.get('X-Amz-Algorithm');
      credential = req.query.get('X-Amz-Credential') ?? '';
      signedHeaders = (req.query.get('X-Amz-SignedHeaders') ?? '').split(';').filter((h) => h !== '');
      signature = req.query.get('X-Amz-Signature') ?? '';
      dateText = req.query.get('X-Amz-Date') ?? '';
      expiresIn = Number(req.query.get('X-Amz-Expires') ?? 'NaN');
      token = req.query.get('X-Amz-Security-Token') ?? undefined;
      if (alg !== 'AWS4-HMAC-SHA256' || credential === '' || signedHeaders.length === 0 || !/^[0-9a-f]{64}$/.test(signature) || !Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > 604800) {
        throw new RegistryError('SignatureIncomplete', 'AWS query-string parameters must include X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Expires.');
      }
    } else {
      const header = one(req.headers.authorization);
      if (header === undefined || header === '') throw new RegistryError('SignatureMissing', 'Missing Authentication Token');
      const m = AUTH_RE.exec(header);
      if (m === null) {
        throw new RegistryError('SignatureIncomplete', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters, and the AWS4-HMAC-SHA256 algorithm.`);
      }
      credential = m[1] as string;
      signedHeaders = (m[2] as string).split(';');
      signature = m[3] as string;
      dateText = one(req.headers['x-amz-date']) ?? '';
      token = one(req.headers['x-amz-security-token']);
    }
    const [accessKeyId, scopeDate, region, service, terminator, ...rest] = credential.split('/');
    if (accessKeyId === undefined || scopeDate === undefined || region === undefined || service === undefined || terminator !== 'aws4_request' || rest.length > 0) {
      throw new RegistryError('SignatureIncomplete', `Credential should be of the form <access key>/<date>/<region>/<service>/aws4_request, not '${credential.slice(0, 200)}'.`);
    }
    if (!signedHeaders.includes('host')) throw new RegistryError('SignatureIncomplete', "SignedHeaders must include 'host'.");
    const date = amzDate(dateText);
    if (Number.isNaN(date)) throw new RegistryError('SignatureIncomplete', 'The request must carry an X-Amz-Date in the form YYYYMMDDTHHMMSSZ.');
    if (!dateText.startsWith(scopeDate)) throw new RegistryError('SignatureInvalid', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${dateText.slice(0, 8)}'.`);
    if (typeof this.opts.region === 'string' ? region !== this.opts.region : !this.opts.region.includes(region)) throw new RegistryError('SignatureInvalid', `Credential should be scoped to a valid region, not '${region}'.`);
    if (service !== this.opts.service) throw new RegistryError('SignatureInvalid', `Credential should be scoped to correct service: '${this.opts.service}'.`);
    const now = this.now();
    const skew = this.opts.clockSkewSeconds * 1000;
    if (presigned) {
      if (now > date + (expiresIn ?? 0) * 1000) throw new RegistryError('SignatureInvalid', `Signature expired: ${dateText} is now earlier than ${fmt(now - (expiresIn ?? 0) * 1000)} (${fmt(now)} - ${expiresIn ?? 0} sec.)`);
      if (date > now + skew) throw new RegistryError('SignatureInvalid', `Signature not yet current: ${dateText} is still later than ${fmt(now + skew)} (${fmt(now)} + 15 min.)`);
    } else if (date < now - skew) {
      throw new RegistryError('SignatureInvalid', `Signature expired: ${dateText} is now earlier than ${fmt(now - skew)} (${fmt(now)} - 15 min.)`);
    } else if (date > now + skew) {
      throw new RegistryError('SignatureInvalid', `Signature not yet current: ${dateText} is still later than ${fmt(now + skew)} (${fmt(now)} + 15 min.)`);
    }

    const key = await this.opts.resolve(accessKeyId);
    if (key === undefined) throw new RegistryError('ClientUnrecognized', 'The security token included in the request is invalid.');
    if (key.sessionTokenSha256 !== undefined) {
      const digest = token === undefined ? '' : createHash('sha256').update(token).digest('hex');
      if (digest.length !== key.sessionTokenSha256.length || !timingSafeEqual(Buffer.from(digest), Buffer.from(key.sessionTokenSha256))) throw new RegistryError('ClientUnrecognized', 'The security token included in the request is invalid.');
      if (key.expiresAt !== undefined && now > key.expiresAt) throw new RegistryError('TokenExpired', 'The security token included in the request is expired');
    } else if (token !== undefined) {
      throw new RegistryError('ClientUnrecognized', 'The security token included in the request is invalid.');
    }

    // The signer trusts a signed x-amz-content-sha256 header instead of hashing the body, so the
    // header must hash the body actually received; the JSON APIs never take an unsigned payload.
    const contentSha256 = one(req.headers['x-amz-content-sha256']);
    if (contentSha256 !== undefined && contentSha256 !== createHash('sha256').update(req.body).digest('hex')) {
      throw new RegistryError('SignatureInvalid', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    const headers: Record<string, string> = {};
    for (const h of signedHeaders) {
      const v = one(req.headers[h]);
      if (v === undefined) throw new RegistryError('SignatureInvalid', `The request signature we calculated does not match the signature you provided: header '${h}' is signed but absent.`);
      headers[h] = v;
    }
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of req.query) {
      if (presigned && k.startsWith('X-Amz-') && ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'].includes(k)) continue;
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const host = headers.host ?? '';
    const colon = host.lastIndexOf(':');
    const request = new HttpRequest({
      method: req.method,
      protocol: 'http:',
      hostname: colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host,
      // The path exactly as sent: clients sign the encoded path and the signer encodes it once more
      // (the rule for every service but S3).
      path: req.path,
      query,
      headers,
      body: req.body,
    });
    const signer = new SignatureV4({
      credentials: { accessKeyId, secretAccessKey: key.secretAccessKey, ...(token !== undefined ? { sessionToken: token } : {}) },
      region,
      service,
      sha256: Hash.bind(null, 'sha256'),
      applyChecksum: false,
    });
    const signable = new Set(signedHeaders);
    let expected: string | undefined;
    if (presigned) {
      // The signed headers stay headers: whatever the client hoisted into the query is in `query`.
      const out = await signer.presign(request, { signingDate: new Date(date), expiresIn, signableHeaders: signable, unhoistableHeaders: signable });
      const got = out.query?.['X-Amz-Signature'];
      expected = typeof got === 'string' ? got : undefined;
    } else {
      const out = await signer.sign(request, { signingDate: new Date(date), signableHeaders: signable });
      expected = AUTH_RE.exec(out.headers.authorization ?? '')?.[3];
    }
    if (expected === undefined || expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      throw new RegistryError(
        'SignatureInvalid',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return key.principal;
  }
}
