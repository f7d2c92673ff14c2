// What an ECR operation receives: the caller, the registry it acts on, and the use-cases.
import type { Logger } from 'pino';
import type { Authorizer, Keyring, Principal, RequestFacts } from '../auth/index.ts';
import type { JobQueue } from '../jobs/index.ts';
import type { MetaStore } from '../meta/index.ts';
import type { Registry } from '../registry/index.ts';
import type { ScanService } from '../scan/service.ts';
import type { PullThroughCache } from '../proxy/service.ts';
import type { Replication } from '../replication/index.ts';

export interface EcrDeps {
  registry: Registry;
  meta: MetaStore;
  /** Background work the API starts (lifecycle previews, scans). */
  jobs: JobQueue;
  /** Vulnerability scanning (scans run as jobs). */
  scans: ScanService;
  /** The pull-through cache (its rules are cached per process; the API invalidates them). */
  proxy: PullThroughCache;
  /** Registry replication: configurations are checked against the destinations it can reach. */
  replication: Replication;
  authorizer: Authorizer;
  keyring: Keyring;
  region: string;
  /** How clients reach the registry: `https://registry.example.com` (repository URIs drop the scheme). */
  publicUrl: string;
  /** Validity of login tokens, seconds. */
  tokenTtlSeconds: number;
  /** Validity of GetDownloadUrlForLayer's URLs, seconds (default 3600, as ECR). */
  downloadUrlTtlSeconds?: number;
  now: () => number;
  log: Logger;
}

export interface EcrContext extends EcrDeps {
  principal: Principal;
  /** The request's source address and transport, for policy conditions. */
  facts: RequestFacts;
  /** The registry (account) the request acts on: `registryId` when given, else the caller's account. */
  accountId: string;
  requestId: string;
  /** Authorizes `action` on the repository `name` (or on the registry when `name` is undefined). */
  authorize(action: string, name?: string): Promise<void>;
}

/** `registry.example.com:5000` from the public URL. */
export function registryHost(publicUrl: string): string {
  return publicUrl.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
}
