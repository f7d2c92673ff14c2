// SigV4Verifier against requests signed the way AWS clients sign them: with the AWS SDK's own signer
// (@smithy/signature-v4), in the Authorization header and as presigned query strings. Each refusal
// is checked for its RegistryError code and for the ECR exception name and HTTP status it renders as.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ERROR_CATALOG, isRegistryError, type ErrorCode } from '../core/errors.ts';
import type { Principal } from './principal.ts';
import { SigV4Verifier, type ResolvedKey, type SignedRequest } from './sigv4.ts';

const REGION = 'us-east-1';
const SERVICE = 'ecr';
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const MIN = 60_000;

const LONG_ID = 'AKIAIOSFODNN7EXAMPLE';
const LONG_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TEMP_ID = 'ASIAIOSFODNN7EXAMPLE';
const TEMP_SECRET = 'tempSecretTempSecretTempSecretTempSecret';
const TEMP_TOKEN = 'FwoGZXIvYXdzEXAMPLE//////////session-token+with/odd=characters';
const EXPIRED_ID = 'ASIAEXPIREDEXPIRED00';
const EXPIRED_TOKEN = 'expired-session-token';

function principal(accessKeyId: string, userName = 'root'): Principal {
  return {
    accountId: '123456789012',
    arn: userName === 'root' ? 'arn:aws:iam::123456789012:root' : `arn:aws:iam::123456789012:user/${userName}`,
    userName,
    accessKeyId,
    kind: userName === 'root' ? 'root' : 'user',
  };
}

const KEYS: Record<string, ResolvedKey> = {
  [LONG_ID]: { secretAccessKey: LONG_SECRET, principal: principal(LONG_ID) },
  [TEMP_ID]: { secretAccessKey: TEMP_SECRET, principal: principal(TEMP_ID, 'ci'), sessionTokenSha256: createHash('sha256').update(TEMP_TOKEN).digest('hex'), expiresAt: NOW + 60 * MIN },
  [EXPIRED_ID]: { secretAccessKey: TEMP_SECRET, principal: principal(EXPIRED_ID, 'ci'), sessionTokenSha256: createHash('sha256').update(EXPIRED_TOKEN).digest('hex'), expiresAt: NOW - MIN },
};

function verifier(now = NOW): SigV4Verifier {
  return new SigV4Verifier({ region: REGION, service: SERVICE, clockSkewSeconds: 15 * 60, now: () => now, resolve: async (id) => KEYS[id] });
}

interface SignOptions {
  method?: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  date?: number;
  region?: string;
  service?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Headers the client leaves unsigned. */
  unsignable?: string[];
  /** The SDK's default adds a signed x-amz-content-sha256 header; false leaves it out. */
  contentSha256?: boolean;
}

function baseRequest(o: SignOptions): HttpRequest {
  return new HttpRequest({
    method: o.method ?? 'POST',
    protocol: 'http:',
    hostname: 'registry.example.com',
    port: 5000,
    path: o.path ?? '/',
    query: o.query ?? {},
    headers: {
      host: 'registry.example.com:5000',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories',
      'user-agent': 'aws-cli/2.9.19',
      ...o.headers,
    },
    body: o.body ?? '{}',
  });
}

function signerFor(o: SignOptions): SignatureV4 {
  return new SignatureV4({
    credentials: {
      accessKeyId: o.accessKeyId ?? LONG_ID,
      secretAccessKey: o.secretAccessKey ?? LONG_SECRET,
      ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}),
    },
    region: o.region ?? REGION,
    service: o.service ?? SERVICE,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: o.contentSha256 ?? true,
  });
}

/** What the signer returns (an HttpRequest of @smithy/types). */
interface SignedHttpRequest {
  method: string;
  path: string;
  query?: Record<string, string | Array<string | null> | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** What berth receives for an HttpRequest the SDK produced. */
function received(r: SignedHttpRequest): SignedRequest {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(r.query ?? {})) {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== null && x !== undefined) query.append(k, x);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
  return { method: r.method, path: r.path, query, headers, body: Buffer.from(typeof r.body === 'string' ? r.body : '') };
}

/** A request signed in the Authorization header, as the AWS SDK and CLI send it. */
async function signed(o: SignOptions = {}): Promise<SignedRequest> {
  const out = await signerFor(o).sign(baseRequest(o), {
    signingDate: new Date(o.date ?? NOW),
    ...(o.unsignable !== undefined ? { unsignableHeaders: new Set(o.unsignable) } : {}),
  });
  return received(out);
}

