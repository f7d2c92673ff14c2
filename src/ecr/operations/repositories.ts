// Repository, registry and account-setting operations.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';
import CreateRepository from './CreateRepository.ts';
import DeleteRepository from './DeleteRepository.ts';
import DescribeRepositories from './DescribeRepositories.ts';

export const REPOSITORY_OPERATIONS = [CreateRepository, DeleteRepository, DescribeRepositories] as ReadonlyArray<EcrOperation<OperationName>>;
