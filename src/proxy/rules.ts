// Pull-through cache rules as ECR has them: an `ecrRepositoryPrefix` (or ROOT) maps repositories of
// the registry to an upstream registry (and, optionally, a prefix of its repositories). berth takes
// any registry URL as the upstream; the well-known ones are recognised by host and named as ECR
// names them (`upstreamRegistry`). Docker Hub's official images live under `library/`.

/** ECR's upstreamRegistry names by the hosts that serve them. */
const WELL_KNOWN: ReadonlyArray<[RegExp, string]> = [
  [/^(registry-1\.docker\.io|docker\.io|index\.docker\.io)$/, 'docker-hub'],
  [/^public\.ecr\.aws$/, 'ecr-public'],
  [/^quay\.io$/, 'quay'],
  [/^registry\.k8s\.io$/, 'k8s'],
  [/^ghcr\.io$/, 'github-container-registry'],
  [/\.azurecr\.io$/, 'azure-container-registry'],
  [/^registry\.gitlab\.com$/, 'gitlab-container-registry'],
  [/^cgr\.dev$/, 'chainguard'],
  [/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/, 'ecr'],
];

export const MAX_PULL_THROUGH_CACHE_RULES = 50;

/** The upstream's base URL: `https://` unless the rule names a scheme; Docker Hub's API host for its aliases. */
export function upstreamBaseUrl(upstreamRegistryUrl: string): URL | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(upstreamRegistryUrl) ? upstreamRegistryUrl : `https://${upstreamRegistryUrl}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) return undefined;
  if (upstreamRegistryOf(url.hostname) === 'docker-hub') url.hostname = 'registry-1.docker.io';
  return url;
}

/** ECR's name for the registry at `host`, or undefined for one it does not know. */
export function upstreamRegistryOf(host: string): string | undefined {
  return WELL_KNOWN.find(([re]) => re.test(host.toLowerCase()))?.[1];
}

export interface RuleMatch<R> {
  rule: R;
  /** The repository's name at the upstream. */
  upstreamRepository: string;
}

/**
 * The rule a repository name falls under (the longest matching prefix; ROOT matches every name) and
 * the upstream repository it stands for: the name without the prefix (with the upstream prefix in
 * front when the rule has one), and `library/` in front of a single-segment Docker Hub name.
 */
export function matchRule<R extends { prefix: string; upstreamPrefix: string | null; upstreamRegistry: string }>(rules: readonly R[], name: string): RuleMatch<R> | undefined {
  let best: R | undefined;
  let rest = '';
  for (const rule of rules) {
    if (rule.prefix === 'ROOT') {
      if (best === undefined) {
        best = rule;
        rest = name;
      }
      continue;
    }
    const p = rule.prefix.replace(/\/$/, '');
    if (name.startsWith(`${p}/`) && (best === undefined || best.prefix === 'ROOT' || p.length > best.prefix.replace(/\/$/, '').length)) {
      best = rule;
      rest = name.slice(p.length + 1);
    }
  }
  if (best === undefined || rest === '') return undefined;
  const upstreamPrefix = best.upstreamPrefix?.replace(/\/$/, '');
  let upstream = upstreamPrefix !== undefined && upstreamPrefix !== '' && upstreamPrefix !== 'ROOT' ? `${upstreamPrefix}/${rest}` : rest;
  if (best.upstreamRegistry === 'docker-hub' && !upstream.includes('/')) upstream = `library/${upstream}`;
  return { rule: best, upstreamRepository: upstream };
}
