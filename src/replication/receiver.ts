// The destination side of replication: admitting a replicated push and recording it. As in ECR
// (user guide "Private registry permissions"), the source must be allowed ecr:ReplicateImage on the
// destination registry, and ecr:CreateRepository when the repository does not exist yet; the
// repository is then created with the REPLICATION creation template that matches its name (ECR's
// defaults without one). An admitted push runs inside a replication context (AsyncLocalStorage):
// what it stores is not replicated again (no chains), each manifest it stores gives an
// `ECR Replication Action` event at the destination, and on /v2/ the push actions on the admitted
// repository are allowed by the ReplicateImage grant alone (ECR's replication needs no other grant).
//
// A push from another berth says it is a replication with the header
//   X-Berth-Replication: source-account=<12 digits>; source-region=<region>
// honoured only for a caller that is the source account itself or the destination account; other
// requests carrying it are refused (docs/adr/0019-replication.md).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { principalOf, repositoryArn, requestFacts, type Authenticator, type Authorizer, type Decision, type Principal, type RequestFacts, type Resource } from '../auth/index.ts';
import { RegistryError } from '../core/errors.ts';
import type { MetaStore } from '../meta/index.ts';
import type { Registry } from '../registry/index.ts';
import type { StoredManifest } from '../registry/manifests.ts';

export const REPLICATION_HEADER = 'x-berth-replication';

/** Where a replicated push comes from. */
export interface ReplicationSource {
  account: string;
  region: string;
}

/** A push admitted as a replication into one repository of the destination registry. */
export interface Admitted {
  source: ReplicationSource;
  accountId: string;
  repository: string;
  /** The access key of the caller (undefined in-process), so that only its requests get the grant. */
  accessKeyId: string | undefined;
}

/** What a replication may do on /v2/ in the repository it was admitted to, beyond ReplicateImage. */
const REPLICATION_ACTIONS: ReadonlySet<string> = new Set([
  'ecr:BatchGetImage',
  'ecr:BatchCheckLayerAvailability',
  'ecr:GetDownloadUrlForLayer',
  'ecr:InitiateLayerUpload',
  'ecr:UploadLayerPart',
  'ecr:CompleteLayerUpload',
  'ecr:PutImage',
]);

const HEADER_RE = /^\s*source-account=(\d{12})\s*;\s*source-region=([0-9a-z-]{2,25})\s*$/;

export function replicationHeader(source: ReplicationSource): string {
  return `source-account=${source.account}; source-region=${source.region}`;
}

export function parseReplicationHeader(value: string): ReplicationSource | undefined {
  const m = HEADER_RE.exec(value);
  return m === null ? undefined : { account: m[1] as string, region: m[2] as string };
}

export interface ReceiverDeps {
  meta: MetaStore;
  registry: Registry;
  authorizer: Authorizer;
  /** This deployment's region. */
  region: string;
  now: () => number;
}

export class ReplicationReceiver {
  private readonly deps: ReceiverDeps;
  private readonly context = new AsyncLocalStorage<Admitted>();

  constructor(deps: ReceiverDeps) {
    this.deps = deps;
  }

  /** The replication the current code runs in, if any. */
  current(): Admitted | undefined {
    return this.context.getStore();
  }

  /** Runs `fn` as the admitted replication. */
  async run<T>(admitted: Admitted, fn: () => Promise<T>): Promise<T> {
    return await this.context.run(admitted, fn);
  }

  /**
   * Admits `principal` to replicate into `repository` of the registry `accountId`: ecr:ReplicateImage,
   * and when `create` and the repository does not exist, ecr:CreateRepository, after which it is
   * created with the REPLICATION template. Refusals are RegistryError Denied (and an event).
   */
  async admit(principal: Principal, source: ReplicationSource, accountId: string, repository: string, create: boolean, facts: RequestFacts = {}): Promise<Admitted> {
    const resource: Resource = { arn: repositoryArn(this.deps.region, accountId, repository), accountId };
    const refuse = async (action: string, d: Decision): Promise<never> => {
      await this.event(accountId, repository, source, { result: 'FAILED' });
      throw new RegistryError('Denied', `replication from ${source.account} (${source.region}) into registry ${accountId} is not allowed: ${action} is not granted: ${d.reason}`, { action, resource: resource.arn });
    };
    const replicate = await this.deps.authorizer.authorize(principal, 'ecr:ReplicateImage', resource, facts);
    if (!replicate.allowed) await refuse('ecr:ReplicateImage', replicate);
    if (create && (await this.deps.meta.repositories.get(accountId, repository)) === undefined) {
      const d = await this.deps.authorizer.authorize(principal, 'ecr:CreateRepository', resource, facts);
      if (!d.allowed) await refuse('ecr:CreateRepository', d);
      await this.deps.registry.repositories.getOrCreate(accountId, repository, 'REPLICATION');
    }
    return { source, accountId, repository, accessKeyId: principal.accessKeyId === '' ? undefined : principal.accessKeyId };
  }

