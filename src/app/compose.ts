// The composition root: the one place that reads the configuration and chooses implementations
// (filesystem or S3, SQLite or PostgreSQL, embedded or distributed jobs). Everything else receives
// what it needs as arguments.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { BasicAuthenticator, PolicyAuthorizer, keyPrincipal, loadKeyring, principalOfSession, SigV4Verifier, type Authorizer, type Keyring, type ResolvedKey } from '../auth/index.ts';
import { handleQuery, isQueryRequest, WebIdentityVerifier, type QueryDeps } from '../iam/index.ts';
import { OPERATION_HANDLERS, type EcrProtocolDeps } from '../ecr/index.ts';
import { LocalBus, PostgresBus, type Bus } from '../cluster/index.ts';
import { SqlJobQueue, type JobQueue } from '../jobs/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { Registry } from '../registry/index.ts';
import { ScanService, type ScanJob } from '../scan/service.ts';
import { Quarantine } from '../scan/quarantine.ts';
import { PullThroughCache, type ImportJob } from '../proxy/service.ts';
import { parseDestinations, Replication, REPLICATION_MAX_ATTEMPTS, type ReplicationJob } from '../replication/index.ts';
import { matchRoute, splitUrl } from '../oci/index.ts';
import { syncSources } from '../scan/vulndb.ts';
import { parseRates, RateLimiter } from '../core/throttle.ts';
import { BlobStore, SegmentedUploadStore, UploadStore, type StorageDriver, type UploadStorage } from '../storage/index.ts';
import { openMeta, openStorage } from './stores.ts';
import { createLogger } from '../observability/logger.ts';
import { bootstrap, type BootstrapResult } from './bootstrap.ts';
import { buildHttp } from './http.ts';

export interface App {
  config: Config;
  log: Logger;
  meta: MetaStore;
  storage: StorageDriver;
  registry: Registry;
  authenticator: BasicAuthenticator;
  authorizer: Authorizer;
  /** Seals secrets and signs tokens (access-key secrets, login and download tokens). */
  keyring: Keyring;
  jobs: JobQueue;
  /** Vulnerability scanning, and the quarantine of images with findings. */
  scans: ScanService;
  quarantine: Quarantine;
  /** The pull-through cache. */
  proxy: PullThroughCache;
  /** Registry replication. */
  replication: Replication;
  http: FastifyInstance;
  boot: BootstrapResult;
  /** Starts listening and background work; resolves to the bound address. */
  start(): Promise<string>;
  /** Graceful stop: no new requests, in-flight ones finish (bounded), then stores close. */
  close(): Promise<void>;
}

export interface ComposeOptions {
  log?: Logger;
  now?: () => number;
}

export type Role = 'api' | 'worker' | 'scheduler';

export function parseRoles(roles: string): Set<Role> {
  if (roles === 'all') return new Set<Role>(['api', 'worker', 'scheduler']);
  return new Set(roles.split(',') as Role[]);
}

/** `http(s)://<host>:<port>` from the listen address (0.0.0.0 shown as localhost), for URIs in responses. */
export function defaultPublicUrl(config: Config, port: number): string {
  const { host } = parseListen(config.listen);
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `${config.tls.cert === undefined ? 'http' : 'https'}://${shown}:${port}`;
}

/** The repository a /v2/ request URL addresses, if any. */
function repositoryOfUrl(url: string): string | undefined {
  const parts = splitUrl(url);
  const route = parts === null ? null : matchRoute(parts.path);
  return route !== null && 'name' in route ? route.name : undefined;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (m === null) throw new Error(`invalid listen address "${listen}": expected host:port`);
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string)), port: Number(m[3]) };
}

