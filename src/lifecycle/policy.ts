// ECR lifecycle policy documents: the parsed shape and the validation ECR performs on
// PutLifecyclePolicy / StartLifecyclePolicyPreview. Pure: text in, a typed policy (rules sorted by
// rulePriority, storageClass defaulted) or a LifecyclePolicyError naming the rule and the problem.
//
// Sources: the ECR user guide pages "Lifecycle policy properties", "Examples of lifecycle policies"
// and "Lifecycle policy evaluation rules". Where ECR's own message is known it is reused
// ("Could not map policyString into LifecyclePolicy.", "Only one rule can select untagged images
// per storage class"); the other messages say the same thing in plain words and name the rule.
import { RegistryError } from '../core/errors.ts';

export type TagStatus = 'tagged' | 'untagged' | 'any';
export type StorageClass = 'standard' | 'archive';
export type CountType = 'imageCountMoreThan' | 'sinceImagePushed' | 'sinceImagePulled' | 'sinceImageTransitioned';
export type LifecycleActionType = 'expire' | 'transition';

export interface LifecycleSelection {
  tagStatus: TagStatus;
  /** Only with tagStatus `tagged`; exactly one of the two lists is present then. */
  tagPrefixList?: readonly string[];
  tagPatternList?: readonly string[];
  /** `standard` when the document leaves it out. */
  storageClass: StorageClass;
  countType: CountType;
  /** Present exactly for the `since*` count types. */
  countUnit?: 'days';
  countNumber: number;
}

export interface LifecycleAction {
  type: LifecycleActionType;
  /** Present exactly when `type` is `transition`. */
  targetStorageClass?: 'archive';
}

export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  selection: LifecycleSelection;
  action: LifecycleAction;
}

export interface LifecyclePolicy {
  /** Sorted by rulePriority, lowest (applied first) first. */
  rules: readonly LifecycleRule[];
}

/** Longest policy text ECR accepts (the API model's LifecyclePolicyText maximum). */
export const MAX_POLICY_TEXT_LENGTH = 30_720;
/** Rules per lifecycle policy (ECR service quota). */
export const MAX_RULES = 50;
/** Wildcards (`*`) per tagPatternList entry. */
export const MAX_WILDCARDS = 4;
/** Days an archived image stays in the archive before a lifecycle rule may expire it. */
export const ARCHIVE_MINIMUM_DAYS = 90;

const PREFIX = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";

/**
 * A policy document ECR would refuse. `message` is the whole InvalidParameterException message;
 * `reason` is the part after "Lifecycle policy validation failure: ".
 */
export class LifecyclePolicyError extends RegistryError {
  readonly reason: string;
  /** Index in the document's `rules` array of the rule at fault, when one rule is. */
  readonly ruleIndex: number | undefined;
  readonly rulePriority: number | undefined;

  constructor(reason: string, rule?: { index: number; rulePriority: number | undefined }) {
    super('BadRequest', `${PREFIX}${reason}'`);
    this.name = 'LifecyclePolicyError';
    this.reason = reason;
    this.ruleIndex = rule?.index;
    this.rulePriority = rule?.rulePriority;
  }
}

const RULE_KEYS = ['rulePriority', 'description', 'selection', 'action'];
const SELECTION_KEYS = ['tagStatus', 'tagPatternList', 'tagPrefixList', 'storageClass', 'countType', 'countUnit', 'countNumber'];
const ACTION_KEYS = ['type', 'targetStorageClass'];
const TAG_STATUSES: readonly TagStatus[] = ['tagged', 'untagged', 'any'];
const STORAGE_CLASSES: readonly StorageClass[] = ['standard', 'archive'];
const COUNT_TYPES: readonly CountType[] = ['imageCountMoreThan', 'sinceImagePushed', 'sinceImagePulled', 'sinceImageTransitioned'];
const ACTION_TYPES: readonly LifecycleActionType[] = ['expire', 'transition'];
const PREFIX_CHARS = /^[A-Za-z0-9._-]+$/;
const PATTERN_CHARS = /^[A-Za-z0-9._*-]+$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? 'nothing';
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[]): v is T {
  return typeof v === 'string' && (allowed as readonly string[]).includes(v);
}

