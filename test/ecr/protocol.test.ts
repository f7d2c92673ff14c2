// The ECR JSON API's protocol through real HTTP: routing by X-Amz-Target, framing (JSON bodies,
// Content-Type, the body limit), SigV4 authentication with AWS's exception names and statuses,
// validation of every operation's input against the model (generated from it: every required member,
// enum, pattern, length and range) with the modelled exception and no change of state, and a static
// check that every operation can only throw exceptions its model entry lists.
//
// Malformed requests are built by hand (signed with the AWS SDK's signer, sent with fetch); valid ones
// go through @aws-sdk/client-ecr. Strict mode (BERTH_STRICT_ERRORS=1, set by startEcrApp) is on: an
// operation answering an exception its model does not list turns into a ServerException and fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, ECRServiceException } from '@aws-sdk/client-ecr';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import ts from 'typescript';
import { buildHttp } from '../../src/app/http.ts';
import { loadKeyring, principalOf, SigV4Verifier } from '../../src/auth/index.ts';
import { ERROR_CATALOG, RegistryError, type ErrorCode } from '../../src/core/errors.ts';
import { COMMON_EXCEPTIONS, EcrException } from '../../src/ecr/errors.ts';
import { defineOperation, type EcrOperation } from '../../src/ecr/operation.ts';
import { OPERATION_HANDLERS } from '../../src/ecr/index.ts';
import { METADATA, OPERATIONS, SHAPES, type OperationName } from '../../src/ecr/generated/model.ts';
import type { Shape } from '../../src/aws/shapes.ts';
import { pushImage } from '../integration/bad-input/helpers.ts';
import { startEcrApp, type EcrTestApp } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PREFIX = `${METADATA.targetPrefix}.`;
const ALL_OPERATIONS = Object.keys(OPERATIONS).sort() as OperationName[];
const IMPLEMENTED = new Set<string>(OPERATION_HANDLERS.map((h) => h.name));
const KEPT_REPO = 'proto/keep';

// ---------------------------------------------------------------------------------------------
// Raw requests

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

interface RawOptions {
  /** The operation (X-Amz-Target is the model's prefix + it); `target` overrides, null sends none. */
  op?: OperationName;
  target?: string | null;
  body?: string | Buffer;
  /** null sends none. */
  contentType?: string | null;
  /** Extra headers, signed. */
  headers?: Record<string, string>;
  /** false: send without any authentication. */
  sign?: boolean;
  region?: string;
  service?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  date?: number;
  /** The SDK for JavaScript signs x-amz-content-sha256 too; the AWS CLI does not. */
  contentSha256?: boolean;
  /** Changes after signing. */
  tamper?: { body?: string | Buffer; headers?: Record<string, string | undefined> };
  url?: string;
}

interface Target {
  url: string;
  host: string;
  accessKeyId: string;
  secretAccessKey: string;
}

async function toReply(res: Response): Promise<Reply> {
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function raw(t: Target, o: RawOptions = {}): Promise<Reply> {
  const body = o.body ?? '{}';
  const headers: Record<string, string> = { host: t.host, ...o.headers };
  const target = o.target === undefined ? (o.op === undefined ? undefined : `${PREFIX}${o.op}`) : o.target;
  if (target !== undefined && target !== null) headers['x-amz-target'] = target;
  const contentType = o.contentType === undefined ? 'application/x-amz-json-1.1' : o.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  let out = headers;
  if (o.sign !== false) {
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: o.accessKeyId ?? t.accessKeyId,
        secretAccessKey: o.secretAccessKey ?? t.secretAccessKey,
        ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}),
      },
      region: o.region ?? 'us-east-1',
      service: o.service ?? 'ecr',
      sha256: Hash.bind(null, 'sha256'),
      applyChecksum: o.contentSha256 ?? false,
    });
    const u = new URL(t.url);
    const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', headers, body }), {
      signingDate: new Date(o.date ?? Date.now()),
    });
    out = signed.headers;
  }
  const sent: Record<string, string> = { ...out };
  for (const [k, v] of Object.entries(o.tamper?.headers ?? {})) {
    if (v === undefined) delete sent[k];
    else sent[k] = v;
  }
  delete sent.host; // fetch sends the URL's host, which is the one signed
  const res = await fetch(o.url ?? `${t.url}/`, { method: 'POST', headers: sent, body: o.tamper?.body ?? body });
  return await toReply(res);
}

/** Asserts an ECR error response: status, Content-Type, request id, and a body of exactly {__type, message}. */
function expectError(r: Reply, type: string, status = 400, message?: RegExp | string): { __type: string; message: string } {
  const context = `HTTP ${r.status} ${r.text.slice(0, 600)}`;
  assert.equal(r.status, status, `status: ${context}`);
  assert.equal(r.headers.get('content-type'), 'application/x-amz-json-1.1', `Content-Type: ${context}`);
  assert.match(r.headers.get('x-amzn-requestid') ?? '', /^[A-Za-z0-9._-]{8,}$/, `x-amzn-RequestId: ${context}`);
  let doc: unknown;
  try {
    doc = JSON.parse(r.text);
  } catch {
    assert.fail(`body is not JSON: ${context}`);
  }
  assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), `body is not an object: ${context}`);
  assert.deepEqual(Object.keys(doc).sort(), ['__type', 'message'], `body keys: ${context}`);
  const e = doc as { __type: string; message: string };
  assert.equal(e.__type, type, `__type: ${context}`);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0, `an empty message: ${context}`);
  if (typeof message === 'string') assert.ok(e.message.includes(message), `message ${JSON.stringify(e.message)} should contain ${JSON.stringify(message)}`);
  else if (message !== undefined) assert.match(e.message, message, context);
  return e;
}