export async function compose(config: Config, opts: ComposeOptions = {}): Promise<App> {
  const log = opts.log ?? createLogger(config.log.level);
  const now = opts.now ?? Date.now;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const meta = await openMeta({ ...config, dataDir });

  let storage: StorageDriver;
  try {
    storage = await openStorage({ ...config, dataDir });
    await storage.check();
  } catch (e) {
    await meta.close();
    throw e;
  }

  let boot: BootstrapResult;
  let bus: Bus;
  let keyring: Keyring;
  try {
    keyring = await loadKeyring({ configured: config.auth.masterKey, dataDir, meta });
    boot = await bootstrap({ ...config, dataDir }, meta, now(), keyring);
    // Cache invalidations between processes: LISTEN/NOTIFY on PostgreSQL, in-process otherwise.
    bus =
      config.database.driver === 'postgres'
        ? await PostgresBus.connect({ url: config.database.postgres.url ?? '', log: log.child({ component: 'bus' }) })
        : new LocalBus({ log });
  } catch (e) {
    await meta.close();
    await storage.close?.();
    throw e;
  }
  const roles = parseRoles(config.roles);

  const blobs = new BlobStore(storage);
  // One process on an appendable store keeps upload hashes in memory; several processes (PostgreSQL)
  // or an object store keep each upload's segments and resumable hash in the database.
  const uploads: UploadStorage =
    storage.appendable && config.database.driver === 'sqlite'
      ? new UploadStore(storage, blobs)
      : new SegmentedUploadStore(storage, blobs, {
          load: async (id) => await meta.uploads.loadState(id),
          save: async (id, size, state, version) => await meta.uploads.saveState(id, size, state, version, now()),
        });
  const registry = new Registry({ meta, blobs, uploads, now, log }, { gc: { gracePeriodSeconds: config.gc.gracePeriod }, pullTimes: { flushIntervalSeconds: config.pullTimes.flushInterval } });
  const authenticator = new BasicAuthenticator(meta, { cacheTtlSeconds: config.auth.credentialCacheTtl, now, bus, keyring, log: log.child({ component: 'auth' }) });
  const resolveKey = async (id: string): Promise<ResolvedKey | undefined> => {
    // Temporary credentials of a role session: valid with their session token, until they expire.
    if (id.startsWith('ASIA')) {
      const s = await meta.iam.getSession(id);
      if (s === undefined) return undefined;
      return { secretAccessKey: keyring.decrypt(s.secretEnc), principal: principalOfSession(s), sessionTokenSha256: s.tokenSha256, expiresAt: s.expiresAt };
    }
    const key = await meta.accessKeys.get(id);
    if (key === undefined || key.status !== 'Active' || key.secretEnc === null || key.secretEnc === undefined) return undefined;
    return { secretAccessKey: keyring.decrypt(key.secretEnc), principal: await keyPrincipal(meta, key) };
  };
  const verifier = new SigV4Verifier({
    region: config.region,
    service: 'ecr',
    clockSkewSeconds: config.auth.clockSkew,
    now,
    resolve: resolveKey,
  });
  const authorizer = new PolicyAuthorizer({ meta });
  // IAM's and STS's query protocol share the port: the same keys, signed for the iam or sts service
  // (IAM, a global service, is signed for us-east-1 by some clients whatever their region).
  const queryDeps: QueryDeps = {
    verifiers: {
      iam: new SigV4Verifier({ region: [...new Set([config.region, 'us-east-1'])], service: 'iam', clockSkewSeconds: config.auth.clockSkew, now, resolve: resolveKey }),
      sts: new SigV4Verifier({ region: config.region, service: 'sts', clockSkewSeconds: config.auth.clockSkew, now, resolve: resolveKey }),
    },
    meta,
    authorizer,
    keyring,
    invalidateKey: (id) => authenticator.invalidate(id),
    webIdentity: new WebIdentityVerifier({ now }),
    region: config.region,
    now,
    log,
    strictErrors: process.env.BERTH_STRICT_ERRORS === '1',
  };
  const limiter = config.throttle.enabled ? new RateLimiter(parseRates(config.throttle.rates), now) : undefined;
  const jobs = new SqlJobQueue(meta, { log: log.child({ component: 'jobs' }), now });
  jobs.register('uploads.purge', async () => {
    await registry.uploads.purge(config.uploads.purgeAfter);
  });
  jobs.schedule('uploads.purge', config.uploads.purgeInterval, { runNow: true });
  // Online garbage collection (ADR 0014): the due candidates, every gc.interval.
  jobs.register('gc.collect', async () => {
    await registry.gc.collect();
  });
  if (config.gc.enabled) jobs.schedule('gc.collect', config.gc.interval);
  // Lifecycle policies run every lifecycle.interval (default hourly; ECR evaluates them at least once every 24 hours).
  jobs.register('lifecycle.run', async () => {
    await registry.lifecycle.runAll();
  });
  jobs.schedule('lifecycle.run', config.lifecycle.interval);
  // Vulnerability scanning (docs/adr/0017-vulnerability-scanning.md): scans run as jobs, started by
  // StartImageScan or by a push to a repository that scans on push; a data update re-evaluates the
  // stored inventories of continuously scanned repositories.
  const scans = new ScanService({ meta, blobs, now, log: log.child({ component: 'scan' }) }, jobs);
  jobs.register('scan.image', async (payload) => {
    await scans.run(payload as ScanJob);
  });
  jobs.register('scan.rescan', async () => {
    await scans.rescan();
  });
  const sources = config.scanning.sources
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  jobs.register('vulndb.sync', async () => {
    let changed = false;
    for (const r of await syncSources(meta, sources, { now })) {
      if (r.error !== undefined) log.warn({ url: r.url, error: r.error }, 'vulnerability source not fetched');
      else {
        log.info({ url: r.url, records: r.result?.records, changed: r.result?.changed, errors: r.result?.errors.length }, 'vulnerability source imported');
        changed ||= (r.result?.changed ?? 0) > 0;
      }
    }
    if (changed) await jobs.enqueue({ kind: 'scan.rescan', dedupeKey: 'scan.rescan' });
  });
  if (sources.length > 0) jobs.schedule('vulndb.sync', config.scanning.syncInterval, { runNow: true });
  // The pull-through cache (docs/adr/0018-pull-through-cache.md): manifests fetched from upstream
  // are imported with their blobs by the proxy.import job.
  const proxy = new PullThroughCache({
    meta,
    registry,
    keyring,
    log: log.child({ component: 'proxy' }),
    now,
    revalidateAfterMs: config.pullThroughCache.revalidateAfter * 1000,
    upstreamTimeoutMs: config.pullThroughCache.upstreamTimeout * 1000,
    enqueue: async (job) => await jobs.enqueue({ kind: 'proxy.import', payload: job, dedupeKey: `proxy.import ${job.accountId} ${job.repository} ${job.tag ?? ''} ${job.digest}` }),
  });
  // An import is tried a few times (an upstream outage); the next pull schedules it again.
  jobs.register(
    'proxy.import',
    async (payload) => {
      await proxy.import(payload as ImportJob);
    },
    { maxAttempts: 3 },
  );
  const quarantine = new Quarantine(meta, now);
  registry.manifests.onStored(async (m) => {
    const repo = await meta.repositories.get(m.accountId, m.repository);
    if (repo !== undefined) await scans.pushed(repo, m.digest, m.mediaType, m.configMediaType);
  });
  // Replication (docs/adr/0019-replication.md): a push covered by the account's replication rules
  // becomes one replication.push job per destination, retried with backoff while it is down; a
  // replicated push (in-process, or from another berth) is recorded and not replicated again.
  const replication = new Replication({
    meta,
    registry,
    authorizer,
    region: config.region,
    destinations: parseDestinations(config.replication.destinations),
    enqueue: async (job, tx) => await jobs.enqueue({ kind: 'replication.push', payload: job, dedupeKey: `replication.push ${job.region} ${job.registryId} ${job.accountId} ${job.repository} ${job.digest}` }, tx),
    now,
    log: log.child({ component: 'replication' }),
  });
  jobs.register(
    'replication.push',
    async (payload, ctx) => {
      await replication.run(payload as ReplicationJob, ctx.attempt);
    },
    { maxAttempts: REPLICATION_MAX_ATTEMPTS },
  );
  registry.manifests.onStoredInTransaction(async (m, tx) => {
    await replication.stored(m, tx);
  });
  jobs.register('lifecycle.preview', async (payload) => {
    const p = payload as { accountId: string; name: string; startedAt: number };
    await registry.lifecycle.completePreview(p.accountId, p.name, p.startedAt);
  });
  // Expired role sessions are kept a day (an expired token is answered as expired, not unknown), then forgotten.
  jobs.register('sts.purge', async () => {
    await meta.iam.purgeSessions(now() - 86_400_000);
  });
  jobs.schedule('sts.purge', 3600, { runNow: true });

  // Until the server listens (and knows its port), the public address is the configured one or a guess.
  const ecrDeps: EcrProtocolDeps = {
    registry,
    meta,
    jobs,
    scans,
    proxy,
    replication,
    authorizer,
    keyring,
    verifier,
    region: config.region,
    publicUrl: config.publicUrl ?? defaultPublicUrl(config, parseListen(config.listen).port),
    tokenTtlSeconds: config.auth.tokenTtl,
    downloadUrlTtlSeconds: config.auth.downloadUrlTtl,
    now,
    log,
    operations: OPERATION_HANDLERS,
    strictErrors: process.env.BERTH_STRICT_ERRORS === '1',
    other: { claims: isQueryRequest, handle: async (req, reply, body) => await handleQuery(req, reply, body, queryDeps) },
    ...(limiter !== undefined ? { limiter } : {}),
  };
  const lifecycle = { closing: false };
  const http = buildHttp({
    log,
    api: roles.has('api'),
    lifecycle,
    tls: config.tls.cert !== undefined && config.tls.key !== undefined ? { cert: config.tls.cert, key: config.tls.key } : undefined,
    ecr: ecrDeps,
    oci: {
      registry,
      authenticator,
      // An admitted replication may push to its repository with the ecr:ReplicateImage grant alone.
      authorizer: replication.receiver.authorizer(authorizer),
      region: config.region,
      realm: 'berth',
      keyring,
      anonymousAccountId: boot.accountId,
      ...(limiter !== undefined ? { limiter } : {}),
      now,
      quarantine,
      scans,
      proxy,
      ...(config.storage.redirect.enabled ? { redirectSeconds: config.storage.redirect.expiry } : {}),
    },
    ready: async () => {
      await meta.ping();
      await storage.stat('.berth-ready');
    },
  });

  // Pushes from another berth's replication (X-Berth-Replication) are admitted before they are routed.
  http.addHook('onRequest', replication.receiver.hook(authenticator, repositoryOfUrl));

  let closing: Promise<void> | null = null;
  const app: App = {
    config,
    log,
    meta,
    storage,
    registry,
    authenticator,
    authorizer,
    keyring,
    jobs,
    scans,
    quarantine,
    proxy,
    replication,
    http,
    boot,
    async start() {
      const { host, port } = parseListen(config.listen);
      // Every role listens: the api role serves /v2/, the others only /healthz and /readyz.
      const address = await http.listen({ host, port });
      if (config.publicUrl === undefined) ecrDeps.publicUrl = defaultPublicUrl(config, Number(new URL(address).port));
      jobs.start({ work: roles.has('worker'), schedule: roles.has('scheduler') });
      return address;
    },
    async close() {
      closing ??= (async () => {
        lifecycle.closing = true;
        const timeoutMs = config.shutdown.timeout * 1000;
        const force = setTimeout(() => {
          log.warn({ timeoutMs }, 'shutdown timeout: closing remaining connections');
          http.server.closeAllConnections();
        }, timeoutMs);
        force.unref();
        try {
          await http.close();
        } finally {
          clearTimeout(force);
        }
        await jobs.stop();
        await registry.close();
        authenticator.close();
        await bus.close();
        await meta.close();
        await storage.close?.();
      })();
      await closing;
    },
  };
  return app;
}
