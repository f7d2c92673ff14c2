// Repository creation templates as the ECR API shows them, and the rules their fields follow.
// Stored as CreationTemplate (src/registry/repositories.ts), which also applies them on push.
import { parsePolicy, PolicySyntaxError } from '../auth/policy/index.ts';
import type { CreationTemplateRow } from '../meta/index.ts';
import { creationTemplate, type CreationTemplate } from '../registry/repositories.ts';
import { EcrException } from './errors.ts';
import type { CreateRepositoryCreationTemplateRequest, EncryptionType, ImageTagMutabilityExclusionFilter, RCTAppliedFor, RepositoryCreationTemplate } from './generated/model.ts';
import { mutabilitySettings } from './mutability.ts';
import { epochSeconds } from './shapes.ts';

/**
 * Templates per registry. ECR's quotas page names no limit for templates; berth allows 50, as many
 * as ECR allows pull through cache rules (the feature templates were made for).
 */
export const MAX_TEMPLATES = 50;

/** The fields a Create or UpdateRepositoryCreationTemplate request may set. */
export type TemplateFields = Omit<CreateRepositoryCreationTemplateRequest, 'prefix' | 'appliedFor'> & { appliedFor?: RCTAppliedFor[] };

export function describeTemplate(row: CreationTemplateRow): RepositoryCreationTemplate {
  const t = creationTemplate(row);
  const out: RepositoryCreationTemplate = { prefix: row.prefix };
  if (t.description !== undefined) out.description = t.description;
  const kmsKey = t.encryptionConfiguration?.kmsKey;
  out.encryptionConfiguration = { encryptionType: (t.encryptionConfiguration?.encryptionType ?? 'AES256') as EncryptionType, ...(kmsKey !== undefined ? { kmsKey } : {}) };
  out.resourceTags = (t.resourceTags ?? []).map((tag) => ({ Key: tag.Key, Value: tag.Value }));
  out.imageTagMutability = t.imageTagMutability ?? 'MUTABLE';
  const filters = t.imageTagMutabilityExclusionFilters ?? [];
  if (filters.length > 0) out.imageTagMutabilityExclusionFilters = filters as ImageTagMutabilityExclusionFilter[];
  if (t.repositoryPolicy !== undefined) out.repositoryPolicy = t.repositoryPolicy;
  if (t.lifecyclePolicy !== undefined) out.lifecyclePolicy = t.lifecyclePolicy;
  out.appliedFor = t.appliedFor as RCTAppliedFor[];
  if (t.customRoleArn !== undefined) out.customRoleArn = t.customRoleArn;
  out.createdAt = epochSeconds(row.createdAt);
  out.updatedAt = epochSeconds(row.updatedAt);
  return out;
}

export function templateNotFound(accountId: string, prefix: string): EcrException {
  return new EcrException('TemplateNotFoundException', `The repository creation template with prefix '${prefix}' does not exist in the registry with id '${accountId}'`);
}

function invalid(field: string, constraint: string): EcrException {
  return new EcrException('InvalidParameterException', `Invalid parameter at '${field}' failed to satisfy constraint: '${constraint}'`);
}

/**
 * checkTags' rules (shapes.ts) for resourceTags. The template operations model no tag exceptions, so
 * a violation is an InvalidParameterException in the same words.
 */
