import { tryParseDigest } from '../../core/digest.ts';
import type { Layer, LayerFailure } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { layerMediaType } from './layer-support.ts';

// BatchCheckLayerAvailability: one entry per requested digest, in order. A well-formed digest is a
// layer: AVAILABLE with its size and the media type a manifest of the repository gives it (none
// before a manifest references it), or UNAVAILABLE when the repository does not hold it (ECR answers
// so: AWS's own amazon-ecr-containerd-resolver pushes a layer when the answer is UNAVAILABLE and
// fails when it gets a failure instead). Failures are for digests that are not digests: an empty
// string (MissingLayerDigest) or a malformed one (InvalidLayerDigest). Blobs pushed through /v2/ and
// through the API are the same blobs.
export default defineOperation('BatchCheckLayerAvailability', async (ctx, input) => {
  await ctx.authorize('ecr:BatchCheckLayerAvailability', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const valid = input.layerDigests.filter((d) => tryParseDigest(d) !== null);
  const sizes = await ctx.meta.blobs.sizesInRepository(repo.id, [...new Set(valid)]);
  const manifests = new Map<string, unknown>();
  const layers: Layer[] = [];
  const failures: LayerFailure[] = [];
  for (const d of input.layerDigests) {
    if (d === '') {
      failures.push({ layerDigest: d, failureCode: 'MissingLayerDigest', failureReason: 'Invalid request parameters: the layer digest is empty' });
      continue;
    }
    if (tryParseDigest(d) === null) {
      failures.push({ layerDigest: d, failureCode: 'InvalidLayerDigest', failureReason: 'Invalid request parameters: layer digest should be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>' });
      continue;
    }
    const size = sizes.get(d);
    if (size === undefined) {
      layers.push({ layerDigest: d, layerAvailability: 'UNAVAILABLE' });
      continue;
    }
    const layer: Layer = { layerDigest: d, layerAvailability: 'AVAILABLE', layerSize: size };
    const mediaType = await layerMediaType(ctx.meta, repo, d, manifests);
    if (mediaType !== undefined) layer.mediaType = mediaType;
    layers.push(layer);
  }
  return { layers, failures };
});