  /** Admits a replication from another account of this deployment, as its root (the registry policy decides). */
  async admitLocal(source: ReplicationSource, accountId: string, repository: string): Promise<Admitted> {
    return await this.admit(principalOf({ accountId: source.account, userName: 'root', accessKeyId: '' }), source, accountId, repository, true);
  }

  /**
   * After each stored manifest: true when the push was a replication (and its event is recorded),
   * so that the source side leaves it alone.
   */
  async stored(m: StoredManifest, tx: MetaStore = this.deps.meta): Promise<boolean> {
    const a = this.current();
    if (a === undefined) return false;
    if (a.accountId === m.accountId && a.repository === m.repository) {
      await this.event(m.accountId, m.repository, a.source, { result: 'SUCCESS', digest: m.digest, ...(m.tag !== undefined ? { tag: m.tag } : {}) }, tx);
    }
    return true;
  }

  /** The authorizer of /v2/: `inner`, except that an admitted replication may push to its repository. */
  authorizer(inner: Authorizer): Authorizer {
    return {
      authorize: async (principal, action, resource, facts) => {
        const a = this.current();
        if (
          a !== undefined &&
          principal !== null &&
          principal.accessKeyId === a.accessKeyId &&
          REPLICATION_ACTIONS.has(action) &&
          resource.accountId === a.accountId &&
          resource.arn === repositoryArn(this.deps.region, a.accountId, a.repository)
        ) {
          return { allowed: true, reason: `allowed: a replication from ${a.source.account} (${a.source.region}) granted ecr:ReplicateImage` };
        }
        return await inner.authorize(principal, action, resource, facts);
      },
    };
  }

  /**
   * The onRequest hook of the HTTP server: a /v2/ request with X-Berth-Replication is admitted (the
   * repository created for the writes of a push) and handled inside the replication context.
   * `repositoryOf` names the repository a request path addresses, if any.
   */
  hook(authenticator: Authenticator, repositoryOf: (url: string) => string | undefined) {
    return (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      const header = req.headers[REPLICATION_HEADER];
      if (header === undefined) return done();
      this.admitRequest(req, Array.isArray(header) ? (header[0] ?? '') : header, authenticator, repositoryOf).then(
        (a) => (a === undefined ? done() : this.context.run(a, () => done())),
        (e: unknown) => done(e as Error),
      );
    };
  }

  private async admitRequest(req: FastifyRequest, header: string, authenticator: Authenticator, repositoryOf: (url: string) => string | undefined): Promise<Admitted | undefined> {
    const repository = repositoryOf(req.url);
    if (repository === undefined) return undefined;
    const source = parseReplicationHeader(header);
    if (source === undefined) throw new RegistryError('BadRequest', `${REPLICATION_HEADER} must be "source-account=<12 digits>; source-region=<region>"`);
    // Without credentials (or with bad ones) the request goes on and is challenged as any other.
    const principal = await authenticator.authenticate({ headers: req.headers }).catch(() => null);
    if (principal === null) return undefined;
    const accountId = principal.registryId ?? principal.accountId;
    if (source.account !== principal.accountId && accountId !== principal.accountId) {
      throw new RegistryError('Denied', `a replication into registry ${accountId} must come from the source account (${source.account}) or the destination account itself, not ${principal.arn}`);
    }
    const writes = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH';
    return await this.admit(principal, source, accountId, repository, writes, requestFacts(req));
  }

  /** ECR's `ECR Replication Action` event, in the destination registry. */
  private async event(accountId: string, repository: string, source: ReplicationSource, what: { result: 'SUCCESS' | 'FAILED'; digest?: string; tag?: string }, tx: MetaStore = this.deps.meta): Promise<void> {
    await tx.events.append({
      accountId,
      type: 'ECR Replication Action',
      repository,
      digest: what.digest ?? null,
      tag: what.tag ?? null,
      detail: {
        'action-type': 'REPLICATE',
        result: what.result,
        'repository-name': repository,
        ...(what.digest !== undefined ? { 'image-digest': what.digest } : {}),
        ...(what.tag !== undefined ? { 'image-tag': what.tag } : {}),
        'source-account': source.account,
        'source-region': source.region,
      },
      createdAt: this.deps.now(),
    });
  }
}
