// The one error catalog. Every failure berth reports is a RegistryError with a code from this table;
// the OCI (/v2/) and ECR (JSON API) error handlers render it in their protocol's format.
// Adding a code without all of its mappings does not compile.

/** OCI distribution-spec error codes (spec.md "Error Codes"), plus legacy codes clients understand. */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  // Distribution's code for a refused tag, which ECR answers for an immutable tag (Docker shows "tag invalid: ...").
  | 'TAG_INVALID'
  | 'UNKNOWN';

interface Mapping {
  /** HTTP status on /v2/. */
  status: number;
  oci: OciErrorCode;
  /** ECR exception name (`__type`) on the JSON API. */
  ecr: string;
  /** HTTP status on the ECR API (400 for every client error, 500 for ServerException). */
  ecrStatus?: number;
  /** One line for docs/errors.md. */
  description: string;
}

export const ERROR_CATALOG = {
  BlobUnknown: { status: 404, oci: 'BLOB_UNKNOWN', ecr: 'LayersNotFoundException', description: 'The blob is not in the repository.' },
  BlobUploadInvalid: { status: 400, oci: 'BLOB_UPLOAD_INVALID', ecr: 'InvalidLayerPartException', description: 'The upload request is malformed (bad Content-Range, missing digest, ...).' },
  BlobUploadUnknown: { status: 404, oci: 'BLOB_UPLOAD_UNKNOWN', ecr: 'UploadNotFoundException', description: 'No upload session with that id exists in the repository.' },
  ChunkOutOfOrder: { status: 416, oci: 'BLOB_UPLOAD_INVALID', ecr: 'InvalidLayerPartException', description: 'A chunk does not start where the upload currently ends.' },
  RangeNotSatisfiable: { status: 416, oci: 'SIZE_INVALID', ecr: 'InvalidParameterException', description: 'The requested byte range lies outside the blob.' },
  DigestInvalid: { status: 400, oci: 'DIGEST_INVALID', ecr: 'InvalidParameterException', description: 'A digest is malformed or uses an unsupported algorithm.' },
  DigestMismatch: { status: 400, oci: 'DIGEST_INVALID', ecr: 'InvalidLayerException', description: 'The uploaded content does not match the digest given for it.' },
  ManifestDigestMismatch: { status: 400, oci: 'DIGEST_INVALID', ecr: 'ImageDigestDoesNotMatchException', description: 'The manifest body does not match the digest in the URL.' },
  SizeInvalid: { status: 400, oci: 'SIZE_INVALID', ecr: 'InvalidLayerException', description: 'Content-Length does not match the content received.' },
  ManifestBlobUnknown: { status: 400, oci: 'MANIFEST_BLOB_UNKNOWN', ecr: 'LayersNotFoundException', description: 'The manifest references a blob the repository does not have.' },
  ManifestReferenceUnknown: { status: 400, oci: 'MANIFEST_BLOB_UNKNOWN', ecr: 'ReferencedImagesNotFoundException', description: 'The index references a manifest the repository does not have.' },
  ManifestInvalid: { status: 400, oci: 'MANIFEST_INVALID', ecr: 'InvalidParameterException', description: 'The manifest is not valid JSON or not a valid manifest of its media type.' },
  ManifestTooLarge: { status: 413, oci: 'MANIFEST_INVALID', ecr: 'InvalidParameterException', description: 'The manifest is larger than the limit (4 MiB).' },
  ManifestUnknown: { status: 404, oci: 'MANIFEST_UNKNOWN', ecr: 'ImageNotFoundException', description: 'No manifest with that tag or digest exists in the repository.' },
  ImageArchived: { status: 404, oci: 'MANIFEST_UNKNOWN', ecr: 'ImageArchivedException', description: 'The image is in the archive storage class: listed and described, but not pulled or scanned until it is restored.' },
  StorageClassUpdateUnsupported: {
    status: 409,
    oci: 'UNSUPPORTED',
    ecr: 'ImageStorageClassUpdateNotSupportedException',
    description: 'The image cannot move to that storage class now (an active index lists it).',
  },
  UpstreamUnavailable: {
    status: 502,
    oci: 'UNKNOWN',
    ecr: 'UnableToGetUpstreamImageException',
    description: 'A pull-through cache rule applies but the upstream registry could not give the image (unreachable, refused the credentials, or failed).',
  },
  ManifestReferenced: { status: 409, oci: 'UNSUPPORTED', ecr: 'InvalidParameterException', description: 'The manifest is listed by an index in the repository; delete the index first.' },
  BlobReferenced: { status: 405, oci: 'UNSUPPORTED', ecr: 'InvalidParameterException', description: 'The blob is used by a manifest in the repository; delete the manifest first.' },
  TagInvalid: { status: 400, oci: 'MANIFEST_INVALID', ecr: 'InvalidParameterException', description: 'A tag does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.' },
  ImageTagImmutable: { status: 400, oci: 'TAG_INVALID', ecr: 'ImageTagAlreadyExistsException', description: 'The tag is immutable and already points at another image.' },
  NameInvalid: { status: 400, oci: 'NAME_INVALID', ecr: 'InvalidParameterException', description: "The repository name does not follow ECR's naming rules." },
  NameUnknown: { status: 404, oci: 'NAME_UNKNOWN', ecr: 'RepositoryNotFoundException', description: 'The repository does not exist.' },
  Unauthorized: { status: 401, oci: 'UNAUTHORIZED', ecr: 'UnrecognizedClientException', description: 'Authentication is required or the credentials were not accepted.' },
  SignatureMissing: { status: 401, oci: 'UNAUTHORIZED', ecr: 'MissingAuthenticationTokenException', ecrStatus: 403, description: 'The request carries no AWS Signature Version 4 authentication.' },
  SignatureIncomplete: { status: 401, oci: 'UNAUTHORIZED', ecr: 'IncompleteSignatureException', description: 'The Authorization header or presigned query is malformed.' },
  SignatureInvalid: { status: 401, oci: 'UNAUTHORIZED', ecr: 'InvalidSignatureException', description: 'The signature does not match, is scoped to another region or service, or its date is too far from the server clock.' },
  ClientUnrecognized: { status: 401, oci: 'UNAUTHORIZED', ecr: 'UnrecognizedClientException', description: 'The access key or security token is not known.' },
  TokenExpired: { status: 401, oci: 'UNAUTHORIZED', ecr: 'ExpiredTokenException', description: 'The security token or login token has expired.' },
  Denied: { status: 403, oci: 'DENIED', ecr: 'AccessDeniedException', description: 'The caller is authenticated but not allowed to perform the action.' },
  Unsupported: { status: 405, oci: 'UNSUPPORTED', ecr: 'ValidationException', description: 'The operation is not supported.' },
  TooManyRequests: { status: 429, oci: 'TOOMANYREQUESTS', ecr: 'ThrottlingException', description: 'The caller sent too many requests.' },
  BadRequest: { status: 400, oci: 'UNSUPPORTED', ecr: 'InvalidParameterException', description: 'The request is malformed.' },
  NotFound: { status: 404, oci: 'UNSUPPORTED', ecr: 'InvalidParameterException', description: 'No such endpoint.' },
  Unavailable: { status: 503, oci: 'UNKNOWN', ecr: 'ServerException', ecrStatus: 500, description: 'berth is shutting down or a backing store is unavailable; retry.' },
  Internal: { status: 500, oci: 'UNKNOWN', ecr: 'ServerException', ecrStatus: 500, description: 'An unexpected error; the log has the details under the request id.' },
} as const satisfies Record<string, Mapping>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** Extra response headers (for example `Range` on 416, `Retry-After` on 429). */
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, detail?: unknown, headers?: Record<string, string>) {
    super(message);
    this.name = 'RegistryError';
    this.code = code;
    this.detail = detail;
    this.headers = headers;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
  get ociCode(): OciErrorCode {
    return ERROR_CATALOG[this.code].oci;
  }
  get ecrType(): string {
    return ERROR_CATALOG[this.code].ecr;
  }
  get ecrStatus(): number {
    const m: Mapping = ERROR_CATALOG[this.code];
    return m.ecrStatus ?? 400;
  }
}

export function isRegistryError(e: unknown): e is RegistryError {
  return e instanceof RegistryError;
}
