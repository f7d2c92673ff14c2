import { DOWNLOAD_TOKEN_PARAM, issueDownloadToken } from '../../auth/index.ts';
import { parseDigest } from '../../core/digest.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';

/** ECR's download URLs live about an hour. */
const DEFAULT_TTL_SECONDS = 3600;
/** The longest a SigV4-presigned S3 URL may live (7 days). */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

// GetDownloadUrlForLayer: a URL that serves the layer without other credentials until it expires
// (auth.downloadUrlTtl, one hour by default). On a store that presigns (S3) it is the store's own
// presigned URL; otherwise it is berth's /v2/ blob URL with a download token signed by the
// deployment's keyring, naming the account, repository, digest and expiry, which /v2/ honours for
// that one blob only (GET and HEAD, ranges included). As ECR: only layers an image of the
// repository references can be downloaded (LayerInaccessibleException for an uploaded layer no
// manifest uses yet), LayersNotFoundException when the repository does not hold the blob.
export default defineOperation('GetDownloadUrlForLayer', async (ctx, input) => {
  await ctx.authorize('ecr:GetDownloadUrlForLayer', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const digest = parseDigest(input.layerDigest, 'layerDigest').digest;
  if ((await ctx.meta.blobs.getInRepository(repo.id, digest)) === undefined) {
    throw new EcrException('LayersNotFoundException', `The layer with digest '${digest}' does not exist in the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
  }
  if ((await ctx.meta.manifests.blobUsers(repo.id, digest, 1)).length === 0) {
    throw new EcrException(
      'LayerInaccessibleException',
      `The layer with digest '${digest}' is not referenced by any image in the repository with name '${repo.name}' in the registry with id '${repo.accountId}'; only layers of images can be downloaded`,
    );
  }
  const ttl = ctx.downloadUrlTtlSeconds ?? DEFAULT_TTL_SECONDS;
  const presigned = await ctx.registry.blobs.presign(digest, Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.ceil(ttl))));
  if (presigned !== null) return { downloadUrl: presigned, layerDigest: digest };
  const token = issueDownloadToken(ctx.keyring, { accountId: repo.accountId, repository: repo.name, digest, expiresAt: ctx.now() + ttl * 1000, issuedTo: ctx.principal.arn });
  const base = ctx.publicUrl.replace(/\/+$/, '');
  return { downloadUrl: `${base}/v2/${repo.name}/blobs/${digest}?${DOWNLOAD_TOKEN_PARAM}=${token}`, layerDigest: digest };
});
