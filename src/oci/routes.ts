// The OCI Distribution API (/v2/): authentication, authorization and the endpoints of
// distribution-spec 1.1. Handlers throw RegistryError; the one error handler renders it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { parseDigest } from '../core/digest.ts';
import { MAX_MANIFEST_BYTES } from '../core/manifest.ts';
import { MT } from '../core/media-types.ts';
import { validateRepositoryName } from '../core/names.ts';
import type { RateLimiter } from '../core/throttle.ts';
import { callerArns, DOWNLOAD_TOKEN_PARAM, OCI_ACTIONS, readDownloadToken, repositoryArn, requestFacts, type Authenticator, type Authorizer, type Keyring, type OciOperation, type Principal, type RequestFacts } from '../auth/index.ts';
import type { ChunkOptions, Registry } from '../registry/index.ts';
import type { Repository } from '../meta/index.ts';
import type { Match, PullThroughCache } from '../proxy/service.ts';
import { quarantineMessage, type Quarantine } from '../scan/quarantine.ts';
import { toCycloneDx, toSpdx } from '../scan/sbom.ts';
import type { ScanService } from '../scan/service.ts';
import type { Inventory } from '../scan/types.ts';
import { ALLOWED_METHODS, matchRoute, splitUrl, type OciRoute } from './router.ts';
import { parseContentLength, parseContentRange, parsePageSize, parseRangeHeader, readBody } from './http-util.ts';
import { renderOciError } from './errors.ts';

export interface OciDeps {
  registry: Registry;
  authenticator: Authenticator;
  authorizer: Authorizer;
  region: string;
  /** The realm named in the Basic challenge. */
  realm: string;
  /** When set, blob GETs are answered with a redirect to a presigned URL valid this long. */
  redirectSeconds?: number;
  /** Checks the download tokens of GetDownloadUrlForLayer's URLs (without it, such URLs are refused). */
  keyring?: Keyring;
  /**
   * The account that requests without credentials address (the deployment's default account): they
   * get what its repository policies grant to `Principal: "*"` and a challenge for everything else.
   * Without it, every request needs credentials.
   */
  anonymousAccountId?: string;
  /** Per-account request rates (ECR's quotas, by the action each request needs); none: unlimited. */
  limiter?: RateLimiter;
  now?: () => number;
  /** Refuses pulls of images whose findings reach the quarantine threshold (none: no quarantine). */
  quarantine?: Quarantine;
  /** Scans, for berth's SBOM endpoint (none: the endpoint answers 404). */
  scans?: ScanService;
  /** The pull-through cache (none: no rules apply). */
  proxy?: PullThroughCache;
}

const DEFAULT_PAGE = 1000;
const MAX_PAGE = 10_000;

/**
 * The repository of a pull and the pull-through cache rule it falls under; under a rule, a
 * repository that does not exist yet is `create`d once the upstream gave the image.
 */
export interface Pull {
  repo: Repository | undefined;
  match: Match | undefined;
  /** Authorizes a fetch from upstream (ecr:BatchImportUpstreamImage). */
  mayImport: () => Promise<void>;
  create?: () => Promise<Repository>;
}

/** What serving a blob needs of a request. */
type BlobCall = Pick<Call, 'req' | 'reply' | 'raw' | 'method'>;

interface Call {
  req: FastifyRequest;
  reply: FastifyReply;
  raw: IncomingMessage;
  method: string;
  query: URLSearchParams;
  /** null: a request without credentials, allowed only what resource policies grant everyone. */
  principal: Principal | null;
  accountId: string;
  /** The request's facts for the authorizer, made once: what it reads is kept for the request's other actions. */
  facts: RequestFacts;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the OCI routes for the access log. */
    berth?: { op?: string; repository?: string; principal?: string };
  }
}

