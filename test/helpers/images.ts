// Small in-memory OCI images for tests and benchmarks: one config and one uncompressed layer, with
// their blobs by digest, so a test can push them anywhere (berth, an upstream, a fake).
import { createHash } from 'node:crypto';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface TestImage {
  manifest: Buffer;
  digest: string;
  blobs: Map<string, Buffer>;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An image whose config carries `label` (distinct labels, distinct images) and whose layer is
 * `layer`, or `layerSize` bytes of the label; with `subject`, a referrer of that image.
 */
export function testImage(label: string, opts: { layer?: Buffer; layerSize?: number; subject?: TestImage } = {}): TestImage {
  const layer = opts.layer ?? Buffer.alloc(opts.layerSize ?? 32 * 1024, label);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label }));
  const { subject } = opts;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
      ...(subject !== undefined ? { subject: { mediaType: testImageMediaType(subject), digest: subject.digest, size: subject.manifest.length } } : {}),
    }),
  );
  return { manifest, digest: sha256(manifest), blobs: new Map([[sha256(config), config], [sha256(layer), layer]]) };
}

/** The media type of a test image's (or index's) manifest. */
export function testImageMediaType(img: TestImage): string {
  return (JSON.parse(img.manifest.toString()) as { mediaType: string }).mediaType;
}
