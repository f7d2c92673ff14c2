// Image operations.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';

export const IMAGE_OPERATIONS = [] as ReadonlyArray<EcrOperation<OperationName>>;
