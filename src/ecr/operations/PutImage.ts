import { digestOf, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';

// PutImage: a manifest pushed through the API, stored by the same code as a /v2/ manifest PUT (its
// checks, limits, tag immutability and events), so the registry's errors become the modelled
// exceptions: LayersNotFoundException, ReferencedImagesNotFoundException,
// ImageTagAlreadyExistsException (an immutable tag pointing elsewhere), InvalidParameterException
// (an invalid manifest or tag). berth adds ImageDigestDoesNotMatchException (imageDigest is not the
// manifest's digest) and ImageAlreadyExistsException (the manifest is there and already carries the
// tag, or, without a tag, is simply there: the push would change nothing).
export default defineOperation('PutImage', async (ctx, input) => {
  await ctx.authorize('ecr:PutImage', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const body = Buffer.from(input.imageManifest, 'utf8');

  // As ECR: a manifest without a mediaType field needs imageManifestMediaType.
  if (input.imageManifestMediaType === undefined) {
    let declared: unknown;
    try {
      declared = (JSON.parse(input.imageManifest) as { mediaType?: unknown } | null)?.mediaType;
    } catch {
      declared = 'unparsable: the registry reports it';
    }
    if (typeof declared !== 'string') {
      throw new EcrException('InvalidParameterException', "Invalid parameter at 'imageManifestMediaType': the manifest has no mediaType field, so imageManifestMediaType must be given");
    }
  }

  let reference = input.imageTag;
  if (input.imageDigest !== undefined) {
    const expected = parseDigest(input.imageDigest, 'imageDigest');
    if (input.imageTag !== undefined && expected.algorithm !== 'sha256') {
      throw new EcrException('InvalidParameterException', "Invalid parameter at 'imageDigest': with imageTag, imageDigest must be a sha256 digest");
    }
    const actual = digestOf(body, expected.algorithm);
    if (actual !== expected.digest) {
      throw new RegistryError('ManifestDigestMismatch', `The image digest '${expected.digest}' does not match the digest of the manifest, '${actual}'`, { expected: expected.digest, actual });
    }
    reference ??= expected.digest;
  }
  reference ??= digestOf(body, 'sha256');

  const r = await ctx.registry.manifests.put({ accountId: repo.accountId, name: repo.name }, reference, body, input.imageManifestMediaType);
  if (!r.created && (input.imageTag === undefined || r.previous === r.digest)) {
    throw new EcrException(
      'ImageAlreadyExistsException',
      input.imageTag === undefined
        ? `Image with digest '${r.digest}' already exists in the repository with name '${repo.name}' in registry with id '${repo.accountId}'`
        : `Image with digest '${r.digest}' and tag '${input.imageTag}' already exists in the repository with name '${repo.name}' in registry with id '${repo.accountId}'`,
    );
  }
  ctx.log.info({ repository: repo.name, account: repo.accountId, digest: r.digest, tag: input.imageTag }, 'image put');
  return {
    image: {
      registryId: repo.accountId,
      repositoryName: repo.name,
      imageId: { imageDigest: r.digest, ...(input.imageTag !== undefined ? { imageTag: input.imageTag } : {}) },
      imageManifest: input.imageManifest,
      imageManifestMediaType: r.mediaType,
    },
  };
});
