// Repository name, tag and reference rules.
import { RegistryError } from './errors.ts';
import { parseDigest, type ParsedDigest } from './digest.ts';

/** ECR's repository name pattern (also the OCI distribution-spec `<name>` pattern), 2-256 characters. */
export const REPOSITORY_NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
export const REPOSITORY_NAME_MIN = 2;
export const REPOSITORY_NAME_MAX = 256;

/** OCI tag pattern: at most 128 characters. */
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function isRepositoryName(name: string): boolean {
  return name.length >= REPOSITORY_NAME_MIN && name.length <= REPOSITORY_NAME_MAX && REPOSITORY_NAME_RE.test(name);
}

export function validateRepositoryName(name: string): string {
  if (isRepositoryName(name)) return name;
  let why: string;
  if (name.length < REPOSITORY_NAME_MIN) why = `it is shorter than ${REPOSITORY_NAME_MIN} characters`;
  else if (name.length > REPOSITORY_NAME_MAX) why = `it is longer than ${REPOSITORY_NAME_MAX} characters`;
  else if (/[A-Z]/.test(name)) why = 'it contains uppercase letters';
  else if (name.split('/').some((s) => s === '')) why = 'it has an empty path segment';
  else if (name.split('/').some((s) => s === '.' || s === '..')) why = 'it has a "." or ".." path segment';
  else why = 'it does not match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*';
  const shown = name.length > 300 ? `${name.slice(0, 300)}...` : name;
  throw new RegistryError('NameInvalid', `invalid repository name "${shown}": ${why}`, { name: shown });
}

export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

export function validateTag(tag: string): string {
  if (isTag(tag)) return tag;
  const shown = tag.length > 200 ? `${tag.slice(0, 200)}...` : tag;
  throw new RegistryError('TagInvalid', `invalid tag "${shown}": a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, { tag: shown });
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: ParsedDigest };

/** A manifest `<reference>`: a digest (contains ':') or a tag. */
export function parseReference(ref: string): Reference {
  if (ref.includes(':')) return { kind: 'digest', digest: parseDigest(ref, 'manifest reference') };
  return { kind: 'tag', tag: validateTag(ref) };
}
