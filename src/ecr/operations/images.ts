// Image operations.
import type { OperationName } from '../generated/model.ts';
import type { EcrOperation } from '../operation.ts';
import BatchDeleteImage from './BatchDeleteImage.ts';
import BatchGetImage from './BatchGetImage.ts';
import DescribeImages from './DescribeImages.ts';
import ListImageReferrers from './ListImageReferrers.ts';
import ListImages from './ListImages.ts';
import PutImage from './PutImage.ts';

export const IMAGE_OPERATIONS = [ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage, ListImageReferrers] as ReadonlyArray<EcrOperation<OperationName>>;
