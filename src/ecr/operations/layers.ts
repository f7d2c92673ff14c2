// Layer operations: upload by API and download URLs.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';

export const LAYER_OPERATIONS = [] as ReadonlyArray<EcrOperation<OperationName>>;
