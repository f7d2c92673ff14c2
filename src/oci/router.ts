// Maps a /v2/ request path to an OCI distribution-spec endpoint. Names may contain '/', so each
// endpoint is recognised by its fixed suffix; references, digests and upload ids never contain '/'.

export type OciRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }
  /** berth's own: the image's inventory as an SBOM (`_` cannot start a name component, so no name collides). */
  | { kind: 'sbom'; name: string; reference: string };

const PATTERNS: Array<[RegExp, (m: RegExpExecArray) => OciRoute]> = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1] as string, reference: m[2] as string })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1] as string })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1] as string, id: m[2] as string })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1] as string, digest: m[2] as string })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1] as string })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1] as string, digest: m[2] as string })],
  [/^\/v2\/(.+)\/_berth\/sbom\/([^/]+)$/, (m) => ({ kind: 'sbom', name: m[1] as string, reference: m[2] as string })],
];

/** The methods each endpoint answers. */
export const ALLOWED_METHODS: Record<OciRoute['kind'], readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  tags: ['GET'],
  referrers: ['GET'],
  sbom: ['GET'],
};

/** Routes a decoded path (without query string); null when no endpoint matches. */
export function matchRoute(path: string): OciRoute | null {
  for (const [re, build] of PATTERNS) {
    const m = re.exec(path);
    if (m !== null) return build(m);
  }
  return null;
}

/** Splits a raw request URL into its decoded path and query parameters; null for undecodable paths. */
export function splitUrl(rawUrl: string): { path: string; query: URLSearchParams } | null {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  let path: string;
  try {
    path = rawPath.includes('%') ? decodeURIComponent(rawPath) : rawPath;
  } catch {
    return null;
  }
  return { path, query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)) };
}
