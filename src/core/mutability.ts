// Tag mutability (ECR's four modes with wildcard exclusion filters): whether a push may move a tag
// that already points at another image. Pure; enforced by the registry on every push (/v2/ and
// PutImage alike).

export type TagMutabilityMode = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';

export interface TagMutabilitySettings {
  imageTagMutability: TagMutabilityMode;
  /** WILDCARD filters: `*` matches any run of characters, everything else itself. */
  tagMutabilityExclusions: ReadonlyArray<{ filter: string }>;
}

const compiled = new Map<string, RegExp>();

function wildcard(filter: string): RegExp {
  let re = compiled.get(filter);
  if (re === undefined) {
    re = new RegExp(`^${filter.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(filter, re);
  }
  return re;
}

/** Whether `tag` matches one of the exclusion filters. */
export function tagExcluded(settings: TagMutabilitySettings, tag: string): boolean {
  return settings.tagMutabilityExclusions.some((f) => wildcard(f.filter).test(tag));
}

/**
 * Whether pushing `tag` may move it when it already points at another image: MUTABLE always,
 * IMMUTABLE never, IMMUTABLE_WITH_EXCLUSION only tags matching a filter, MUTABLE_WITH_EXCLUSION all
 * but the tags matching a filter.
 */
export function tagIsMutable(settings: TagMutabilitySettings, tag: string): boolean {
  switch (settings.imageTagMutability) {
    case 'MUTABLE':
      return true;
    case 'IMMUTABLE':
      return false;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return tagExcluded(settings, tag);
    case 'MUTABLE_WITH_EXCLUSION':
      return !tagExcluded(settings, tag);
  }
}

/**
 * The refusal of a move of an immutable tag, in ECR's words for an IMMUTABLE repository (the
 * message Docker shows for ECR); the exclusion modes name the tag as immutable instead.
 */
export function immutableTagMessage(settings: TagMutabilitySettings, repository: string, tag: string): string {
  const why = settings.imageTagMutability === 'IMMUTABLE' ? 'the repository is immutable' : `the tag is immutable (imageTagMutability ${settings.imageTagMutability})`;
  return `The image tag '${tag}' already exists in the '${repository}' repository and cannot be overwritten because ${why}.`;
}