function expectOk(r: Reply): unknown {
  const context = `HTTP ${r.status} ${r.text.slice(0, 600)}`;
  assert.equal(r.status, 200, context);
  assert.equal(r.headers.get('content-type'), 'application/x-amz-json-1.1', context);
  assert.match(r.headers.get('x-amzn-requestid') ?? '', /^[A-Za-z0-9._-]{8,}$/, context);
  const doc = JSON.parse(r.text) as unknown;
  assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), context);
  return doc;
}

/** Asserts that an SDK call failed with `name` (and the HTTP status), as the SDK parsed berth's answer. */
async function sdkRefused(p: Promise<unknown>, name: string, status = 400): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ECRServiceException, `expected an ECR service exception, got ${String(e)}`);
    assert.equal(e.name, name, e.message);
    assert.equal(e.$metadata.httpStatusCode, status);
    assert.match(e.$metadata.requestId ?? '', /^[A-Za-z0-9._-]{8,}$/, 'the SDK read x-amzn-RequestId');
    return true;
  });
}

/** The exception the protocol answers a validation failure of `op` with (src/ecr/protocol.ts's rule). */
function validationExceptionOf(op: OperationName): string {
  const errors = OPERATIONS[op].errors;
  return errors.includes('InvalidParameterException') || !errors.includes('ValidationException') ? 'InvalidParameterException' : 'ValidationException';
}

// ---------------------------------------------------------------------------------------------
// State snapshots: every table (but the job queue's own bookkeeping) and every stored file.

const VOLATILE_TABLES = new Set(['jobs', 'leases']);
const VOLATILE_COLUMNS: Record<string, readonly string[]> = { manifests: ['last_pulled_at'] };