function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Reports problems of one rule, labelled by its rulePriority once that is known to be valid. */
class RuleContext {
  readonly index: number;
  rulePriority: number | undefined;

  constructor(index: number) {
    this.index = index;
  }

  fail(problem: string): never {
    const label = this.rulePriority === undefined ? `rules[${String(this.index)}]` : `rule with rulePriority ${String(this.rulePriority)}`;
    throw new LifecyclePolicyError(`${label}: ${problem}`, { index: this.index, rulePriority: this.rulePriority });
  }

  unknownKeys(obj: Json, allowed: readonly string[], where: string): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.fail(`unknown property "${where}${k}"; allowed: ${allowed.map((a) => where + a).join(', ')}`);
    }
  }
}

function tagList(ctx: RuleContext, sel: Json, key: 'tagPrefixList' | 'tagPatternList'): string[] | undefined {
  const v = sel[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) ctx.fail(`selection.${key} must be a list of strings, found ${show(v)}`);
  const list: string[] = v;
  if (list.length === 0) ctx.fail(`selection.${key} must not be empty`);
  for (const entry of list) {
    if (entry === '') ctx.fail(`selection.${key} has an empty entry`);
    if (key === 'tagPrefixList') {
      if (!PREFIX_CHARS.test(entry)) ctx.fail(`selection.tagPrefixList entry ${show(entry)} has a character a tag cannot have (allowed: letters, digits, '.', '_' and '-')`);
    } else {
      if (!PATTERN_CHARS.test(entry)) ctx.fail(`selection.tagPatternList entry ${show(entry)} has a character a tag cannot have (allowed: letters, digits, '.', '_', '-' and '*' as a wildcard)`);
      const wildcards = entry.split('*').length - 1;
      if (wildcards > MAX_WILDCARDS) ctx.fail(`selection.tagPatternList entry ${show(entry)} has ${String(wildcards)} wildcards; at most ${String(MAX_WILDCARDS)} are allowed`);
    }
  }
  return [...list];
}

function parseSelection(ctx: RuleContext, v: unknown): LifecycleSelection {
  if (v === undefined) ctx.fail('selection is required');
  if (!isObject(v)) ctx.fail(`selection must be a JSON object, found ${show(v)}`);
  ctx.unknownKeys(v, SELECTION_KEYS, 'selection.');

  const tagStatus = v['tagStatus'];
  if (tagStatus === undefined) ctx.fail('selection.tagStatus is required');
  if (!oneOf(tagStatus, TAG_STATUSES)) ctx.fail(`selection.tagStatus must be one of ${TAG_STATUSES.join(', ')}; found ${show(tagStatus)}`);
  const tagPrefixList = tagList(ctx, v, 'tagPrefixList');
  const tagPatternList = tagList(ctx, v, 'tagPatternList');
  if (tagStatus === 'tagged') {
    if (tagPrefixList === undefined && tagPatternList === undefined) ctx.fail('Must specify tagPrefixList or tagPatternList when tagStatus is tagged');
    if (tagPrefixList !== undefined && tagPatternList !== undefined) ctx.fail('specify tagPrefixList or tagPatternList, not both');
  } else {
    if (tagPrefixList !== undefined) ctx.fail(`selection.tagPrefixList is only allowed when tagStatus is tagged, not ${tagStatus}`);
    if (tagPatternList !== undefined) ctx.fail(`selection.tagPatternList is only allowed when tagStatus is tagged, not ${tagStatus}`);
  }

  const storageClass = v['storageClass'] === undefined ? 'standard' : v['storageClass'];
  if (!oneOf(storageClass, STORAGE_CLASSES)) ctx.fail(`selection.storageClass must be one of ${STORAGE_CLASSES.join(', ')}; found ${show(v['storageClass'])}`);

  const countType = v['countType'];
  if (countType === undefined) ctx.fail('selection.countType is required');
  if (!oneOf(countType, COUNT_TYPES)) ctx.fail(`selection.countType must be one of ${COUNT_TYPES.join(', ')}; found ${show(countType)}`);

  const countUnit = v['countUnit'];
  if (countType === 'imageCountMoreThan') {
    if (countUnit !== undefined) ctx.fail('selection.countUnit must be omitted when countType is imageCountMoreThan');
  } else {
    if (countUnit === undefined) ctx.fail(`selection.countUnit is required when countType is ${countType}`);
    if (countUnit !== 'days') ctx.fail(`selection.countUnit must be days; found ${show(countUnit)}`);
  }

  const countNumber = v['countNumber'];
  if (countNumber === undefined) ctx.fail('selection.countNumber is required');
  if (!isInteger(countNumber)) ctx.fail(`selection.countNumber must be an integer; found ${show(countNumber)}`);
  if (countNumber < 1) ctx.fail(`selection.countNumber must be at least 1; found ${String(countNumber)}`);

  if (countType === 'sinceImageTransitioned') {
    if (storageClass !== 'archive') ctx.fail('countType sinceImageTransitioned needs selection.storageClass archive');
    if (countNumber < ARCHIVE_MINIMUM_DAYS) {
      ctx.fail(`selection.countNumber must be at least ${String(ARCHIVE_MINIMUM_DAYS)} when countType is sinceImageTransitioned (archived images stay in the archive at least ${String(ARCHIVE_MINIMUM_DAYS)} days); found ${String(countNumber)}`);
    }
  } else if (storageClass === 'archive') {
    ctx.fail(`selection.storageClass archive can only be used with countType sinceImageTransitioned, not ${countType}`);
  }

  return {
    tagStatus,
    ...(tagPrefixList !== undefined ? { tagPrefixList } : {}),
    ...(tagPatternList !== undefined ? { tagPatternList } : {}),
    storageClass,
    countType,
    ...(countType !== 'imageCountMoreThan' ? { countUnit: 'days' as const } : {}),
    countNumber,
  };
}

