// Pull-through cache rules as ECR has them: an `ecrRepositoryPrefix` (or ROOT) maps repositories of
// the registry to an upstream registry (and, optionally, a prefix of its repositories). berth takes
// any registry URL as the upstream; the well-known ones are recognised by host and named as ECR
// names them (`upstreamRegistry`, src/upstream/registries.ts). Docker Hub's official images live
// under `library/`.
import { normaliseUpstream, recogniseRegistry } from '../upstream/index.ts';


export const MAX_PULL_THROUGH_CACHE_RULES = 50;

/** The upstream's base URL: `https://` unless the rule names a scheme; Docker Hub's API host for its aliases. */
export function upstreamBaseUrl(upstreamRegistryUrl: string): URL | undefined {
  try {
    const url = new URL(normaliseUpstream(upstreamRegistryUrl, 'x').baseUrl);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** ECR's name for the registry at `host`, or undefined for one it has no name for. */
export function upstreamRegistryOf(host: string): string | undefined {
  return recogniseRegistry(host.toLowerCase())?.upstreamRegistry;
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
