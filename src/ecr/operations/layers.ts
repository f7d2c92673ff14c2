// Layer operations: upload by API and download URLs, on the same upload and blob use-cases as /v2/.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';
import BatchCheckLayerAvailability from './BatchCheckLayerAvailability.ts';
import CompleteLayerUpload from './CompleteLayerUpload.ts';
import GetDownloadUrlForLayer from './GetDownloadUrlForLayer.ts';
import InitiateLayerUpload from './InitiateLayerUpload.ts';
import UploadLayerPart from './UploadLayerPart.ts';

export const LAYER_OPERATIONS = [BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, GetDownloadUrlForLayer] as ReadonlyArray<EcrOperation<OperationName>>;
