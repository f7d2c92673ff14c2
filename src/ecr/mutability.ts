// Tag mutability settings as the ECR API takes them: the four modes and their wildcard exclusion
// filters. The registry enforces them on every push (src/core/mutability.ts).
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