function cell(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${createHash('sha256').update(v).digest('hex')}`;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function listFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const d of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!d.isFile()) continue;
    const p = join(d.parentPath, d.name);
    out.push(`${relative(root, p).split(sep).join('/')} ${statSync(p).size}`);
  }
  return out.sort();
}

type State = Record<string, string[]>;

function state(t: EcrTestApp): State {
  const db = new DatabaseSync(join(t.dataDir, 'berth.db'), { readOnly: true });
  try {
    const out: State = {};
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>;
    for (const { name } of tables) {
      if (VOLATILE_TABLES.has(name)) continue;
      const skip = VOLATILE_COLUMNS[name] ?? [];
      out[`table ${name}`] = (db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>)
        .map((row) =>
          JSON.stringify(
            Object.keys(row)
              .filter((k) => !skip.includes(k))
              .sort()
              .map((k) => [k, cell(row[k])]),
          ),
        )
        .sort();
    }
    out.files = listFiles(join(t.dataDir, 'storage'));
    return out;
  } finally {
    db.close();
  }
}

function assertUnchanged(t: EcrTestApp, before: State, what: string): void {
  const now = state(t);
  const problems: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(now)])) {
    const a = before[k] ?? [];
    const b = now[k] ?? [];
    if (a.join('\n') === b.join('\n')) continue;
    problems.push(`${k}: added ${JSON.stringify(b.filter((x) => !a.includes(x))).slice(0, 800)}; removed ${JSON.stringify(a.filter((x) => !b.includes(x))).slice(0, 800)}`);
  }
  assert.deepEqual(problems, [], `state changed after ${what}:\n${problems.join('\n')}`);
}

// ---------------------------------------------------------------------------------------------
// Inputs generated from the model

/** Valid values for the patterned shapes (the generator cannot invent a string matching a regex). */
function samples(accountId: string): Record<string, unknown> {
  return {
    RepositoryName: KEPT_REPO,
    RegistryId: accountId,
    LayerDigest: `sha256:${'0'.repeat(64)}`,
    UploadId: '0123abcd-0123-4567-89ab-0123456789ab',
    Prefix: 'proto',
    PullThroughCacheRuleRepositoryPrefix: 'ptc',
    CredentialArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/example-abc',
    KmsKeyForRepositoryCreationTemplate: 'arn:aws:kms:us-east-1:123456789012:key/abc-123',
    PrincipalArn: 'arn:aws:iam::123456789012:role/ci',
    Region: 'us-west-2',
    ImageTagMutabilityExclusionFilterValue: 'release-*',
    RepositoryFilterValue: 'proto',
    ScanningRepositoryFilterValue: 'proto*',
    SigningProfileArn: 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/ci_profile',
    SigningRepositoryFilterValue: 'proto*',
    Base64: 'QUJD',
  };
}

function shapeOf(name: string): Shape {
  const s = SHAPES[name];
  assert.ok(s !== undefined, `shape ${name} missing from the model`);
  return s;
}

/** The model's pattern matched against the whole value (some of its patterns are not valid with the `u` flag). */
function fullMatch(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    return new RegExp(`^(?:${pattern})$`);
  }
}

class Generator {
  private readonly samples: Record<string, unknown>;
  constructor(accountId: string) {
    this.samples = samples(accountId);
  }

  /** A minimal valid value of a shape: required members only. */
  valid(name: string): unknown {
    if (Object.hasOwn(this.samples, name)) return this.samples[name];
    const s = shapeOf(name);
    switch (s.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const r of s.required ?? []) {
          const m = s.members[r];
          assert.ok(m !== undefined);
          out[r] = this.valid(m.shape);
        }
        return out;
      }
      case 'list': {
        const n = Math.min(Math.max(s.min ?? 0, 1), s.max ?? 1);
        return Array.from({ length: n }, () => this.valid(s.member));
      }
      case 'map': {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < (s.min ?? 0); i++) out[`k${i}`] = this.valid(s.value);
        return out;
      }
      case 'string': {
        if (s.enum !== undefined) return s.enum[0];
        assert.ok(s.pattern === undefined, `add a valid sample for the patterned shape ${name} (${s.pattern})`);
        return 'a'.repeat(Math.min(Math.max(s.min ?? 1, 1), s.max ?? 1_000_000));
      }
      case 'integer':
      case 'long':
      case 'double':
      case 'float':
        return s.min !== undefined ? Math.max(s.min, Math.min(1, s.max ?? 1)) : Math.min(1, s.max ?? 1);
      case 'boolean':
        return false;
      case 'timestamp':
        return 0;
      case 'blob':
        return Buffer.alloc(Math.max(s.min ?? 0, 3)).toString('base64');
    }
  }

  /** Invalid values at this position of a shape, each with the path the violation is reported at. */
  invalid(name: string, path: string, depth = 0, stack: readonly string[] = []): Array<{ what: string; value: unknown; path: string }> {
    if (depth > 6 || stack.includes(name)) return [];
    const s = shapeOf(name);
    const out: Array<{ what: string; value: unknown; path: string }> = [];
    const at = (m: string): string => (path === '' ? m : `${path}.${m}`);
    switch (s.type) {
      case 'structure': {
        const base = this.valid(name) as Record<string, unknown>;
        for (const r of s.required ?? []) {
          const v = { ...base };
          delete v[r];
          out.push({ what: `without the required ${at(r)}`, value: v, path: at(r) });
        }
        for (const [m, member] of Object.entries(s.members)) {
          for (const bad of this.invalid(member.shape, at(m), depth + 1, [...stack, name])) out.push({ ...bad, value: { ...base, [m]: bad.value } });
        }
        return out;
      }
      case 'list': {
        const item = this.valid(s.member);
        if (s.min !== undefined && s.min >= 1) out.push({ what: `${path} with ${s.min - 1} items (min ${s.min})`, value: Array.from({ length: s.min - 1 }, () => item), path });
        if (s.max !== undefined && s.max <= 1000) out.push({ what: `${path} with ${s.max + 1} items (max ${s.max})`, value: Array.from({ length: s.max + 1 }, () => item), path });
        for (const bad of this.invalid(s.member, `${path}.1.member`, depth + 1, [...stack, name])) out.push({ ...bad, value: [bad.value] });
        return out;
      }
      case 'map': {
        const value = this.valid(s.value);
        if (s.min !== undefined && s.min >= 1) out.push({ what: `${path} with ${s.min - 1} entries (min ${s.min})`, value: Object.fromEntries(Array.from({ length: s.min - 1 }, (_, i) => [`k${i}`, value])), path });
        if (s.max !== undefined && s.max <= 1000) out.push({ what: `${path} with ${s.max + 1} entries (max ${s.max})`, value: Object.fromEntries(Array.from({ length: s.max + 1 }, (_, i) => [`k${i}`, value])), path });
        for (const bad of this.invalid(s.value, `${path}.k`, depth + 1, [...stack, name])) out.push({ ...bad, value: { k: bad.value } });
        return out;
      }
      case 'string': {
        if (s.enum !== undefined) out.push({ what: `${path} = "NOT_A_VALID_VALUE" (enum ${s.enum.join('|')})`, value: 'NOT_A_VALID_VALUE', path });
        const okLength = (v: string): boolean => v.length >= (s.min ?? 0) && v.length <= (s.max ?? Infinity);
        if (s.min !== undefined && s.min >= 1) {
          const v = (Object.hasOwn(this.samples, name) ? String(this.samples[name]) : 'a'.repeat(s.min)).slice(0, s.min - 1);
          out.push({ what: `${path} of length ${s.min - 1} (min ${s.min})`, value: v, path });
        }
        if (s.max !== undefined && s.max <= 100_000) {
          const v = 'a'.repeat(s.max + 1);
          out.push({ what: `${path} of length ${s.max + 1} (max ${s.max})`, value: v, path });
        }
        if (s.pattern !== undefined) {
          const re = fullMatch(s.pattern);
          const n = Math.max(s.min ?? 0, 2);
          const candidate = ['!'.repeat(n), ' '.repeat(n), `A!${'a'.repeat(Math.max(n - 2, 0))}`].find((c) => okLength(c) && !re.test(c));
          assert.ok(candidate !== undefined, `no value violating ${s.pattern} within the length bounds of ${name}`);
          out.push({ what: `${path} = ${JSON.stringify(candidate)} (pattern ${s.pattern})`, value: candidate, path });
        }
        return out;
      }
      case 'integer':
      case 'long':
      case 'double':
      case 'float':
        if (s.min !== undefined) out.push({ what: `${path} = ${s.min - 1} (min ${s.min})`, value: s.min - 1, path });
        if (s.max !== undefined) out.push({ what: `${path} = ${s.max + 1} (max ${s.max})`, value: s.max + 1, path });
        return out;
      case 'blob':
        if (s.min !== undefined && s.min >= 1) out.push({ what: `${path} of ${s.min - 1} bytes (min ${s.min})`, value: Buffer.alloc(s.min - 1).toString('base64'), path });
        if (s.max !== undefined && s.max <= 1 << 20) out.push({ what: `${path} of ${s.max + 1} bytes (max ${s.max})`, value: Buffer.alloc(s.max + 1).toString('base64'), path });
        return out;
      case 'boolean':
      case 'timestamp':
        return out;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Static analysis: which exceptions each operation's code can throw

interface Thrown {
  exception: string;
  where: string;
}

interface Analysis {
  /** Operation -> what its handler (and the src/ecr helpers it reaches) can throw. */
  thrown: Map<string, Thrown[]>;
  /** `new EcrException(x)` / `new RegistryError(x)` whose x is not a string literal type. */
  unresolved: string[];
}

function analyseOperations(): Analysis {
  const dir = join(ROOT, 'src/ecr/operations');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const ecrDir = join(ROOT, 'src/ecr') + sep;
  // The protocol's own code is not an operation's: its errors are the common ones.
  const excluded = new Set([join(ROOT, 'src/ecr/protocol.ts'), join(ROOT, 'src/ecr/errors.ts')]);
  const inScope = (file: string): boolean => {
    const f = resolve(file);
    return f.startsWith(ecrDir) && !f.includes(`${sep}generated${sep}`) && !excluded.has(f);
  };
  const unresolved: string[] = [];
  const where = (n: ts.Node): string => {
    const sf = n.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(n.getStart());
    return `${relative(ROOT, sf.fileName)}:${line + 1}`;
  };
  const literals = (e: ts.Expression): string[] | undefined => {
    const type = checker.getTypeAtLocation(e);
    const parts = type.isUnion() ? type.types : [type];
    const out: string[] = [];
    for (const p of parts) {
      if (!p.isStringLiteral()) return undefined;
      out.push(p.value);
    }
    return out;
  };

  const bodies = new Map<ts.Node, Thrown[]>();
  const collect = (root: ts.Node, visiting: Set<ts.Node>): Thrown[] => {
    const cached = bodies.get(root);
    if (cached !== undefined) return cached;
    if (visiting.has(root)) return [];
    visiting.add(root);
    const out: Thrown[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && (n.expression.text === 'EcrException' || n.expression.text === 'RegistryError')) {
        const arg = n.arguments?.[0];
        const names = arg === undefined ? undefined : literals(arg);
        if (names === undefined) unresolved.push(`${where(n)}: new ${n.expression.text}(${arg?.getText() ?? ''})`);
        else if (n.expression.text === 'EcrException') for (const x of names) out.push({ exception: x, where: where(n) });
        else
          for (const code of names) {
            const m = (ERROR_CATALOG as Record<string, { ecr: string } | undefined>)[code];
            assert.ok(m !== undefined, `${where(n)}: RegistryError code ${code} is not in the catalog`);
            out.push({ exception: m.ecr, where: `${where(n)} (RegistryError ${code})` });
          }
      }
      if (ts.isIdentifier(n)) {
        let sym = checker.getSymbolAtLocation(n);
        if (sym !== undefined && (sym.flags & ts.SymbolFlags.Alias) !== 0) sym = checker.getAliasedSymbol(sym);
        for (const d of sym?.declarations ?? []) {
          if (!inScope(d.getSourceFile().fileName)) continue;
          let body: ts.Node | undefined;
          if (ts.isFunctionDeclaration(d) || ts.isMethodDeclaration(d) || ts.isArrowFunction(d) || ts.isFunctionExpression(d)) body = d.body;
          else if (ts.isVariableDeclaration(d) && d.initializer !== undefined && (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer))) body = d.initializer.body;
          if (body !== undefined && body !== root) out.push(...collect(body, visiting));
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(root);
    visiting.delete(root);
    bodies.set(root, out);
    return out;
  };

  const thrown = new Map<string, Thrown[]>();
  for (const file of files) {
    const sf = program.getSourceFile(file);
    assert.ok(sf !== undefined, file);
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'defineOperation') {
        const [name, handler] = n.arguments;
        assert.ok(name !== undefined && ts.isStringLiteral(name) && handler !== undefined, `${where(n)}: defineOperation('<Operation>', handler)`);
        thrown.set(name.text, [...(thrown.get(name.text) ?? []), ...collect(handler, new Set())]);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { thrown, unresolved };
}

/**
 * A second ECR endpoint over the test app's stores, with its own key resolver and operations: for what
 * the composed app cannot show (temporary credentials before berth has STS, the strict-mode switch).
 */
async function protocolServer(
  t: EcrTestApp,
  o: { verifier?: SigV4Verifier; operations?: ReadonlyArray<EcrOperation<OperationName>>; strictErrors: boolean },
): Promise<{ url: string; host: string; close: () => Promise<void> }> {
  const keyring = await loadKeyring({ configured: t.app.config.auth.masterKey, dataDir: t.dataDir, meta: t.app.meta });
  const verifier =
    o.verifier ??
    new SigV4Verifier({
      region: 'us-east-1',
      service: 'ecr',
      clockSkewSeconds: 900,
      resolve: async (id) => {
        const key = await t.app.meta.accessKeys.get(id);
        return key === undefined || id !== t.accessKeyId ? undefined : { secretAccessKey: t.secretAccessKey, principal: principalOf(key) };
      },
    });
  const http = buildHttp({
    log: t.app.log,
    api: true,
    lifecycle: { closing: false },
    ready: async () => {},
    oci: { registry: t.app.registry, authenticator: t.app.authenticator, authorizer: t.app.authorizer, region: 'us-east-1', realm: 'berth' },
    ecr: {
      registry: t.app.registry,
      meta: t.app.meta,
      jobs: t.app.jobs,
      scans: t.app.scans,
      proxy: t.app.proxy,
      replication: t.app.replication,
      authorizer: t.app.authorizer,
      keyring,
      verifier,
      region: 'us-east-1',
      publicUrl: t.url,
      tokenTtlSeconds: 43200,
      now: Date.now,
      log: t.app.log,
      operations: o.operations ?? OPERATION_HANDLERS,
      strictErrors: o.strictErrors,
    },
  });
  const url = await http.listen({ host: '127.0.0.1', port: 0 });
  return { url, host: url.replace(/^http:\/\//, ''), close: async () => await http.close() };
}

// ---------------------------------------------------------------------------------------------

describe('ECR JSON protocol', () => {
  let t: EcrTestApp;
  let gen: Generator;
  let accountId: string;

  before(async () => {
    t = await startEcrApp();
    accountId = t.app.boot.accountId;
    gen = new Generator(accountId);
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: KEPT_REPO }));
    await pushImage(t, KEPT_REPO, 'v1');
  });

  after(async () => {
    await t.close();
  });

  describe('routing by X-Amz-Target', () => {
    test('strict mode is on: an operation answering an unmodelled exception would fail the test', async () => {
      assert.equal(process.env.BERTH_STRICT_ERRORS, '1');
      // What strict mode does, with an operation that throws what its model does not list
      // (DescribeRegistry lists ServerException, InvalidParameterException, ValidationException).
      const rogue = [
        defineOperation('DescribeRegistry', async () => {
          throw new EcrException('RepositoryNotFoundException', 'not modelled for DescribeRegistry');
        }),
        defineOperation('DescribeRepositories', async () => {
          throw new RegistryError('ManifestUnknown', 'not modelled for DescribeRepositories');
        }),
      ] as ReadonlyArray<EcrOperation<OperationName>>;
      for (const strictErrors of [true, false]) {
        const srv = await protocolServer(t, { operations: rogue, strictErrors });
        try {
          const target = { url: srv.url, host: srv.host, accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey };
          const a = await raw(target, { op: 'DescribeRegistry' });
          const b = await raw(target, { op: 'DescribeRepositories' });
          if (strictErrors) {
            expectError(a, 'ServerException', 500, /berth bug: DescribeRegistry answered RepositoryNotFoundException/);
            expectError(b, 'ServerException', 500, /berth bug: DescribeRepositories answered ImageNotFoundException/);
          } else {
            expectError(a, 'RepositoryNotFoundException', 400);
            expectError(b, 'ImageNotFoundException', 400);
          }
        } finally {
          await srv.close();
        }
      }
    });

    test('no X-Amz-Target: UnknownOperationException, signed or not', async () => {
      expectError(await raw(t, { target: null }), 'UnknownOperationException', 400, /X-Amz-Target/);
      expectError(await raw(t, { target: null, sign: false }), 'UnknownOperationException', 400, /X-Amz-Target/);
    });

    test('a target of another service, an unknown operation, or the wrong case: UnknownOperationException', async () => {
      for (const target of [
        'DynamoDB_20120810.ListTables',
        'AmazonEC2ContainerRegistry_V20150922.DescribeRepositories',
        `${PREFIX}NoSuchOperation`,
        `${PREFIX}describeRepositories`,
        `${PREFIX}DESCRIBEREPOSITORIES`,
        PREFIX,
        METADATA.targetPrefix,
        'DescribeRepositories',
        `${PREFIX}Describe Repositories`,
        `${PREFIX}DescribeRepositories.extra`,
        `${PREFIX}__proto__`,
        `${PREFIX}constructor`,
        `${PREFIX}toString`,
        '',
      ]) {
        const r = await raw(t, { target });
        expectError(r, 'UnknownOperationException', 400);
      }
    });

    test('an operation of the model berth does not implement: UnknownOperationException naming it', async (tc) => {
      const missing = ALL_OPERATIONS.filter((op) => !IMPLEMENTED.has(op));
      if (missing.length === 0) {
        tc.skip('berth implements every operation of the model');
        return;
      }
      for (const op of missing) {
        const input = OPERATIONS[op].input === undefined ? {} : gen.valid(OPERATIONS[op].input ?? '');
        const r = await raw(t, { op, body: JSON.stringify(input) });
        expectError(r, 'UnknownOperationException', 400, op);
      }
    });

    test('a valid request through the SDK: 200, application/x-amz-json-1.1, x-amzn-RequestId', async () => {
      const out = await t.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [KEPT_REPO] }));
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.match(out.$metadata.requestId ?? '', /^[A-Za-z0-9._-]{8,}$/);
      assert.equal(out.repositories?.[0]?.repositoryName, KEPT_REPO);
      const doc = expectOk(await raw(t, { op: 'DescribeRepositories', body: JSON.stringify({ repositoryNames: [KEPT_REPO] }) })) as { repositories: Array<{ createdAt: unknown }> };
      assert.equal(typeof doc.repositories[0]?.createdAt, 'number', 'timestamps are epoch seconds');
    });

    test('every response has its own request id, and a client-sent X-Request-Id is not needed', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const ok = await raw(t, { op: 'DescribeRepositories' });
        const bad = await raw(t, { target: null });
        for (const r of [ok, bad]) ids.add(r.headers.get('x-amzn-requestid') ?? '');
      }
      assert.equal(ids.size, 10);
    });
  });

  describe('framing', () => {
    test('malformed JSON: SerializationException', async () => {
      for (const body of ['{', '{"repositoryNames":', 'not json', "{'a':1}", '{"a":1,}', '\u0000', Buffer.from([0xff, 0xfe, 0xfd]), '{"a":1}{"b":2}']) {
        expectError(await raw(t, { op: 'DescribeRepositories', body }), 'SerializationException', 400);
      }
    });

    test('a body that is not a JSON object: SerializationException', async () => {
      for (const body of ['[]', '[{}]', '"DescribeRepositories"', '42', 'null', 'true']) {
        expectError(await raw(t, { op: 'DescribeRepositories', body }), 'SerializationException', 400, /JSON object/);
      }
    });

    test('an empty body is an empty input', async () => {
      expectOk(await raw(t, { op: 'DescribeRepositories', body: '' }));
    });

    test('a wrong or missing Content-Type: SerializationException', async () => {
      for (const contentType of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/x-amz-json-1.2', 'application/octet-stream', null]) {
        expectError(await raw(t, { op: 'DescribeRepositories', contentType }), 'SerializationException', 400, /Content-Type/);
      }
    });

    test('the JSON content types AWS clients send are accepted', async () => {
      for (const contentType of ['application/x-amz-json-1.1', 'application/x-amz-json-1.1; charset=utf-8', 'application/x-amz-json-1.0', 'application/json', 'APPLICATION/X-AMZ-JSON-1.1']) {
        expectOk(await raw(t, { op: 'DescribeRepositories', contentType }));
      }
    });

    test('a body over the limit (32 MiB): SerializationException, and nothing changed', async () => {
      const before = state(t);
      const body = Buffer.alloc(32 * 1024 * 1024 + 1, 0x20);
      const r = await raw(t, { op: 'CreateRepository', body, sign: false });
      expectError(r, 'SerializationException', 400, /larger than/);
      assertUnchanged(t, before, 'a body over the limit');
      // A large body under the limit is read (whitespace around the JSON object).
      const big = Buffer.concat([Buffer.from('{"repositoryNames":["proto/keep"]}'), Buffer.alloc(4 * 1024 * 1024, 0x20)]);
      expectOk(await raw(t, { op: 'DescribeRepositories', body: big }));
    });

    test('members the model does not know are ignored, as AWS does', async () => {
      expectOk(await raw(t, { op: 'DescribeRepositories', body: JSON.stringify({ repositoryNames: [KEPT_REPO], notAMember: { x: 1 } }) }));
    });
  });

  describe('authentication over HTTP', () => {
    test('no authentication: MissingAuthenticationTokenException, HTTP 403', async () => {
      expectError(await raw(t, { op: 'DescribeRepositories', sign: false }), 'MissingAuthenticationTokenException', 403, /Missing Authentication Token/);
    });

    test('a malformed Authorization header: IncompleteSignatureException', async () => {
      for (const authorization of [
        t.auth,
        'Bearer abc',
        'AWS4-HMAC-SHA256',
        `AWS4-HMAC-SHA256 Credential=${t.accessKeyId}/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host`,
        `AWS4-HMAC-SHA256 Credential=${t.accessKeyId}/20260101/us-east-1/ecr, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
      ]) {
        expectError(await raw(t, { op: 'DescribeRepositories', sign: false, headers: { authorization } }), 'IncompleteSignatureException', 400);
      }
      // Signed, then the date header removed: the signature cannot be checked.
      expectError(await raw(t, { op: 'DescribeRepositories', tamper: { headers: { 'x-amz-date': undefined } } }), 'IncompleteSignatureException', 400, /X-Amz-Date/);
    });

    test('an unknown access key: UnrecognizedClientException (SDK and raw)', async () => {
      const c = t.client({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'whatever-whatever-whatever-whatever-whate' });
      try {
        await sdkRefused(c.send(new DescribeRepositoriesCommand({})), 'UnrecognizedClientException');
      } finally {
        c.destroy();
      }
      expectError(await raw(t, { op: 'DescribeRepositories', accessKeyId: 'AKIAUNKNOWNUNKNOWN00' }), 'UnrecognizedClientException', 400, /security token included in the request is invalid/);
    });

    test('a wrong secret: InvalidSignatureException', async () => {
      const c = t.client({ secretAccessKey: 'not-the-secret-not-the-secret-not-the-sec' });
      try {
        await sdkRefused(c.send(new DescribeRepositoriesCommand({})), 'InvalidSignatureException');
      } finally {
        c.destroy();
      }
    });

    test('signed for another region or another service: refused with InvalidSignatureException', async () => {
      const c = t.client({ region: 'eu-west-1' });
      try {
        await sdkRefused(c.send(new DescribeRepositoriesCommand({})), 'InvalidSignatureException');
      } finally {
        c.destroy();
      }
      expectError(await raw(t, { op: 'DescribeRepositories', region: 'us-west-2' }), 'InvalidSignatureException', 400, /region/);
      for (const service of ['ecr-public', 's3', 'sts', 'execute-api']) {
        expectError(await raw(t, { op: 'DescribeRepositories', service }), 'InvalidSignatureException', 400, /service/);
      }
    });

    test('a request signed more than 15 minutes ago or ahead: InvalidSignatureException; within: accepted', async () => {
      expectError(await raw(t, { op: 'DescribeRepositories', date: Date.now() - 16 * 60_000 }), 'InvalidSignatureException', 400, /Signature expired/);
      expectError(await raw(t, { op: 'DescribeRepositories', date: Date.now() + 16 * 60_000 }), 'InvalidSignatureException', 400, /not yet current/);
      expectOk(await raw(t, { op: 'DescribeRepositories', date: Date.now() - 14 * 60_000 }));
      expectOk(await raw(t, { op: 'DescribeRepositories', date: Date.now() + 14 * 60_000 }));
    });

    test('a tampered body is refused (InvalidSignatureException) and not acted on, however it was signed', async () => {
      for (const contentSha256 of [false, true]) {
        const before = state(t);
        const r = await raw(t, {
          op: 'CreateRepository',
          body: JSON.stringify({ repositoryName: 'proto/signed' }),
          contentSha256,
          tamper: { body: JSON.stringify({ repositoryName: 'proto/tampered' }) },
        });
        expectError(r, 'InvalidSignatureException', 400);
        assertUnchanged(t, before, `a tampered CreateRepository body (x-amz-content-sha256 ${contentSha256 ? 'signed' : 'absent'})`);
      }
      // A signed DeleteRepository of another repository with its body swapped for the kept one.
      const before = state(t);
      const r = await raw(t, {
        op: 'DeleteRepository',
        body: JSON.stringify({ repositoryName: 'proto/other' }),
        contentSha256: true,
        tamper: { body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }) },
      });
      expectError(r, 'InvalidSignatureException', 400);
      assertUnchanged(t, before, 'a tampered DeleteRepository body');
    });

    test('a tampered signed header (X-Amz-Target) is refused and not acted on', async () => {
      const before = state(t);
      const r = await raw(t, {
        op: 'DescribeRepositories',
        body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }),
        tamper: { headers: { 'x-amz-target': `${PREFIX}DeleteRepository` } },
      });
      expectError(r, 'InvalidSignatureException', 400);
      assertUnchanged(t, before, 'a request whose X-Amz-Target was changed after signing');
    });

    test('a tampered path or query is refused', async () => {
      expectError(await raw(t, { op: 'DescribeRepositories', url: `${t.url}/?x=1` }), 'InvalidSignatureException', 400);
    });

    test('a signed header that is absent is refused', async () => {
      expectError(await raw(t, { op: 'DescribeRepositories', headers: { 'x-extra-signed': 'v' }, tamper: { headers: { 'x-extra-signed': undefined } } }), 'InvalidSignatureException', 400, /x-extra-signed/);
    });

    test('an unsigned header added or changed after signing is accepted', async () => {
      expectOk(await raw(t, { op: 'DescribeRepositories', tamper: { headers: { 'user-agent': 'changed/1.0', 'x-forwarded-for': '203.0.113.1' } } }));
    });

    test('a session token with a long-term access key: UnrecognizedClientException', async () => {
      const c = t.client({ sessionToken: 'FwoGZXIvYXdzEXAMPLE' });
      try {
        await sdkRefused(c.send(new DescribeRepositoriesCommand({})), 'UnrecognizedClientException');
      } finally {
        c.destroy();
      }
    });

    test('a presigned request (query-string authentication) is accepted; expired, refused', async () => {
      const presign = async (date: number, expiresIn: number): Promise<Reply> => {
        const u = new URL(t.url);
        const signer = new SignatureV4({ credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, region: 'us-east-1', service: 'ecr', sha256: Hash.bind(null, 'sha256') });
        const body = JSON.stringify({ repositoryNames: [KEPT_REPO] });
        const headers = { host: t.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${PREFIX}DescribeRepositories` };
        const p = await signer.presign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', headers, body }), {
          signingDate: new Date(date),
          expiresIn,
          unhoistableHeaders: new Set(['x-amz-target']),
        });
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(p.query ?? {})) if (typeof v === 'string') qs.set(k, v);
        const sent: Record<string, string> = { ...p.headers };
        delete sent.host;
        return await toReply(await fetch(`${t.url}/?${qs.toString()}`, { method: 'POST', headers: sent, body }));
      };
      expectOk(await presign(Date.now(), 300));
      expectError(await presign(Date.now() - 600_000, 300), 'InvalidSignatureException', 400, /expired/);
    });

    test('temporary credentials: accepted with their token; missing or wrong token refused; expired: ExpiredTokenException', async () => {
      // A second server over the same stores, whose key resolver also knows two temporary
      // credentials (one expired), shows how the protocol answers them (test/iam/ has the same
      // through STS's AssumeRole).
      const digest = (s: string): string => createHash('sha256').update(s).digest('hex');
      const root = await t.app.meta.accessKeys.get(t.accessKeyId);
      assert.ok(root !== undefined);
      const temp = { id: 'ASIATEMPORARYTEMP000', secret: 'temporary-secret-temporary-secret-tempor', token: 'session-token-1' };
      const expired = { id: 'ASIAEXPIREDEXPIRED00', secret: 'expired-secret-expired-secret-expired-se', token: 'session-token-2' };
      const verifier = new SigV4Verifier({
        region: 'us-east-1',
        service: 'ecr',
        clockSkewSeconds: 900,
        resolve: async (id) => {
          if (id === temp.id) return { secretAccessKey: temp.secret, principal: principalOf(root), sessionTokenSha256: digest(temp.token), expiresAt: Date.now() + 3600_000 };
          if (id === expired.id) return { secretAccessKey: expired.secret, principal: principalOf(root), sessionTokenSha256: digest(expired.token), expiresAt: Date.now() - 1000 };
          return undefined;
        },
      });
      const srv = await protocolServer(t, { verifier, strictErrors: true });
      const address = srv.url;
      const other: Target = { url: address, host: srv.host, accessKeyId: temp.id, secretAccessKey: temp.secret };
      const client = (accessKeyId: string, secretAccessKey: string, sessionToken?: string): ECRClient =>
        new ECRClient({ endpoint: address, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }, maxAttempts: 1 });
      const clients: ECRClient[] = [];
      try {
        const ok = client(temp.id, temp.secret, temp.token);
        clients.push(ok);
        const out = await ok.send(new DescribeRepositoriesCommand({ repositoryNames: [KEPT_REPO] }));
        assert.equal(out.repositories?.[0]?.repositoryName, KEPT_REPO);
        const noToken = client(temp.id, temp.secret);
        const wrongToken = client(temp.id, temp.secret, 'another-token');
        const old = client(expired.id, expired.secret, expired.token);
        clients.push(noToken, wrongToken, old);
        await sdkRefused(noToken.send(new DescribeRepositoriesCommand({})), 'UnrecognizedClientException');
        await sdkRefused(wrongToken.send(new DescribeRepositoriesCommand({})), 'UnrecognizedClientException');
        await sdkRefused(old.send(new DescribeRepositoriesCommand({})), 'ExpiredTokenException');
        expectError(await raw(other, { op: 'DescribeRepositories', accessKeyId: expired.id, secretAccessKey: expired.secret, sessionToken: expired.token }), 'ExpiredTokenException', 400, /expired/);
        expectError(await raw(other, { op: 'DescribeRepositories' }), 'UnrecognizedClientException', 400);
      } finally {
        for (const c of clients) c.destroy();
        await srv.close();
      }
    });

    test('every refusal leaves the state as it was', async () => {
      const before = state(t);
      await raw(t, { op: 'DeleteRepository', body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }), sign: false });
      await raw(t, { op: 'DeleteRepository', body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }), region: 'eu-west-1' });
      await raw(t, { op: 'DeleteRepository', body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }), service: 's3' });
      await raw(t, { op: 'DeleteRepository', body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }), date: Date.now() - 3600_000 });
      await raw(t, { op: 'DeleteRepository', body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }), secretAccessKey: 'wrong' });
      await raw(t, { op: 'DeleteRepository', body: JSON.stringify({ repositoryName: KEPT_REPO, force: true }), sessionToken: 'x' });
      await raw(t, { op: 'CreateRepository', body: JSON.stringify({ repositoryName: 'proto/never' }), contentType: 'text/plain' });
      assertUnchanged(t, before, 'refused DeleteRepository and CreateRepository requests');
    });
  });

  describe('input validation, generated from the model', () => {
    test('the generator makes valid inputs and its samples satisfy the model', async () => {
      const { validateShape } = await import('../../src/aws/validate.ts');
      for (const op of ALL_OPERATIONS) {
        const shape = OPERATIONS[op].input;
        if (shape === undefined) continue;
        assert.equal(validateShape(SHAPES, shape, gen.valid(shape)), null, `${op}: generated input`);
      }
    });

    for (const op of ALL_OPERATIONS) {
      const implemented = IMPLEMENTED.has(op);
      test(`${op}${implemented ? '' : ' (not implemented)'}: each missing required member and each enum, pattern, length and range violation answers ${validationExceptionOf(op)} and changes nothing`, async () => {
        const shape = OPERATIONS[op].input;
        if (shape === undefined) return;
        const expected = validationExceptionOf(op);
        assert.ok(OPERATIONS[op].errors.includes(expected), `${op}'s model lists ${expected}`);
        const cases = gen.invalid(shape, '');
        const before = state(t);
        const failures: string[] = [];
        for (const c of cases) {
          const r = await raw(t, { op, body: JSON.stringify(c.value) });
          try {
            expectError(r, expected, 400, `'${c.path}'`);
            assert.match(r.text, /failed to satisfy constraint/);
          } catch (e) {
            failures.push(`${c.what}: ${(e as Error).message.split('\n')[0] ?? ''}`);
          }
        }
        assert.deepEqual(failures, [], `${op}: ${failures.length} of ${cases.length} invalid inputs were not refused as modelled:\n${failures.join('\n')}`);
        assertUnchanged(t, before, `${cases.length} invalid ${op} requests`);
      });
    }

    test('maxResults bounds (1..1000) and a nextToken that is not a token, through the SDK', async () => {
      for (const maxResults of [0, 1001]) {
        await sdkRefused(t.ecr.send(new DescribeRepositoriesCommand({ maxResults })), 'InvalidParameterException');
      }
      await sdkRefused(t.ecr.send(new DescribeRepositoriesCommand({ nextToken: 'not-a-token' })), 'InvalidParameterException');
      const ok = await t.ecr.send(new DescribeRepositoriesCommand({ maxResults: 1000 }));
      assert.ok((ok.repositories ?? []).length >= 1);
    });
  });

  describe('modelled exceptions', () => {
    test('statically: every exception an operation can throw is in its model entry (or common to every AWS JSON API)', (tc) => {
      const { thrown, unresolved } = analyseOperations();
      for (const [op, list] of [...thrown].sort((a, b) => a[0].localeCompare(b[0]))) tc.diagnostic(`${op}: ${[...new Set(list.map((x) => x.exception))].sort().join(', ') || '-'}`);
      const problems: string[] = [];
      for (const name of IMPLEMENTED) {
        if (!thrown.has(name)) problems.push(`${name}: no defineOperation('${name}', ...) found in src/ecr/operations/*.ts`);
      }
      for (const [op, list] of thrown) {
        if (!Object.hasOwn(OPERATIONS, op)) {
          problems.push(`${op}: not an operation of the ECR model`);
          continue;
        }
        const allowed = new Set([...OPERATIONS[op as OperationName].errors, ...COMMON_EXCEPTIONS]);
        for (const x of list) {
          if (!allowed.has(x.exception)) problems.push(`${op} can throw ${x.exception} (${x.where}); its model lists ${OPERATIONS[op as OperationName].errors.join(', ')}`);
          const s = SHAPES[x.exception];
          if (!COMMON_EXCEPTIONS.has(x.exception) && (s?.type !== 'structure' || s.exception !== true)) problems.push(`${x.where}: ${x.exception} is not an exception of the ECR model`);
        }
      }
      assert.deepEqual(unresolved, [], `exception names that are not string literals cannot be checked statically:\n${unresolved.join('\n')}`);
      assert.deepEqual(problems, [], problems.join('\n'));
    });

    test('every ECR name of the error catalog is an exception of the model or common', () => {
      for (const [code, m] of Object.entries(ERROR_CATALOG) as Array<[ErrorCode, { ecr: string }]>) {
        const s = SHAPES[m.ecr];
        assert.ok(COMMON_EXCEPTIONS.has(m.ecr) || (s?.type === 'structure' && s.exception === true), `${code} -> ${m.ecr}`);
      }
    });
  });
});
