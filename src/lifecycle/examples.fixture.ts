// The policies of the ECR user guide page "Examples of lifecycle policies in Amazon ECR"
// (lifecycle_policy_examples), as documents, for the parser's and the evaluator's tests. The
// descriptions are shortened; the selections and actions are the page's. Where the page has an
// older revision using tagPrefixList for the same example, that variant is here too.

export type PolicyDocument = { rules: Array<Record<string, unknown>> };

function rule(rulePriority: number, selection: Record<string, unknown>, action: Record<string, unknown> = { type: 'expire' }): Record<string, unknown> {
  return { rulePriority, description: `Rule ${String(rulePriority)}`, selection, action };
}

const transition = { type: 'transition', targetStorageClass: 'archive' };

export const DOC_EXAMPLES = {
  /** "Filtering on image age": tags matching prod*, pushed more than 14 days ago. */
  imageAge: { rules: [rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 })] },
  /** "Filtering on last pulled time": to the archive when not pulled for 90 days. */
  lastPulled: { rules: [rule(1, { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 90 }, transition)] },
  /** "Filtering on archive transition time": expire what has been archived for more than 365 days. */
  archiveTransitionTime: { rules: [rule(1, { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 })] },
  /** "Filtering on image count": keep one untagged image. */
  imageCount: { rules: [rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 })] },
  /** "Filtering on multiple rules", example A. */
  multipleRulesA: {
    rules: [
      rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'tagged', tagPatternList: ['beta*'], countType: 'imageCountMoreThan', countNumber: 1 }),
    ],
  },
  /** The same, as the page's earlier revision wrote it with tagPrefixList. */
  multipleRulesAPrefix: {
    rules: [
      rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 }),
    ],
  },
  /** "Filtering on multiple rules", example B: the priorities swapped. */
  multipleRulesB: {
    rules: [
      rule(1, { tagStatus: 'tagged', tagPatternList: ['beta*'], countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'imageCountMoreThan', countNumber: 1 }),
    ],
  },
  multipleRulesBPrefix: {
    rules: [
      rule(1, { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 }),
    ],
  },
  /** "Filtering on multiple tags in a single rule", example A. */
  multipleTagsA: { rules: [rule(1, { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], countType: 'sinceImagePushed', countNumber: 5, countUnit: 'days' })] },
  multipleTagsAPrefix: { rules: [rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha', 'beta'], countType: 'sinceImagePushed', countNumber: 5, countUnit: 'days' })] },
  /** "Filtering on multiple tags in a single rule", example B. */
  multipleTagsB: { rules: [rule(1, { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], countType: 'imageCountMoreThan', countNumber: 1 })] },
  multipleTagsBPrefix: { rules: [rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha', 'beta'], countType: 'imageCountMoreThan', countNumber: 1 })] },
  /** "Filtering on all images", example A: keep one image of any kind. */
  allImagesA: { rules: [rule(1, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 })] },
  /** "Filtering on all images", example B: tagged, untagged and any rules together. */
  allImagesB: {
    rules: [
      rule(1, { tagStatus: 'tagged', tagPatternList: ['alpha*'], countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }),
      rule(3, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }),
    ],
  },
  /** "Archive examples": prod* images pushed more than 30 days ago go to the archive. */
  archiveOlderThan: { rules: [rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, transition)] },
  /** "Archive examples": images not pulled for 90 days go to the archive. */
  archiveNotPulled: { rules: [rule(1, { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 90 }, transition)] },
  /** "Archive examples", combining: archive after 30 days, expire after 365 days in the archive. */
  archiveThenExpire: {
    rules: [
      rule(1, { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, transition),
      rule(2, { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 }),
    ],
  },
} satisfies Record<string, PolicyDocument>;
