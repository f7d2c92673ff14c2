// Every ECR operation berth implements, by group. The protocol answers UnknownOperationException for
// the rest of the model's operations.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';
import { REPOSITORY_OPERATIONS } from './repositories.ts';
import { IMAGE_OPERATIONS } from './images.ts';
import { LAYER_OPERATIONS } from './layers.ts';
import { POLICY_OPERATIONS } from './policies.ts';
import { LIFECYCLE_OPERATIONS } from './lifecycle.ts';
import { ARCHIVE_OPERATIONS } from './archive.ts';
import { SCANNING_OPERATIONS } from './scanning.ts';
import { PULL_THROUGH_CACHE_OPERATIONS } from './pull-through-cache.ts';
import { REPLICATION_OPERATIONS } from './replication.ts';
import GetAuthorizationToken from './GetAuthorizationToken.ts';

export const OPERATION_HANDLERS: ReadonlyArray<EcrOperation<OperationName>> = [
  ...REPOSITORY_OPERATIONS,
  ...IMAGE_OPERATIONS,
  ...LAYER_OPERATIONS,
  ...POLICY_OPERATIONS,
  ...LIFECYCLE_OPERATIONS,
  ...ARCHIVE_OPERATIONS,
  ...SCANNING_OPERATIONS,
  ...PULL_THROUGH_CACHE_OPERATIONS,
  ...REPLICATION_OPERATIONS,
  GetAuthorizationToken,
] as ReadonlyArray<EcrOperation<OperationName>>;