function parseAction(ctx: RuleContext, v: unknown, selection: LifecycleSelection): LifecycleAction {
  if (v === undefined) ctx.fail('action is required');
  if (!isObject(v)) ctx.fail(`action must be a JSON object, found ${show(v)}`);
  ctx.unknownKeys(v, ACTION_KEYS, 'action.');
  const type = v['type'];
  if (type === undefined) ctx.fail('action.type is required');
  if (!oneOf(type, ACTION_TYPES)) ctx.fail(`action.type must be one of ${ACTION_TYPES.join(', ')}; found ${show(type)}`);
  const target = v['targetStorageClass'];
  if (type === 'transition') {
    if (target === undefined) ctx.fail('action.targetStorageClass is required when action.type is transition');
    if (target !== 'archive') ctx.fail(`action.targetStorageClass must be archive; found ${show(target)}`);
  } else if (target !== undefined) {
    ctx.fail('action.targetStorageClass is only allowed when action.type is transition');
  }
  if (selection.countType === 'sinceImagePulled' && type !== 'transition') ctx.fail('countType sinceImagePulled can only be used with action.type transition');
  if (selection.countType === 'sinceImageTransitioned' && type !== 'expire') ctx.fail('countType sinceImageTransitioned can only be used with action.type expire');
  // Unreachable after the storage-class checks above (archive rules are sinceImageTransitioned,
  // which expire), kept so the invariant holds even if those change.
  if (type === 'transition' && selection.storageClass !== 'standard') ctx.fail('action.type transition can only move standard images to the archive');
  return type === 'transition' ? { type, targetStorageClass: 'archive' } : { type };
}

function parseRule(v: unknown, index: number): LifecycleRule {
  const ctx: RuleContext = new RuleContext(index);
  if (!isObject(v)) ctx.fail(`a rule must be a JSON object, found ${show(v)}`);
  const p = v['rulePriority'];
  if (p === undefined) ctx.fail('rulePriority is required');
  if (!isInteger(p)) ctx.fail(`rulePriority must be an integer; found ${show(p)}`);
  if (p < 1) ctx.fail(`rulePriority must be at least 1; found ${String(p)}`);
  ctx.rulePriority = p;
  ctx.unknownKeys(v, RULE_KEYS, '');
  const description = v['description'];
  if (description !== undefined && typeof description !== 'string') ctx.fail(`description must be a string; found ${show(description)}`);
  const selection = parseSelection(ctx, v['selection']);
  const action = parseAction(ctx, v['action'], selection);
  return { rulePriority: p, ...(description !== undefined ? { description } : {}), selection, action };
}

