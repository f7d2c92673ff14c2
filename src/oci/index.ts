export { ociPlugin, type OciDeps } from './routes.ts';
export { matchRoute, splitUrl, type OciRoute } from './router.ts';
export { renderOciError } from './errors.ts';
