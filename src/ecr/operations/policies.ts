// Repository and registry policy operations. The documents are validated here; the IAM policy
// engine (src/auth/policy) reads them when it decides requests.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';
import DeleteRegistryPolicy from './DeleteRegistryPolicy.ts';
import DeleteRepositoryPolicy from './DeleteRepositoryPolicy.ts';
import GetRegistryPolicy from './GetRegistryPolicy.ts';
import GetRepositoryPolicy from './GetRepositoryPolicy.ts';
import PutRegistryPolicy from './PutRegistryPolicy.ts';
import SetRepositoryPolicy from './SetRepositoryPolicy.ts';

export const POLICY_OPERATIONS = [SetRepositoryPolicy, GetRepositoryPolicy, DeleteRepositoryPolicy, PutRegistryPolicy, GetRegistryPolicy, DeleteRegistryPolicy] as ReadonlyArray<EcrOperation<OperationName>>;
