export { handleQuery, isQueryRequest, STS_NAMESPACE, type QueryDeps } from './query.ts';
export { element, escapeXml, queryError, queryResponse } from './xml.ts';