function tagListKey(s: LifecycleSelection): string | undefined {
  if (s.tagPrefixList !== undefined) return `tagPrefixList ${JSON.stringify([...new Set(s.tagPrefixList)].sort())}`;
  if (s.tagPatternList !== undefined) return `tagPatternList ${JSON.stringify([...new Set(s.tagPatternList)].sort())}`;
  return undefined;
}

/** The checks that look at several rules at once. `rules` are in document order. */
function checkAcrossRules(rules: readonly LifecycleRule[]): void {
  const at = (r: LifecycleRule): { index: number; rulePriority: number } => ({ index: rules.indexOf(r), rulePriority: r.rulePriority });
  const seen = new Map<number, LifecycleRule>();
  for (const r of rules) {
    const first = seen.get(r.rulePriority);
    if (first !== undefined) {
      throw new LifecyclePolicyError(`rulePriority ${String(r.rulePriority)} is used by more than one rule (rules[${String(rules.indexOf(first))}] and rules[${String(rules.indexOf(r))}]); every rule needs a unique rulePriority`, at(r));
    }
    seen.set(r.rulePriority, r);
  }
  for (const storageClass of STORAGE_CLASSES) {
    const inClass = rules.filter((r) => r.selection.storageClass === storageClass).sort((a, b) => a.rulePriority - b.rulePriority);
    const last = inClass[inClass.length - 1];
    for (const r of inClass) {
      if (r.selection.tagStatus === 'any' && r !== last && last !== undefined) {
        throw new LifecyclePolicyError(
          `Rule for tagStatus any must have the highest rulePriority of the ${storageClass} rules: rule with rulePriority ${String(r.rulePriority)} selects any ${storageClass} image, but rule with rulePriority ${String(last.rulePriority)} comes after it`,
          at(r),
        );
      }
    }
    const untagged = inClass.filter((r) => r.selection.tagStatus === 'untagged');
    const [u1, u2] = untagged;
    if (u1 !== undefined && u2 !== undefined) {
      throw new LifecyclePolicyError(`Only one rule can select untagged images per storage class: rules with rulePriority ${String(u1.rulePriority)} and ${String(u2.rulePriority)} both select untagged ${storageClass} images`, at(u2));
    }
    const lists = new Map<string, LifecycleRule>();
    for (const r of inClass) {
      const key = tagListKey(r.selection);
      if (key === undefined) continue;
      const other = lists.get(key);
      if (other !== undefined) {
        throw new LifecyclePolicyError(`rules with rulePriority ${String(other.rulePriority)} and ${String(r.rulePriority)} select the same tags (${key}) among ${storageClass} images; the rules of a storage class need unique tag lists`, at(r));
      }
      lists.set(key, r);
    }
  }
}

/** Parses and validates a lifecycle policy document as ECR does; throws LifecyclePolicyError. */
export function parseLifecyclePolicy(text: string): LifecyclePolicy {
  if (text.length > MAX_POLICY_TEXT_LENGTH) {
    throw new LifecyclePolicyError(`the policy text has ${String(text.length)} characters; at most ${String(MAX_POLICY_TEXT_LENGTH)} are allowed`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new LifecyclePolicyError('Could not map policyString into LifecyclePolicy.');
  }
  if (!isObject(doc)) throw new LifecyclePolicyError('Could not map policyString into LifecyclePolicy.');
  for (const k of Object.keys(doc)) {
    if (k !== 'rules') throw new LifecyclePolicyError(`unknown property "${k}" at the top level; a policy has only "rules"`);
  }
  const rules = doc['rules'];
  if (rules === undefined) throw new LifecyclePolicyError('rules is required');
  if (!Array.isArray(rules)) throw new LifecyclePolicyError(`rules must be a list of rules, found ${show(rules)}`);
  if (rules.length === 0) throw new LifecyclePolicyError('rules must have at least 1 rule');
  if (rules.length > MAX_RULES) throw new LifecyclePolicyError(`rules has ${String(rules.length)} rules; at most ${String(MAX_RULES)} are allowed`);
  const parsed = rules.map((r: unknown, i) => parseRule(r, i));
  checkAcrossRules(parsed);
  return { rules: [...parsed].sort((a, b) => a.rulePriority - b.rulePriority) };
}
