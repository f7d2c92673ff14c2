// IAM and STS over AWS's query protocol. Importing the API modules registers their operations.
import './iam-api.ts';
import './sts-api.ts';
export { handleQuery, isQueryRequest, COMMON_QUERY_ERRORS, IAM_META, STS_META, QueryException, type QueryDeps, type QueryContext } from './query.ts';
export { IAM_HANDLERS, IAM_QUOTAS, newIamId } from './iam-api.ts';
export { STS_HANDLERS, STS_LIMITS } from './sts-api.ts';
export { WebIdentityVerifier, WebIdentityError, issuerOf } from './oidc.ts';
