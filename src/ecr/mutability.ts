// Tag mutability settings: the four modes and their wildcard exclusion filters.
import type { RepositorySettings, TagMutability } from '../meta/index.ts';
import { EcrException } from './errors.ts';

export function mutabilitySettings(mode: TagMutability, filters: ReadonlyArray<{ filterType: string; filter: string }> | undefined): Pick<RepositorySettings, 'imageTagMutability' | 'tagMutabilityExclusions'> {
  const withExclusion = mode === 'IMMUTABLE_WITH_EXCLUSION' || mode === 'MUTABLE_WITH_EXCLUSION';
  const list = filters ?? [];
  if (withExclusion && list.length === 0) {
    throw new EcrException('InvalidParameterException', `Invalid parameter: imageTagMutability ${mode} needs imageTagMutabilityExclusionFilters (1 to 5 WILDCARD filters)`);
  }
  if (!withExclusion && list.length > 0) {
    throw new EcrException('InvalidParameterException', `Invalid parameter: imageTagMutabilityExclusionFilters can only be given with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not ${mode}`);
  }
  return { imageTagMutability: mode, tagMutabilityExclusions: list.map((f) => ({ filterType: f.filterType, filter: f.filter })) };
}

function wildcard(filter: string): RegExp {
  return new RegExp(`^${filter.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/** Whether pushing `tag` may move it when it already points at another image. */
export function tagIsMutable(settings: Pick<RepositorySettings, 'imageTagMutability' | 'tagMutabilityExclusions'>, tag: string): boolean {
  const excluded = settings.tagMutabilityExclusions.some((f) => wildcard(f.filter).test(tag));
  switch (settings.imageTagMutability) {
    case 'MUTABLE':
      return true;
    case 'IMMUTABLE':
      return false;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return !excluded;
  }
}