function checkTemplateTags(tags: ReadonlyArray<{ Key: string; Value: string }>): void {
  const refuse = (why: string): EcrException => new EcrException('InvalidParameterException', `Invalid parameter at 'resourceTags': ${why}`);
  const allowed = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
  for (const t of tags) {
    if (t.Key.length < 1 || t.Key.length > 128) throw refuse(`Tag key '${t.Key.slice(0, 130)}' must be 1 to 128 characters long`);
    if (t.Key.toLowerCase().startsWith('aws:')) throw refuse(`Tag keys starting with 'aws:' are reserved: '${t.Key}'`);
    if (t.Value.length > 256) throw refuse(`Tag value for key '${t.Key}' must be at most 256 characters long`);
    if (!allowed.test(t.Key) || !allowed.test(t.Value)) throw refuse(`Tag '${t.Key}' has characters outside letters, digits, spaces and _ . : / = + - @`);
  }
  const keys = new Set(tags.map((t) => t.Key)).size;
  if (keys > 50) throw refuse(`A resource can have at most 50 tags; this request would give it ${keys}`);
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

/**
 * `base` (the stored template for an update, an empty one for a create) with the request's fields
 * applied and checked. A field left out keeps its value; an empty string removes a text field.
 */
export function applyTemplateFields(accountId: string, base: CreationTemplate, input: TemplateFields): CreationTemplate {
  const t: CreationTemplate = { ...base };
  if (input.description !== undefined) {
    if (input.description === '') delete t.description;
    else t.description = input.description;
  }
  if (input.encryptionConfiguration !== undefined) {
    const { encryptionType, kmsKey } = input.encryptionConfiguration;
    const key = kmsKey === undefined || kmsKey === '' ? undefined : kmsKey;
    if (encryptionType === 'AES256' && key !== undefined) throw new EcrException('InvalidParameterException', 'Invalid parameter: kmsKey can only be given with encryptionType KMS or KMS_DSSE');
    t.encryptionConfiguration = { encryptionType, ...(key !== undefined ? { kmsKey: key } : {}) };
  }
  if (input.resourceTags !== undefined) {
    checkTemplateTags(input.resourceTags);
    const byKey = new Map(input.resourceTags.map((tag) => [tag.Key, tag.Value]));
    t.resourceTags = [...byKey].map(([Key, Value]) => ({ Key, Value }));
  }
  if (input.imageTagMutability !== undefined || input.imageTagMutabilityExclusionFilters !== undefined) {
    // Filters alone change the filters of the stored mode; a mode alone drops the stored filters.
    const mode = input.imageTagMutability ?? base.imageTagMutability ?? 'MUTABLE';
    const filters = input.imageTagMutabilityExclusionFilters ?? (input.imageTagMutability === undefined ? base.imageTagMutabilityExclusionFilters : undefined);
    const m = mutabilitySettings(mode, filters);
    t.imageTagMutability = m.imageTagMutability;
    if (m.tagMutabilityExclusions.length > 0) t.imageTagMutabilityExclusionFilters = m.tagMutabilityExclusions;
    else delete t.imageTagMutabilityExclusionFilters;
  }
  for (const field of ['repositoryPolicy', 'lifecyclePolicy'] as const) {
    const text = input[field];
    if (text === undefined) continue;
    if (text === '') {
      delete t[field];
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text) as unknown;
    } catch (e) {
      throw invalid(field, `must be a JSON document (${(e as Error).message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(field, 'must be a JSON object');
    // The repository policy is checked now as SetRepositoryPolicy would check it, not when a
    // repository is created from the template.
    if (field === 'repositoryPolicy') {
      try {
        parsePolicy(text, 'resource');
      } catch (e) {
        if (e instanceof PolicySyntaxError) throw invalid(field, `Invalid repository policy provided: ${e.message}`);
        throw e;
      }
    }
    t[field] = text;
  }
  if (input.appliedFor !== undefined) {
    if (input.appliedFor.length === 0) throw invalid('appliedFor', 'must name at least one of CREATE_ON_PUSH, REPLICATION, PULL_THROUGH_CACHE');
    t.appliedFor = [...new Set(input.appliedFor)];
  }
  if (input.customRoleArn !== undefined) {
    if (input.customRoleArn === '') {
      delete t.customRoleArn;
    } else {
      const m = ROLE_ARN.exec(input.customRoleArn);
      if (m === null) throw invalid('customRoleArn', 'must be the ARN of an IAM role: arn:aws:iam::<account>:role/<name>');
      if (m[1] !== accountId) throw invalid('customRoleArn', `must be a role in the registry's account ${accountId}, not ${m[1] ?? ''}`);
      t.customRoleArn = input.customRoleArn;
    }
  }
  return t;
}
