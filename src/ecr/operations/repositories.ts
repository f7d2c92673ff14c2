// Repository, registry and account-setting operations, and repository creation templates.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';
import CreateRepository from './CreateRepository.ts';
import CreateRepositoryCreationTemplate from './CreateRepositoryCreationTemplate.ts';
import DeleteRepository from './DeleteRepository.ts';
import DeleteRepositoryCreationTemplate from './DeleteRepositoryCreationTemplate.ts';
import DescribeRegistry from './DescribeRegistry.ts';
import DescribeRepositories from './DescribeRepositories.ts';
import DescribeRepositoryCreationTemplates from './DescribeRepositoryCreationTemplates.ts';
import GetAccountSetting from './GetAccountSetting.ts';
import ListTagsForResource from './ListTagsForResource.ts';
import PutAccountSetting from './PutAccountSetting.ts';
import PutImageScanningConfiguration from './PutImageScanningConfiguration.ts';
import PutImageTagMutability from './PutImageTagMutability.ts';
import TagResource from './TagResource.ts';
import UntagResource from './UntagResource.ts';
import UpdateRepositoryCreationTemplate from './UpdateRepositoryCreationTemplate.ts';

export const REPOSITORY_OPERATIONS = [
  CreateRepository,
  DeleteRepository,
  DescribeRepositories,
  PutImageTagMutability,
  PutImageScanningConfiguration,
  TagResource,
  UntagResource,
  ListTagsForResource,
  DescribeRegistry,
  GetAccountSetting,
  PutAccountSetting,
  CreateRepositoryCreationTemplate,
  DescribeRepositoryCreationTemplates,
  UpdateRepositoryCreationTemplate,
  DeleteRepositoryCreationTemplate,
] as ReadonlyArray<EcrOperation<OperationName>>;