/** A presigned GET (only `host` signed), as the SDK's presigners build it. */
async function presigned(o: SignOptions & { expiresIn?: number } = {}): Promise<SignedRequest> {
  const req = new HttpRequest({ method: 'GET', protocol: 'http:', hostname: 'registry.example.com', port: 5000, path: o.path ?? '/', query: o.query ?? {}, headers: { host: 'registry.example.com:5000' } });
  const out = await signerFor(o).presign(req, { signingDate: new Date(o.date ?? NOW), expiresIn: o.expiresIn ?? 300 });
  return received(out);
}

/** The request with one thing changed after signing. */
function tamper(r: SignedRequest, change: Partial<Omit<SignedRequest, 'headers'>> & { headers?: Record<string, string | undefined> }): SignedRequest {
  const headers: Record<string, string | string[] | undefined> = { ...r.headers };
  for (const [k, v] of Object.entries(change.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return { ...r, ...change, headers };
}

async function refused(p: Promise<unknown>, code: ErrorCode, ecr: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isRegistryError(e), `expected a RegistryError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.ecrType, ecr);
    assert.equal(e.ecrStatus, code === 'SignatureMissing' ? 403 : 400);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

function withHeader(r: SignedRequest, name: string, value: string | undefined): SignedRequest {
  return tamper(r, { headers: { [name]: value } });
}

describe('SigV4Verifier: valid requests', () => {
  test('a request signed in the Authorization header authenticates its key’s principal', async () => {
    const r = await signed({ body: '{"repositoryNames":["a"]}' });
    assert.match(String(r.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20261122\/us-east-1\/ecr\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/);
    assert.deepEqual(await verifier().verify(r), principal(LONG_ID));
  });

  test('without the x-amz-content-sha256 header (as the AWS CLI signs) too', async () => {
    const r = await signed({ contentSha256: false, body: '{"a":1}' });
    assert.equal(r.headers['x-amz-content-sha256'], undefined);
    assert.deepEqual(await verifier().verify(r), principal(LONG_ID));
  });

  test('an empty body, a query string, and a header signed with several values', async () => {
    const r = await signed({ body: '', query: { b: '2', a: 'x y/z', c: '' }, headers: { 'x-amz-meta': 'one,  two' } });
    assert.deepEqual(await verifier().verify(r), principal(LONG_ID));
  });

  test('a path with percent-encoded characters, as sent on the wire', async () => {
    // The SDK's HttpRequest path is the encoded path; the signer encodes it once more (non-S3 rule).
    const r = await signed({ path: '/some%20path/a%2Fb' });
    assert.deepEqual(await verifier().verify(r), principal(LONG_ID));
  });

  test('static: present() tells SigV4 requests from others', async () => {
    assert.equal(SigV4Verifier.present(await signed()), true);
    assert.equal(SigV4Verifier.present(await presigned()), true);
    assert.equal(SigV4Verifier.present({ headers: { authorization: 'Basic QUJDOmRlZg==' }, query: new URLSearchParams() }), false);
    assert.equal(SigV4Verifier.present({ headers: {}, query: new URLSearchParams() }), false);
  });

  test('an unsigned header may change (proxies add and rewrite headers)', async () => {
    const r = await signed({ unsignable: ['user-agent'] });
    assert.ok(!String(r.headers.authorization).includes('user-agent'));
    assert.deepEqual(await verifier().verify(withHeader(r, 'user-agent', 'something-else/1.0')), principal(LONG_ID));
    assert.deepEqual(await verifier().verify(withHeader(r, 'x-forwarded-for', '203.0.113.7')), principal(LONG_ID));
    assert.deepEqual(await verifier().verify(withHeader(r, 'user-agent', undefined)), principal(LONG_ID));
  });
});

describe('SigV4Verifier: clock skew (15 minutes each way)', () => {
  for (const [label, offset] of [
    ['14 minutes old', -14 * MIN],
    ['exactly 15 minutes old', -15 * MIN],
    ['14 minutes in the future', 14 * MIN],
    ['exactly 15 minutes in the future', 15 * MIN],
  ] as const) {
    test(`a request dated ${label} is accepted`, async () => {
      assert.deepEqual(await verifier().verify(await signed({ date: NOW + offset })), principal(LONG_ID));
    });
  }

  test('a request dated 16 minutes ago is refused: InvalidSignatureException, "Signature expired"', async () => {
    await refused(verifier().verify(await signed({ date: NOW - 16 * MIN })), 'SignatureInvalid', 'InvalidSignatureException', /Signature expired: 20261122T114400Z is now earlier than 20261122T114500Z/);
  });

  test('a request dated 16 minutes ahead is refused: InvalidSignatureException, "not yet current"', async () => {
    await refused(verifier().verify(await signed({ date: NOW + 16 * MIN })), 'SignatureInvalid', 'InvalidSignatureException', /Signature not yet current: 20261122T121600Z is still later than 20261122T121500Z/);
  });

  test('the same request: valid now, refused by a server whose clock is 16 minutes later', async () => {
    const r = await signed();
    assert.deepEqual(await verifier(NOW).verify(r), principal(LONG_ID));
    await refused(verifier(NOW + 16 * MIN).verify(r), 'SignatureInvalid', 'InvalidSignatureException', /expired/);
    await refused(verifier(NOW - 16 * MIN).verify(r), 'SignatureInvalid', 'InvalidSignatureException', /not yet current/);
  });
});

describe('SigV4Verifier: presigned query strings', () => {
  test('a presigned URL is accepted until it expires', async () => {
    const r = await presigned({ expiresIn: 300, query: { digest: 'sha256:abc' } });
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.query.get('X-Amz-Expires'), '300');
    assert.equal(r.query.get('X-Amz-SignedHeaders'), 'host');
    assert.deepEqual(await verifier(NOW).verify(r), principal(LONG_ID));
    assert.deepEqual(await verifier(NOW + 299_000).verify(r), principal(LONG_ID));
    assert.deepEqual(await verifier(NOW + 300_000).verify(r), principal(LONG_ID));
  });

  test('an expired presigned URL is refused: InvalidSignatureException', async () => {
    const r = await presigned({ expiresIn: 300 });
    await refused(verifier(NOW + 301_000).verify(r), 'SignatureInvalid', 'InvalidSignatureException', /Signature expired/);
    // Signed an hour ago for 10 minutes.
    await refused(verifier().verify(await presigned({ date: NOW - 60 * MIN, expiresIn: 600 })), 'SignatureInvalid', 'InvalidSignatureException', /Signature expired/);
  });

  test('a presigned URL long-lived enough is valid well past the 15 minutes of header signatures', async () => {
    const r = await presigned({ date: NOW - 60 * MIN, expiresIn: 7200 });
    assert.deepEqual(await verifier().verify(r), principal(LONG_ID));
  });

  test('a presigned URL dated more than 15 minutes ahead is not yet valid: InvalidSignatureException', async () => {
    await refused(verifier().verify(await presigned({ date: NOW + 20 * MIN })), 'SignatureInvalid', 'InvalidSignatureException', /not yet current/);
    assert.deepEqual(await verifier().verify(await presigned({ date: NOW + 10 * MIN })), principal(LONG_ID));
  });

  test('a presigned URL with a changed query parameter or path is refused', async () => {
    const r = await presigned({ query: { digest: 'sha256:abc' } });
    const q = new URLSearchParams(r.query);
    q.set('digest', 'sha256:def');
    await refused(verifier().verify({ ...r, query: q }), 'SignatureInvalid', 'InvalidSignatureException', /does not match/);
    const added = new URLSearchParams(r.query);
    added.append('extra', '1');
    await refused(verifier().verify({ ...r, query: added }), 'SignatureInvalid', 'InvalidSignatureException');
    await refused(verifier().verify({ ...r, path: '/other' }), 'SignatureInvalid', 'InvalidSignatureException');
    const longer = new URLSearchParams(r.query);
    longer.set('X-Amz-Expires', '604800');
    await refused(verifier().verify({ ...r, query: longer }), 'SignatureInvalid', 'InvalidSignatureException', /does not match/);
  });

  test('a presigned URL with temporary credentials carries and needs its session token', async () => {
    const r = await presigned({ accessKeyId: TEMP_ID, secretAccessKey: TEMP_SECRET, sessionToken: TEMP_TOKEN });
    assert.equal(r.query.get('X-Amz-Security-Token'), TEMP_TOKEN);
    assert.deepEqual(await verifier().verify(r), principal(TEMP_ID, 'ci'));
    const without = new URLSearchParams(r.query);
    without.delete('X-Amz-Security-Token');
    await refused(verifier().verify({ ...r, query: without }), 'ClientUnrecognized', 'UnrecognizedClientException');
  });

  test('malformed presigned queries are refused: IncompleteSignatureException', async () => {
    const r = await presigned();
    for (const [what, edit] of [
      ['no X-Amz-Credential', (q: URLSearchParams) => q.delete('X-Amz-Credential')],
      ['no X-Amz-Algorithm', (q: URLSearchParams) => q.delete('X-Amz-Algorithm')],
      ['another algorithm', (q: URLSearchParams) => q.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA512')],
      ['no X-Amz-SignedHeaders', (q: URLSearchParams) => q.delete('X-Amz-SignedHeaders')],
      ['no X-Amz-Expires', (q: URLSearchParams) => q.delete('X-Amz-Expires')],
      ['X-Amz-Expires of 0', (q: URLSearchParams) => q.set('X-Amz-Expires', '0')],
      ['X-Amz-Expires over 7 days', (q: URLSearchParams) => q.set('X-Amz-Expires', '604801')],
      ['X-Amz-Expires not a number', (q: URLSearchParams) => q.set('X-Amz-Expires', '5m')],
      ['a signature that is not hex', (q: URLSearchParams) => q.set('X-Amz-Signature', 'z'.repeat(64))],
      ['no X-Amz-Date', (q: URLSearchParams) => q.delete('X-Amz-Date')],
      ['a malformed X-Amz-Date', (q: URLSearchParams) => q.set('X-Amz-Date', '2026-11-22T12:00:00Z')],
      ['a credential scope without the terminator', (q: URLSearchParams) => q.set('X-Amz-Credential', `${LONG_ID}/20261122/us-east-1/ecr`)],
      ['host not among the signed headers', (q: URLSearchParams) => q.set('X-Amz-SignedHeaders', 'x-amz-date')],
    ] as const) {
      const q = new URLSearchParams(r.query);
      edit(q);
      await refused(verifier().verify({ ...r, query: q }), 'SignatureIncomplete', 'IncompleteSignatureException').catch((e: unknown) => {
        throw new Error(`${what}: ${String(e)}`);
      });
    }
  });
});

describe('SigV4Verifier: scope', () => {
  test('a request signed for another region is refused: InvalidSignatureException', async () => {
    await refused(verifier().verify(await signed({ region: 'eu-west-1' })), 'SignatureInvalid', 'InvalidSignatureException', /region.*eu-west-1/);
    await refused(verifier().verify(await presigned({ region: 'us-west-2' })), 'SignatureInvalid', 'InvalidSignatureException', /region/);
  });

  test('a request signed for another service is refused: InvalidSignatureException', async () => {
    await refused(verifier().verify(await signed({ service: 's3' })), 'SignatureInvalid', 'InvalidSignatureException', /service/);
    await refused(verifier().verify(await signed({ service: 'ecr-public' })), 'SignatureInvalid', 'InvalidSignatureException', /service/);
    await refused(verifier().verify(await presigned({ service: 'sts' })), 'SignatureInvalid', 'InvalidSignatureException', /service/);
  });

  test('a credential scope date that is not the request date is refused', async () => {
    const r = await signed();
    const auth = String(r.headers.authorization).replace('/20261122/', '/20261121/');
    await refused(verifier().verify(withHeader(r, 'authorization', auth)), 'SignatureInvalid', 'InvalidSignatureException', /Date in Credential scope does not match/);
  });
});

describe('SigV4Verifier: keys and session tokens', () => {
  test('an unknown access key is refused: UnrecognizedClientException', async () => {
    await refused(verifier().verify(await signed({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00' })), 'ClientUnrecognized', 'UnrecognizedClientException', /security token included in the request is invalid/);
    await refused(verifier().verify(await presigned({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00' })), 'ClientUnrecognized', 'UnrecognizedClientException');
  });

  test('a known key with the wrong secret is refused: InvalidSignatureException', async () => {
    await refused(verifier().verify(await signed({ secretAccessKey: 'not-the-secret' })), 'SignatureInvalid', 'InvalidSignatureException', /signature we calculated does not match/);
  });

  test('temporary credentials with their session token are accepted', async () => {
    const r = await signed({ accessKeyId: TEMP_ID, secretAccessKey: TEMP_SECRET, sessionToken: TEMP_TOKEN });
    assert.equal(r.headers['x-amz-security-token'], TEMP_TOKEN);
    assert.deepEqual(await verifier().verify(r), principal(TEMP_ID, 'ci'));
  });

  test('a session token sent with a long-term key is refused: UnrecognizedClientException', async () => {
    await refused(verifier().verify(await signed({ sessionToken: 'some-token' })), 'ClientUnrecognized', 'UnrecognizedClientException');
  });

  test('temporary credentials without their session token, or with another, are refused: UnrecognizedClientException', async () => {
    await refused(verifier().verify(await signed({ accessKeyId: TEMP_ID, secretAccessKey: TEMP_SECRET })), 'ClientUnrecognized', 'UnrecognizedClientException');
    await refused(verifier().verify(await signed({ accessKeyId: TEMP_ID, secretAccessKey: TEMP_SECRET, sessionToken: `${TEMP_TOKEN}x` })), 'ClientUnrecognized', 'UnrecognizedClientException');
    await refused(verifier().verify(await signed({ accessKeyId: TEMP_ID, secretAccessKey: TEMP_SECRET, sessionToken: EXPIRED_TOKEN })), 'ClientUnrecognized', 'UnrecognizedClientException');
  });

  test('expired temporary credentials are refused: ExpiredTokenException', async () => {
    await refused(verifier().verify(await signed({ accessKeyId: EXPIRED_ID, secretAccessKey: TEMP_SECRET, sessionToken: EXPIRED_TOKEN })), 'TokenExpired', 'ExpiredTokenException', /expired/);
  });
});

describe('SigV4Verifier: tampering (InvalidSignatureException)', () => {
  const bad = async (r: SignedRequest): Promise<void> => {
    await refused(verifier().verify(r), 'SignatureInvalid', 'InvalidSignatureException');
  };

  test('a changed body is refused (signed without x-amz-content-sha256)', async () => {
    const r = await signed({ contentSha256: false, body: '{"repositoryName":"a"}' });
    await bad({ ...r, body: Buffer.from('{"repositoryName":"b"}') });
    await bad({ ...r, body: Buffer.from('{"repositoryName":"a"} ') });
    await bad({ ...r, body: Buffer.alloc(0) });
  });

  test('a changed body is refused when the signed x-amz-content-sha256 header names the original body (as the AWS SDK for JavaScript sends it)', async () => {
    const body = '{"repositoryName":"a"}';
    const r = await signed({ body });
    assert.equal(r.headers['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
    assert.ok(String(r.headers.authorization).includes('x-amz-content-sha256'));
    await bad({ ...r, body: Buffer.from('{"repositoryName":"b","force":true}') });
  });

  test('an x-amz-content-sha256 header that does not hash the body is refused, even when signed', async () => {
    const forged = createHash('sha256').update('something else').digest('hex');
    const r = await signed({ body: '{"repositoryName":"a"}', headers: { 'x-amz-content-sha256': forged } });
    await bad(r);
    const unsigned = await signed({ body: '{"repositoryName":"a"}', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    await bad(unsigned);
  });

  test('a changed signed header is refused', async () => {
    const r = await signed();
    await bad(withHeader(r, 'x-amz-target', 'AmazonEC2ContainerRegistry_V20150921.DeleteRepository'));
    await bad(withHeader(r, 'content-type', 'application/json'));
    await bad(withHeader(r, 'host', 'attacker.example.com:5000'));
    await bad(withHeader(r, 'x-amz-date', '20261122T120001Z'));
  });

  test('a changed path, query or method is refused', async () => {
    const r = await signed({ query: { a: '1' } });
    await bad({ ...r, path: '/x' });
    await bad({ ...r, query: new URLSearchParams('a=2') });
    await bad({ ...r, query: new URLSearchParams('a=1&b=2') });
    await bad({ ...r, query: new URLSearchParams('') });
    await bad({ ...r, method: 'PUT' });
    await bad({ ...r, method: 'GET' });
  });

  test('a changed signature is refused', async () => {
    const r = await signed();
    const auth = String(r.headers.authorization);
    const sig = auth.slice(-64);
    const flipped = `${sig.slice(0, 63)}${sig.endsWith('0') ? '1' : '0'}`;
    await bad(withHeader(r, 'authorization', auth.replace(sig, flipped)));
  });

  test('a header listed in SignedHeaders but absent is refused', async () => {
    const r = await signed();
    assert.ok(String(r.headers.authorization).includes('x-amz-target'));
    await refused(verifier().verify(withHeader(r, 'x-amz-target', undefined)), 'SignatureInvalid', 'InvalidSignatureException', /x-amz-target/);
  });

  test('SignedHeaders naming fewer headers than were signed is refused', async () => {
    const r = await signed();
    const auth = String(r.headers.authorization).replace(/SignedHeaders=[^,]+/, 'SignedHeaders=host;x-amz-date');
    await bad(withHeader(r, 'authorization', auth));
  });
});

describe('SigV4Verifier: malformed or missing authentication', () => {
  test('no Authorization header and no presigned query: MissingAuthenticationTokenException (HTTP 403)', async () => {
    const r = await signed();
    await refused(verifier().verify(withHeader(r, 'authorization', undefined)), 'SignatureMissing', 'MissingAuthenticationTokenException', /Missing Authentication Token/);
    await refused(verifier().verify(withHeader(r, 'authorization', '')), 'SignatureMissing', 'MissingAuthenticationTokenException');
  });

  test('malformed Authorization headers: IncompleteSignatureException', async () => {
    const r = await signed();
    const auth = String(r.headers.authorization);
    const cases: Array<[string, string]> = [
      ['Basic credentials', `Basic ${Buffer.from(`${LONG_ID}:${LONG_SECRET}`).toString('base64')}`],
      ['Bearer token', 'Bearer abc'],
      ['algorithm only', 'AWS4-HMAC-SHA256'],
      ['another algorithm', auth.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')],
      ['SigV2-style', `AWS ${LONG_ID}:c2lnbmF0dXJl`],
      ['no Credential', auth.replace(/Credential=[^,]+, /, '')],
      ['no SignedHeaders', auth.replace(/SignedHeaders=[^,]+, /, '')],
      ['no Signature', auth.replace(/, Signature=[0-9a-f]+$/, '')],
      ['a short signature', auth.replace(/Signature=[0-9a-f]+$/, 'Signature=abc')],
      ['a non-hex signature', auth.replace(/Signature=[0-9a-f]+$/, `Signature=${'g'.repeat(64)}`)],
      ['a credential without the terminator', auth.replace('/ecr/aws4_request', '/ecr')],
      ['a credential with an extra part', auth.replace('/ecr/aws4_request', '/ecr/aws4_request/x')],
      ['host not signed', auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date;x-amz-target')],
    ];
    for (const [what, value] of cases) {
      await refused(verifier().verify(withHeader(r, 'authorization', value)), 'SignatureIncomplete', 'IncompleteSignatureException').catch((e: unknown) => {
        throw new Error(`${what}: ${String(e)}`);
      });
    }
  });

  test('no X-Amz-Date header, or a malformed one: IncompleteSignatureException', async () => {
    const r = await signed();
    await refused(verifier().verify(withHeader(r, 'x-amz-date', undefined)), 'SignatureIncomplete', 'IncompleteSignatureException', /X-Amz-Date/);
    await refused(verifier().verify(withHeader(r, 'x-amz-date', 'Sun, 22 Nov 2026 12:00:00 GMT')), 'SignatureIncomplete', 'IncompleteSignatureException', /X-Amz-Date/);
  });
});

describe('the catalog maps every SigV4 refusal to the exception and status AWS uses', () => {
  test('codes, ECR names and statuses', () => {
    const expected: Array<[ErrorCode, string, number]> = [
      ['SignatureMissing', 'MissingAuthenticationTokenException', 403],
      ['SignatureIncomplete', 'IncompleteSignatureException', 400],
      ['SignatureInvalid', 'InvalidSignatureException', 400],
      ['ClientUnrecognized', 'UnrecognizedClientException', 400],
      ['TokenExpired', 'ExpiredTokenException', 400],
    ];
    for (const [code, ecr, status] of expected) {
      const m: { ecr: string; ecrStatus?: number; status: number; oci: string } = ERROR_CATALOG[code];
      assert.equal(m.ecr, ecr, code);
      assert.equal(m.ecrStatus ?? 400, status, code);
      // On /v2/ the same failures are a 401 challenge.
      assert.equal(m.status, 401, code);
      assert.equal(m.oci, 'UNAUTHORIZED', code);
    }
  });
});
