// berth's client of other registries (OCI distribution-spec), used by the pull-through cache and replication.
export { RegistryClient, MANIFEST_ACCEPT, referrersTag, type RegistryClientOptions, type Manifest, type ManifestHead, type BlobStat, type BlobSource } from './client.ts';
export { VerifiedBlobStream } from './blob-stream.ts';
export { UpstreamError, type UpstreamErrorKind } from './errors.ts';
export type { Credentials } from './auth.ts';
export { KNOWN_REGISTRIES, DOCKER_HUB_URL, normaliseUpstream, recogniseRegistry, type KnownRegistry, type NormalisedUpstream, type UpstreamRegistryName } from './registries.ts';
