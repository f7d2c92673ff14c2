// ECR lifecycle policies, the pure engine: parse and validate a policy document, and evaluate it
// against a repository's images at a given time. No I/O; src/registry applies the results.
export {
  ARCHIVE_MINIMUM_DAYS,
  LifecyclePolicyError,
  MAX_POLICY_TEXT_LENGTH,
  MAX_RULES,
  MAX_WILDCARDS,
  parseLifecyclePolicy,
  type CountType,
  type LifecycleAction,
  type LifecycleActionType,
  type LifecyclePolicy,
  type LifecycleRule,
  type LifecycleSelection,
  type StorageClass,
  type TagStatus,
} from './policy.ts';
export { DAY_MS, evaluateLifecyclePolicy, selectionMatchesTags, tagMatchesPattern, type LifecycleImage, type LifecycleResult } from './evaluate.ts';
