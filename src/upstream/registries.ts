// Well-known registries and their naming rules. The names are ECR's `upstreamRegistry` values (the
// UpstreamRegistry enum of CreatePullThroughCacheRule, whose documentation gives each one's URL);
// Docker Hub's aliases and its `library/` namespace for official images follow Docker's reference
// normalisation (distribution/reference: docker.io, index.docker.io, registry-1.docker.io).

/** ECR's UpstreamRegistry values. */
export type UpstreamRegistryName =
  | 'ecr'
  | 'ecr-public'
  | 'quay'
  | 'k8s'
  | 'docker-hub'
  | 'github-container-registry'
  | 'azure-container-registry'
  | 'gitlab-container-registry'
  | 'chainguard';

export interface KnownRegistry {
  /** Short name for logs and errors. */
  id: string;
  /** ECR's name for it as a pull-through cache upstream; undefined when ECR has none. */
  upstreamRegistry: UpstreamRegistryName | undefined;
  /** The base URL clients use; undefined for registries with a host per customer (ECR, Azure). */
  baseUrl: string | undefined;
  /** Whether a host name is this registry's. */
  matches: (host: string) => boolean;
}

const host = (...names: string[]) => (h: string) => names.includes(h);

export const DOCKER_HUB_URL = 'https://registry-1.docker.io';

export const KNOWN_REGISTRIES: readonly KnownRegistry[] = [
  { id: 'docker-hub', upstreamRegistry: 'docker-hub', baseUrl: DOCKER_HUB_URL, matches: host('docker.io', 'registry-1.docker.io', 'index.docker.io') },
  { id: 'ghcr', upstreamRegistry: 'github-container-registry', baseUrl: 'https://ghcr.io', matches: host('ghcr.io') },
  { id: 'quay', upstreamRegistry: 'quay', baseUrl: 'https://quay.io', matches: host('quay.io') },
  { id: 'ecr-public', upstreamRegistry: 'ecr-public', baseUrl: 'https://public.ecr.aws', matches: host('public.ecr.aws') },
  { id: 'k8s', upstreamRegistry: 'k8s', baseUrl: 'https://registry.k8s.io', matches: host('registry.k8s.io') },
  { id: 'gitlab', upstreamRegistry: 'gitlab-container-registry', baseUrl: 'https://registry.gitlab.com', matches: host('registry.gitlab.com') },
  { id: 'chainguard', upstreamRegistry: 'chainguard', baseUrl: 'https://cgr.dev', matches: host('cgr.dev') },
  { id: 'ecr', upstreamRegistry: 'ecr', baseUrl: undefined, matches: (h) => /^\d{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/.test(h) },
  { id: 'azure', upstreamRegistry: 'azure-container-registry', baseUrl: undefined, matches: (h) => /^[a-z0-9-]+\.azurecr\.io$/.test(h) },
  { id: 'gcr', upstreamRegistry: undefined, baseUrl: 'https://gcr.io', matches: (h) => h === 'gcr.io' || h.endsWith('.gcr.io') },
  { id: 'mcr', upstreamRegistry: undefined, baseUrl: 'https://mcr.microsoft.com', matches: host('mcr.microsoft.com') },
];

/** The well-known registry a host (or URL) belongs to. */
export function recogniseRegistry(hostOrUrl: string): KnownRegistry | undefined {
  const h = toUrl(hostOrUrl).hostname;
  return KNOWN_REGISTRIES.find((r) => r.matches(h));
}

export interface NormalisedUpstream {
  /** The base URL to give RegistryClient. */
  baseUrl: string;
  /** The repository name as that registry knows it. */
  repository: string;
  registry: KnownRegistry | undefined;
}

/**
 * The base URL and repository name to use for `repo` on `registryUrl` (`docker.io`,
 * `https://ghcr.io`, `127.0.0.1:5001`; https unless a scheme is given): Docker Hub's aliases become
 * https://registry-1.docker.io, and a single-segment name there becomes `library/<name>`.
 */
export function normaliseUpstream(registryUrl: string, repo: string): NormalisedUpstream {
  const url = toUrl(registryUrl);
  if (url.username !== '' || url.password !== '') throw new TypeError('registry URL must not carry credentials');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw new TypeError(`registry URL must have no path: ${registryUrl}`);
  const registry = KNOWN_REGISTRIES.find((r) => r.matches(url.hostname));
  if (registry?.id === 'docker-hub') {
    return { baseUrl: DOCKER_HUB_URL, repository: repo.includes('/') ? repo : `library/${repo}`, registry };
  }
  return { baseUrl: url.origin, repository: repo, registry };
}

function toUrl(s: string): URL {
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
}