function header(raw: IncomingMessage, name: string): string | undefined {
  const v = raw.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The chunk a PATCH (or a completing PUT) carries: Content-Range and Content-Length, which must agree. */
function chunkOptions(raw: IncomingMessage): ChunkOptions {
  const cr = parseContentRange(header(raw, 'content-range'));
  const length = parseContentLength(header(raw, 'content-length'));
  if (cr !== undefined && length !== undefined && cr.end - cr.start + 1 !== length) {
    throw new RegistryError('BlobUploadInvalid', `Content-Range ${cr.start}-${cr.end} spans ${cr.end - cr.start + 1} bytes but Content-Length is ${length}`);
  }
  const opts: ChunkOptions = {};
  if (cr !== undefined) opts.start = cr.start;
  if (length !== undefined) opts.length = length;
  return opts;
}

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function rangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

/**
 * Whether a request without credentials goes on to the policies: only to a repository of a valid
 * name (with a valid digest where one is named). Anything else is challenged before it is looked
 * at, so that nothing about the registry is told to a caller who has not signed in.
 */
function anonymousMayTry(route: OciRoute): boolean {
  if (route.kind === 'base' || route.kind === 'catalog') return false;
  try {
    validateRepositoryName(route.name);
    if (route.kind === 'blob' || route.kind === 'referrers') parseDigest(route.digest);
    if (route.kind === 'manifest' && route.reference.includes(':')) parseDigest(route.reference);
  } catch {
    return false;
  }
  return true;
}

export async function ociPlugin(app: FastifyInstance, deps: OciDeps): Promise<void> {
  const { registry } = deps;

  // Bodies are streamed by the handlers themselves: blobs of any size, manifests with a 4 MiB cap.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.setErrorHandler((err, req, reply) => renderOciError(err, req, reply, deps.realm));
  app.setNotFoundHandler((req, reply) => renderOciError(new RegistryError('NotFound', `no such endpoint: ${req.method} ${req.url.split('?')[0] ?? ''}`), req, reply, deps.realm));

  app.addHook('onRequest', async (_req, reply) => {
    void reply.header('Docker-Distribution-API-Version', 'registry/2.0');
  });

  async function authorize(call: Call, op: OciOperation, repoName: string): Promise<void> {
    const arn = repositoryArn(deps.region, call.accountId, repoName);
    for (const action of OCI_ACTIONS[op]) {
      const allowed = deps.limiter?.take(call.principal?.accountId ?? call.accountId, action.slice('ecr:'.length));
      if (allowed !== undefined && !allowed.ok) {
        throw new RegistryError('TooManyRequests', `too many ${action} requests for account ${call.principal?.accountId ?? call.accountId}: retry in ${allowed.retryAfterSeconds} s`, undefined, { 'Retry-After': String(allowed.retryAfterSeconds) });
      }
      const d = await deps.authorizer.authorize(call.principal, action, { arn, accountId: call.accountId }, call.facts);
      // Without credentials, a refusal is a challenge: the client may have credentials to send.
      if (!d.allowed && call.principal === null) throw new RegistryError('Unauthorized', 'authentication required');
      if (!d.allowed) throw new RegistryError('Denied', d.reason, { action, resource: arn });
    }
  }

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const raw = req.raw;
    const parts = splitUrl(raw.url ?? '/');
    if (parts === null) throw new RegistryError('BadRequest', 'the request path is not valid percent-encoding');
    const route = matchRoute(parts.path);
    if (route === null) throw new RegistryError('NotFound', `no such endpoint: ${req.method} ${parts.path.slice(0, 300)}`);
    const method = req.method;
    if (!ALLOWED_METHODS[route.kind].includes(method)) {
      throw new RegistryError('Unsupported', `${method} is not supported on this endpoint`, undefined, { Allow: ALLOWED_METHODS[route.kind].join(', ') });
    }
    if (route.kind === 'blob' && (method === 'GET' || method === 'HEAD')) {
      const token = parts.query.get(DOWNLOAD_TOKEN_PARAM);
      if (token !== null) return await tokenDownload({ req, reply, raw, method }, route.name, route.digest, token);
    }
    const principal = await deps.authenticator.authenticate({ headers: raw.headers });
    if (principal === null && (deps.anonymousAccountId === undefined || !anonymousMayTry(route))) {
      throw new RegistryError('Unauthorized', 'authentication required');
    }
    req.berth = { principal: principal?.arn ?? 'anonymous' };
    const call: Call = { req, reply, raw, method, query: parts.query, principal, accountId: principal?.registryId ?? principal?.accountId ?? (deps.anonymousAccountId as string), facts: requestFacts(req) };
    await dispatch(call, route);
  };

  async function dispatch(call: Call, route: OciRoute): Promise<void> {
    const { reply, method } = call;
    switch (route.kind) {
      case 'base':
        call.req.berth = { ...call.req.berth, op: 'base' };
        await reply.header('Content-Type', 'application/json').send('{}');
        return;
      case 'catalog':
        return await catalog(call);
      case 'manifest':
        if (method === 'PUT') return await putManifest(call, route.name, route.reference);
        if (method === 'DELETE') return await deleteManifest(call, route.name, route.reference);
        return await getManifest(call, route.name, route.reference);
      case 'blob':
        if (method === 'DELETE') return await deleteBlob(call, route.name, route.digest);
        return await getBlob(call, route.name, route.digest);
      case 'uploads':
        return await startUpload(call, route.name);
      case 'upload':
        if (method === 'PATCH') return await patchUpload(call, route.name, route.id);
        if (method === 'PUT') return await completeUpload(call, route.name, route.id);
        if (method === 'DELETE') return await cancelUpload(call, route.name, route.id);
        return await uploadStatus(call, route.name, route.id);
      case 'tags':
        return await listTags(call, route.name);
      case 'referrers':
        return await referrers(call, route.name, route.digest);
      case 'sbom':
        return await sbom(call, route.name, route.reference);
    }
  }

  /** Validates the name, checks the caller may perform `op` on it, and looks the repository up. */
  /** Validates the name and checks the caller may perform `op` on it. */
  async function authorized(call: Call, name: string, op: OciOperation): Promise<void> {
    validateRepositoryName(name);
    call.req.berth = { ...call.req.berth, op, repository: name };
    await authorize(call, op, name);
  }

  async function repository(call: Call, name: string, op: OciOperation, create = false): Promise<Repository> {
    await authorized(call, name, op);
    if (!create) return await registry.repositories.get(call.accountId, name);
    await mayCreate(call, name);
    return await registry.repositories.getOrCreate(call.accountId, name);
  }

  /**
   * A push that would create the repository (a CREATE_ON_PUSH template matches its name) needs
   * ecr:CreateRepository as well, as in ECR: PowerUser pushes to existing repositories only.
   */
  async function mayCreate(call: Call, name: string): Promise<void> {
    if ((await registry.repositories.find(call.accountId, name)) !== undefined) return;
    await mayAct(call, 'ecr:CreateRepository', name);
  }

  /** Authorizes one action beyond the request's own on the repository. */
  async function mayAct(call: Call, action: string, name: string): Promise<void> {
    const arn = repositoryArn(deps.region, call.accountId, name);
    const d = await deps.authorizer.authorize(call.principal, action, { arn, accountId: call.accountId }, call.facts);
    if (!d.allowed && call.principal === null) throw new RegistryError('Unauthorized', 'authentication required');
    if (!d.allowed) throw new RegistryError('Denied', d.reason, { action, resource: arn });
  }

  /**
   * The repository of a pull, with the pull-through cache rule it falls under. Under a rule a pull
   * of a repository that does not exist yet creates it, which needs ecr:CreateRepository and
   * ecr:BatchImportUpstreamImage, as in ECR (the latter also for every fetch from upstream).
   */
  async function pullRepository(call: Call, name: string, op: OciOperation): Promise<Pull> {
    await authorized(call, name, op);
    const match = deps.proxy === undefined ? undefined : await deps.proxy.match(call.accountId, name);
    const mayImport = async (): Promise<void> => await mayAct(call, 'ecr:BatchImportUpstreamImage', name);
    const existing = await registry.repositories.find(call.accountId, name);
    if (existing !== undefined || match === undefined) return { repo: existing ?? (await registry.repositories.get(call.accountId, name)), match, mayImport };
    await mayImport();
    await mayAct(call, 'ecr:CreateRepository', name);
    // Created once the upstream has given the image: a pull of something it lacks leaves nothing.
    return { repo: undefined, match, mayImport, create: async () => await registry.repositories.getOrCreate(call.accountId, name, 'PULL_THROUGH_CACHE') };
  }

  async function catalog(call: Call): Promise<void> {
    call.req.berth = { ...call.req.berth, op: 'catalog' };
    await authorize(call, 'catalog', '*');
    const n = parsePageSize(call.query.get('n'), DEFAULT_PAGE, MAX_PAGE);
    const last = call.query.get('last') ?? undefined;
    const names = n === 0 ? [] : await registry.repositories.list(call.accountId, n + 1, last);
    const more = names.length > n;
    const page = names.slice(0, n);
    if (more) void call.reply.header('Link', `</v2/_catalog?n=${n}&last=${encodeURIComponent(page[page.length - 1] ?? '')}>; rel="next"`);
    await call.reply.header('Content-Type', 'application/json').send(JSON.stringify({ repositories: page }));
  }

  async function listTags(call: Call, name: string): Promise<void> {
    const repo = await repository(call, name, 'tags.list');
    const n = parsePageSize(call.query.get('n'), DEFAULT_PAGE, MAX_PAGE);
    const last = call.query.get('last') ?? undefined;
    const tags = n === 0 ? [] : await registry.manifests.listTags(repo, n + 1, last);
    const more = tags.length > n;
    const page = tags.slice(0, n);
    if (more) void call.reply.header('Link', `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1] ?? '')}>; rel="next"`);
    await call.reply.header('Content-Type', 'application/json').send(JSON.stringify({ name, tags: page }));
  }

  async function notQuarantined(repo: Repository, digest: string): Promise<void> {
    const v = await deps.quarantine?.verdict(repo, digest);
    if (v !== undefined) throw new RegistryError('Denied', quarantineMessage(repo, digest, v), { quarantined: digest, findings: v.names });
  }

  async function getManifest(call: Call, name: string, reference: string): Promise<void> {
    const pull = await pullRepository(call, name, 'manifest.get');
    const etagOf = (digest: string): string => `"${digest}"`;
    const fetched = pull.match === undefined || deps.proxy === undefined ? undefined : await deps.proxy.manifest(pull, pull.match, reference);
    if (fetched !== undefined) {
      // From upstream (not cached yet, or the tag moved there): answered as received.
      void call.reply.headers({ 'Content-Type': fetched.mediaType, 'Content-Length': String(fetched.body.length), 'Docker-Content-Digest': fetched.digest, ETag: etagOf(fetched.digest) });
      await (call.method === 'HEAD' ? call.reply.send() : call.reply.send(fetched.body));
      return;
    }
    const repo = pull.repo ?? (await registry.repositories.get(call.accountId, name));
    if (call.method === 'HEAD') {
      const m = await registry.manifests.head(repo, reference);
      await notQuarantined(repo, m.digest);
      await call.reply
        .headers({ 'Content-Type': m.mediaType, 'Content-Length': String(m.size), 'Docker-Content-Digest': m.digest, ETag: etagOf(m.digest) })
        .send();
      return;
    }
    const m = await registry.manifests.get(repo, reference, callerArns(call.principal));
    await notQuarantined(repo, m.digest);
    const inm = header(call.raw, 'if-none-match');
    void call.reply.headers({ 'Docker-Content-Digest': m.digest, ETag: etagOf(m.digest) });
    if (inm !== undefined && inm.split(',').some((t) => t.trim() === etagOf(m.digest))) {
      await call.reply.code(304).send();
      return;
    }
    await call.reply.headers({ 'Content-Type': m.mediaType, 'Content-Length': String(m.size) }).send(m.body);
  }

  async function putManifest(call: Call, name: string, reference: string): Promise<void> {
    await authorized(call, name, 'manifest.put');
    await mayCreate(call, name);
    const body = await readBody(call.raw, MAX_MANIFEST_BYTES, () => new RegistryError('ManifestTooLarge', `manifest is larger than the limit of ${MAX_MANIFEST_BYTES} bytes`));
    const r = await registry.manifests.put({ accountId: call.accountId, name }, reference, body, header(call.raw, 'content-type'));
    void call.reply.headers({ Location: `/v2/${name}/manifests/${r.digest}`, 'Docker-Content-Digest': r.digest, 'Content-Length': '0' });
    if (r.subject !== undefined) void call.reply.header('OCI-Subject', r.subject);
    await call.reply.code(201).send();
  }

  async function deleteManifest(call: Call, name: string, reference: string): Promise<void> {
    const repo = await repository(call, name, 'manifest.delete');
    await registry.manifests.delete(repo, reference);
    await call.reply.code(202).header('Content-Length', '0').send();
  }

  async function getBlob(call: Call, name: string, digest: string): Promise<void> {
    const pull = await pullRepository(call, name, 'blob.get');
    const { match, mayImport } = pull;
    // A blob asked for before any manifest of the repository (clients fetch manifests first).
    const repo = pull.repo ?? (await (pull.create as () => Promise<Repository>)());
    if (match !== undefined && deps.proxy !== undefined) {
      parseDigest(digest);
      const cached = await registry.blobs.stat(repo, digest).then(
        () => true,
        (e: unknown) => {
          if (isRegistryError(e) && e.code === 'BlobUnknown') return false;
          throw e;
        },
      );
      if (!cached) {
        const common = { 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', ETag: `"${digest}"` };
        if (call.method === 'HEAD') {
          const size = await deps.proxy.statBlob(match, digest, mayImport);
          if (size === undefined) throw new RegistryError('BlobUnknown', `blob ${digest} is not in the upstream repository`, { digest });
          await call.reply.headers({ ...common, 'Content-Length': String(size) }).send();
          return;
        }
        const fromUpstream = await deps.proxy.blob(repo, match, digest, mayImport);
        if (fromUpstream !== undefined) {
          // Streamed from upstream while it is stored; a digest mismatch cuts the response short.
          await call.reply.headers({ ...common, ...(fromUpstream.size !== undefined ? { 'Content-Length': String(fromUpstream.size) } : {}) }).send(fromUpstream.stream);
          return;
        }
      }
    }
    await sendBlob(call, repo, digest);
  }

  /**
   * A blob GET or HEAD with a download token (a URL from GetDownloadUrlForLayer) instead of
   * credentials: the token alone grants this one blob of its repository until it expires.
   */
  async function tokenDownload(call: BlobCall, name: string, digest: string, token: string): Promise<void> {
    call.req.berth = { op: 'blob.get', repository: name };
    if (deps.keyring === undefined) throw new RegistryError('Unauthorized', 'download tokens are not accepted by this server');
    const grant = readDownloadToken(deps.keyring, token, (deps.now ?? Date.now)(), { repository: name, digest });
    call.req.berth = { ...call.req.berth, principal: grant.issuedTo };
    await sendBlob(call, await registry.repositories.get(grant.accountId, name), digest);
  }

  /** Answers a blob GET (ranges, or a redirect to the store) or HEAD from the repository. */
  async function sendBlob(call: BlobCall, repo: Repository, digest: string): Promise<void> {
    parseDigest(digest);
    const common = { 'Docker-Content-Digest': digest, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', ETag: `"${digest}"`, 'Cache-Control': 'max-age=31536000' };
    if (call.method === 'HEAD') {
      const info = await registry.blobs.stat(repo, digest);
      await call.reply.headers({ ...common, 'Content-Length': String(info.size) }).send();
      return;
    }
    const info = await registry.blobs.stat(repo, digest);
    if (deps.redirectSeconds !== undefined) {
      // The bytes come from the object store itself; the client follows the redirect (with its Range).
      const url = await registry.blobs.presign(digest, deps.redirectSeconds);
      if (url !== null) {
        await call.reply.code(307).headers({ Location: url, 'Docker-Content-Digest': digest, 'Content-Length': '0', 'Cache-Control': 'no-store' }).send();
        return;
      }
    }
    const range = parseRangeHeader(header(call.raw, 'range'), info.size);
    const status = range === null ? 200 : 206;
    const headers: Record<string, string> = { ...common, 'Content-Length': String(range === null ? info.size : range.end - range.start + 1) };
    if (range !== null) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    // The bytes go straight to the socket through reused buffers (see FsDriver.copyTo).
    const res = call.reply.raw;
    let started = false;
    try {
      await registry.blobs.copyTo(repo, digest, res, range ?? undefined, () => {
        started = true;
        call.reply.hijack();
        // Hijacked: the onSend hooks do not run, so the headers they would add are merged here.
        const shutdown = call.req.server.server.listening ? {} : { Connection: 'close' };
        res.writeHead(status, { ...(call.reply.getHeaders() as Record<string, string>), ...headers, ...shutdown });
      });
    } catch (e) {
      if (!started) throw e;
      call.req.log.warn({ err: e, digest }, 'blob download interrupted');
      res.destroy();
      return;
    }
    res.end();
  }

  async function deleteBlob(call: Call, name: string, digest: string): Promise<void> {
    const repo = await repository(call, name, 'blob.delete');
    await registry.blobs.delete(repo, digest);
    await call.reply.code(202).header('Content-Length', '0').send();
  }

  async function startUpload(call: Call, name: string): Promise<void> {
    const mount = call.query.get('mount');
    const from = call.query.get('from');
    const digest = call.query.get('digest');
    // Parameters first: a refused request creates no repository.
    if (digest !== null) parseDigest(digest);
    if (mount !== null && from !== null && from !== '') {
      parseDigest(mount);
      const repo = await repository(call, name, 'upload.mount', true);
      const mounted = await tryMount(call, repo, mount, from);
      if (mounted) {
        await call.reply.code(201).headers({ Location: `/v2/${name}/blobs/${mount}`, 'Docker-Content-Digest': mount, 'Content-Length': '0' }).send();
        return;
      }
    }
    const repo = await repository(call, name, 'upload.start', true);
    if (digest !== null) {
      // Single-request monolithic upload: POST ?digest= with the blob as body.
      const length = parseContentLength(header(call.raw, 'content-length'));
      const info = await registry.uploads.monolithic(repo, digest, call.raw, length === undefined ? {} : { length });
      await call.reply.code(201).headers({ Location: `/v2/${name}/blobs/${info.digest}`, 'Docker-Content-Digest': info.digest, 'Content-Length': '0' }).send();
      return;
    }
    const { id } = await registry.uploads.start(repo);
    await call.reply
      .code(202)
      .headers({ Location: uploadLocation(name, id), Range: '0-0', 'Docker-Upload-UUID': id, 'Content-Length': '0' })
      .send();
  }

  async function tryMount(call: Call, repo: Repository, digest: string, fromName: string): Promise<boolean> {
    // The account's BLOB_MOUNTING setting (PutAccountSetting) DISABLED: no mount; the client uploads instead.
    if (!(await registry.repositories.blobMountingEnabled(call.accountId))) return false;
    try {
      validateRepositoryName(fromName);
    } catch {
      return false;
    }
    // Mounting reads the source repository: the caller needs read access there too.
    const arn = repositoryArn(deps.region, call.accountId, fromName);
    for (const action of OCI_ACTIONS['blob.get']) {
      const d = await deps.authorizer.authorize(call.principal, action, { arn, accountId: call.accountId }, call.facts);
      if (!d.allowed) return false;
    }
    const from = await registry.repositories.find(call.accountId, fromName);
    if (from === undefined) return false;
    // As ECR: only between repositories with the same encryption configuration.
    if (from.settings.encryptionType !== repo.settings.encryptionType || from.settings.kmsKey !== repo.settings.kmsKey) return false;
    return (await registry.blobs.mount(repo, digest, from)) !== null;
  }

  async function uploadStatus(call: Call, name: string, id: string): Promise<void> {
    const repo = await repository(call, name, 'upload.status');
    const size = await registry.uploads.size(repo, id);
    await call.reply
      .code(204)
      .headers({ Location: uploadLocation(name, id), Range: rangeHeader(size), 'Docker-Upload-UUID': id })
      .send();
  }

  async function patchUpload(call: Call, name: string, id: string): Promise<void> {
    const repo = await repository(call, name, 'upload.chunk');
    const size = await registry.uploads.append(repo, id, call.raw, chunkOptions(call.raw));
    await call.reply
      .code(202)
      .headers({ Location: uploadLocation(name, id), Range: rangeHeader(size), 'Docker-Upload-UUID': id, 'Content-Length': '0' })
      .send();
  }

  async function completeUpload(call: Call, name: string, id: string): Promise<void> {
    const repo = await repository(call, name, 'upload.complete');
    const digest = call.query.get('digest') ?? undefined;
    const opts = chunkOptions(call.raw);
    const hasBody = header(call.raw, 'transfer-encoding') !== undefined || (opts.length !== undefined && opts.length > 0);
    const info = await registry.uploads.complete(repo, id, digest, hasBody ? call.raw : undefined, opts);
    await call.reply.code(201).headers({ Location: `/v2/${name}/blobs/${info.digest}`, 'Docker-Content-Digest': info.digest, 'Content-Length': '0' }).send();
  }

  async function cancelUpload(call: Call, name: string, id: string): Promise<void> {
    const repo = await repository(call, name, 'upload.cancel');
    await registry.uploads.cancel(repo, id);
    await call.reply.code(204).send();
  }

  async function referrers(call: Call, name: string, digest: string): Promise<void> {
    const repo = await repository(call, name, 'referrers.list');
    const artifactType = call.query.get('artifactType') ?? undefined;
    const index = await registry.manifests.referrers(repo, digest, artifactType === '' ? undefined : artifactType);
    if (artifactType !== undefined && artifactType !== '') void call.reply.header('OCI-Filters-Applied', 'artifactType');
    // A Buffer, so that Fastify adds no charset parameter to the media type.
    await call.reply.header('Content-Type', MT.ociIndex).send(Buffer.from(JSON.stringify(index)));
  }

  /** GET /v2/<name>/_berth/sbom/<reference>?format=cyclonedx|spdx: the inventory of the image's last completed scan. */
  async function sbom(call: Call, name: string, reference: string): Promise<void> {
    const repo = await repository(call, name, 'sbom.get');
    const format = call.query.get('format') ?? 'cyclonedx';
    if (format !== 'cyclonedx' && format !== 'spdx') throw new RegistryError('BadRequest', `format must be cyclonedx or spdx, not "${format.slice(0, 50)}"`);
    const m = await registry.manifests.head(repo, reference);
    const scan = await deps.scans?.get(repo, m.digest);
    if (scan?.status !== 'COMPLETE' || scan.inventory === null) throw new RegistryError('ManifestUnknown', `image ${m.digest} in repository ${name} has no completed scan to describe`, { digest: m.digest });
    const image = { repository: name, digest: m.digest, ...(reference.includes(':') ? {} : { tags: [reference] }) };
    const doc = format === 'spdx' ? toSpdx(image, scan.inventory as Inventory) : toCycloneDx(image, scan.inventory as Inventory);
    await call.reply.header('Content-Type', format === 'spdx' ? 'application/spdx+json' : 'application/vnd.cyclonedx+json').send(Buffer.from(JSON.stringify(doc)));
  }

  // Every standard method reaches the handler, so that the ones an endpoint lacks get 405 with Allow.
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];
  app.route({ method: methods, url: '/v2', exposeHeadRoute: false, handler });
  app.route({ method: methods, url: '/v2/*', exposeHeadRoute: false, handler });
}
