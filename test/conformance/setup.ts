// Test data of the OCI distribution-spec v1.1 conformance suite, ported from
// opencontainers/distribution-spec v1.1.1 conformance/setup.go and image.go.
//
// The Go suite builds, once per run: one unique image config per workflow (a random `author`),
// the gzip tarball layer of the suite, one image manifest per config (whose config descriptor
// carries the config inline in `data` plus a field the image-spec does not define), a manifest
// without layers, two 42-byte random blobs (one of them pushed in two chunks), the empty JSON blob,
// two referrer blobs, five referrer manifests (artifactType given by the config media type or by
// `artifactType`, with subject manifests[4] or the never-pushed manifests[3]) and a referrer index.
//
// Go's random sources are replaced by a seeded generator so that every run pushes the same bytes:
// each test file starts its own registry on an empty data directory, so uniqueness across runs is
// not needed, and deterministic data makes failures reproducible.
import { createHash } from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  octetStream: 'application/octet-stream',
} as const;

/** A piece of content with its length (as the header string the suite sends) and digest. */
export interface TestBlob {
  content: Buffer;
  contentLength: string;
  digest: string;
}

export type Algorithm = 'sha256' | 'sha512';

export function digestOf(data: Uint8Array | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function testBlob(content: Buffer | string, algorithm: Algorithm = 'sha256'): TestBlob {
  const b = typeof content === 'string' ? Buffer.from(content) : content;
  return { content: b, contentLength: String(b.length), digest: digestOf(b, algorithm) };
}

// ---------------------------------------------------------------------------------------------
// Constants of setup.go

/** pull, push, contentDiscovery, contentManagement are 1<<0..1<<3; numWorkflows is 1<<4. */
export const NUM_WORKFLOWS = 16;
export const emptyLayerTestTag = 'emptylayer';
export const testTagName = 'tagtest0';
export const artifactTypeFilter = 'artifactType';
export const nonexistentManifest = '.INVALID_MANIFEST_NAME';
export const invalidManifestContent = Buffer.from('blablabla');
export const dummyDigest = digestOf('hello world');

/** The error codes setup.go accepts (spec.md "Error Codes" plus legacy Docker codes). */
export const errorCodes: readonly string[] = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
];

/**
 * A simple gzip tarball (from setup.go):
 *   echo 'you bothered to find out what was in here. Congratulations!' > test.txt
 *   tar czvf test.tar.gz test.txt
 */
const layerBase64String =
  'H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0' +
  'WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD' +
  'jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA';

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (replaces math/rand seeded with GinkgoRandomSeed and crypto/rand)

export const SEED = 20250129;

/** `size` reproducible pseudo-random bytes for `seed` (SHA-256 in counter mode). */
export function randomBytesFor(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let filled = 0;
  for (let counter = 0; filled < size; counter++) {
    const block = createHash('sha256').update(`berth-conformance:${seed}:${counter}`).digest();
    filled += block.copy(out, filled, 0, Math.min(block.length, size - filled));
  }
  return out;
}

/** randomBlob of setup.go: a reproducible random blob and its sha256 digest. */
export function randomBlob(size: number, seed: number, algorithm: Algorithm = 'sha256'): TestBlob {
  return testBlob(randomBytesFor(size, seed), algorithm);
}

/** randomString of setup.go, from a seeded source. */
export function randomString(n: number, seed: number): string {
  const letters = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
  const bytes = randomBytesFor(n, seed);
  let s = '';
  for (const b of bytes) s += letters[b % letters.length] ?? '0';
  return s;
}

// ---------------------------------------------------------------------------------------------
// JSON shapes of image.go, keeping Go's field order and omitempty rules

/**
 * A descriptor as image.go marshals it. `data` and `newUnspecifiedField` are Go []byte fields, so
 * they are base64 in JSON; `newUnspecifiedField` has no omitempty and is `null` when unset.
 */
export interface DescriptorInput {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: Buffer;
  platform?: { architecture: string; os: string; 'os.version'?: string; 'os.features'?: string[]; variant?: string };
  artifactType?: string;
  newUnspecifiedField?: Buffer;
}

export function descriptorJson(d: DescriptorInput): JsonObject {
  const o: JsonObject = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls !== undefined && d.urls.length > 0) o.urls = d.urls;
  if (d.annotations !== undefined && Object.keys(d.annotations).length > 0) o.annotations = d.annotations;
  if (d.data !== undefined && d.data.length > 0) o.data = d.data.toString('base64');
  if (d.platform !== undefined) {
    const p: JsonObject = { architecture: d.platform.architecture, os: d.platform.os };
    if (d.platform['os.version'] !== undefined) p['os.version'] = d.platform['os.version'];
    if (d.platform['os.features'] !== undefined) p['os.features'] = d.platform['os.features'];
    if (d.platform.variant !== undefined) p.variant = d.platform.variant;
    o.platform = p;
  }
  if (d.artifactType !== undefined && d.artifactType !== '') o.artifactType = d.artifactType;
  o.newUnspecifiedField = d.newUnspecifiedField === undefined ? null : d.newUnspecifiedField.toString('base64');
  return o;
}

export interface ManifestInput {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config: DescriptorInput;
  layers: DescriptorInput[];
  subject?: DescriptorInput;
  annotations?: Record<string, string>;
}

export function manifestJson(m: ManifestInput): JsonObject {
  const o: JsonObject = { schemaVersion: m.schemaVersion ?? 2 };
  if (m.mediaType !== undefined) o.mediaType = m.mediaType;
  if (m.artifactType !== undefined) o.artifactType = m.artifactType;
  o.config = descriptorJson(m.config);
  o.layers = m.layers.map(descriptorJson);
  if (m.subject !== undefined) o.subject = descriptorJson(m.subject);
  if (m.annotations !== undefined && Object.keys(m.annotations).length > 0) o.annotations = m.annotations;
  return o;
}

export interface IndexInput {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  manifests: DescriptorInput[];
  subject?: DescriptorInput;
  annotations?: Record<string, string>;
}

export function indexJson(ix: IndexInput): JsonObject {
  const o: JsonObject = { schemaVersion: ix.schemaVersion ?? 2 };
  if (ix.mediaType !== undefined) o.mediaType = ix.mediaType;
  if (ix.artifactType !== undefined) o.artifactType = ix.artifactType;
  o.manifests = ix.manifests.map(descriptorJson);
  if (ix.subject !== undefined) o.subject = descriptorJson(ix.subject);
  if (ix.annotations !== undefined && Object.keys(ix.annotations).length > 0) o.annotations = ix.annotations;
  return o;
}

/** json.MarshalIndent(v, "", "\t"). */
export function marshalIndent(v: Json): Buffer {
  return Buffer.from(JSON.stringify(v, null, '\t'));
}

/** The descriptor of a manifest pushed as `mediaType`. */
export function manifestDescriptor(blob: TestBlob, mediaType: string = MT.ociManifest): DescriptorInput {
  return { mediaType, size: blob.content.length, digest: blob.digest };
}

// ---------------------------------------------------------------------------------------------
// The data of setup.go init()

/** One image config per workflow, each unique through a random author. */
export const configs: readonly TestBlob[] = Array.from({ length: NUM_WORKFLOWS }, (_, i) => {
  const config: JsonObject = {
    author: randomString(16, SEED + 100 + i),
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [] },
  };
  return testBlob(marshalIndent(config));
});

export const layerBlob: TestBlob = testBlob(Buffer.from(layerBase64String, 'base64'));

const layers: DescriptorInput[] = [{ mediaType: MT.ociLayerGzip, size: layerBlob.content.length, digest: layerBlob.digest }];

function configDescriptor(config: TestBlob): DescriptorInput {
  return {
    mediaType: MT.ociConfig,
    digest: config.digest,
    size: config.content.length,
    data: config.content, // must be the config content
    newUnspecifiedField: Buffer.from('hello world'), // content does not matter
  };
}

/** One image manifest per workflow (config[i] + the layer). */
export const manifests: readonly TestBlob[] = configs.map((config) =>
  testBlob(marshalIndent(manifestJson({ schemaVersion: 2, mediaType: MT.ociManifest, config: configDescriptor(config), layers }))),
);

function at<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`no element ${i}`);
  return v;
}

export const config = (i: number): TestBlob => at(configs, i);
export const manifest = (i: number): TestBlob => at(manifests, i);

/** Used in the push test: config[1], no layers, and no mediaType field. */
export const emptyLayerManifest: TestBlob = testBlob(marshalIndent(manifestJson({ schemaVersion: 2, config: configDescriptor(config(1)), layers: [] })));

export const testBlobA: TestBlob = randomBlob(42, SEED + 1);

export interface ChunkedBlob {
  blob: TestBlob;
  chunk1: Buffer;
  chunk1Length: string;
  chunk1Range: string;
  chunk2: Buffer;
  chunk2Length: string;
  chunk2Range: string;
}

/** setupChunkedBlob: a random blob split after size/2+1 bytes, with inclusive Content-Range values. */
export function chunkedBlob(size: number): ChunkedBlob {
  const blob = randomBlob(size, SEED + 2);
  const cut = Math.floor(size / 2) + 1;
  const chunk1 = blob.content.subarray(0, cut);
  const chunk2 = blob.content.subarray(cut);
  return {
    blob,
    chunk1,
    chunk1Length: String(chunk1.length),
    chunk1Range: `0-${chunk1.length - 1}`,
    chunk2,
    chunk2Length: String(chunk2.length),
    chunk2Range: `${chunk1.length}-${blob.content.length - 1}`,
  };
}

// Referrers (artifacts with a subject)

export const emptyJSONBlob: TestBlob = testBlob('{}');
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
export const emptyJSONDescriptor: DescriptorInput = { mediaType: MT.ociEmpty, size: emptyJSONBlob.content.length, digest: emptyJSONBlob.digest };

export const testRefBlobA: TestBlob = testBlob('NHL Peanut Butter on my NHL bagel');
export const testRefArtifactTypeA = 'application/vnd.nhl.peanut.butter.bagel';
export const testRefBlobB: TestBlob = testBlob('NBA Strawberry Jam on my NBA croissant');
export const testRefArtifactTypeB = 'application/vnd.nba.strawberry.jam.croissant';
export const testRefArtifactTypeIndex = 'application/vnd.food.stand';
export const testAnnotationKey = 'org.opencontainers.conformance.test';

/** Annotation value of each referrer, by digest. */
export const testAnnotationValues = new Map<string, string>();

function blobDescriptor(mediaType: string, blob: TestBlob): DescriptorInput {
  return { mediaType, size: blob.content.length, digest: blob.digest };
}

function referrer(m: ManifestInput): TestBlob {
  const blob = testBlob(marshalIndent(manifestJson(m)));
  const value = m.annotations?.[testAnnotationKey];
  if (value !== undefined) testAnnotationValues.set(blob.digest, value);
  return blob;
}

const subject4 = manifestDescriptor(manifest(4));
const subject3 = manifestDescriptor(manifest(3));

/** Artifact whose type is its config media type; subject manifests[4]. */
export const refsManifestAConfigArtifact: TestBlob = referrer({
  mediaType: MT.ociManifest,
  config: blobDescriptor(testRefArtifactTypeA, testRefBlobA),
  subject: subject4,
  layers: [emptyJSONDescriptor],
  annotations: { [testAnnotationKey]: 'test config a' },
});

export const refsManifestBConfigArtifact: TestBlob = referrer({
  mediaType: MT.ociManifest,
  config: blobDescriptor(testRefArtifactTypeB, testRefBlobB),
  subject: subject4,
  layers: [emptyJSONDescriptor],
  annotations: { [testAnnotationKey]: 'test config b' },
});

/** Artifact with `artifactType` and the empty JSON config; subject manifests[4]. */
export const refsManifestALayerArtifact: TestBlob = referrer({
  mediaType: MT.ociManifest,
  artifactType: testRefArtifactTypeA,
  config: emptyJSONDescriptor,
  subject: subject4,
  layers: [blobDescriptor(testRefArtifactTypeA, testRefBlobA)],
  annotations: { [testAnnotationKey]: 'test layer a' },
});

export const refsManifestBLayerArtifact: TestBlob = referrer({
  mediaType: MT.ociManifest,
  artifactType: testRefArtifactTypeB,
  config: emptyJSONDescriptor,
  subject: subject4,
  layers: [blobDescriptor(testRefArtifactTypeB, testRefBlobB)],
  annotations: { [testAnnotationKey]: 'test layer b' },
});

/** Same as B-layer, but its subject (manifests[3]) is never pushed; no annotations. */
export const refsManifestCLayerArtifact: TestBlob = referrer({
  mediaType: MT.ociManifest,
  artifactType: testRefArtifactTypeB,
  config: emptyJSONDescriptor,
  subject: subject3,
  layers: [blobDescriptor(testRefArtifactTypeB, testRefBlobB)],
});

/** An index artifact listing the two A artifacts; subject manifests[4]. */
export const refsIndexArtifact: TestBlob = (() => {
  const blob = testBlob(
    marshalIndent(
      indexJson({
        mediaType: MT.ociIndex,
        artifactType: testRefArtifactTypeIndex,
        manifests: [manifestDescriptor(refsManifestAConfigArtifact), manifestDescriptor(refsManifestALayerArtifact)],
        subject: subject4,
        annotations: { [testAnnotationKey]: 'test index' },
      }),
    ),
  );
  testAnnotationValues.set(blob.digest, 'test index');
  return blob;
})();

/** The artifactType the referrers API must report for each referrer (spec "Listing Referrers"). */
export const expectedArtifactTypes: ReadonlyMap<string, string> = new Map([
  [refsManifestAConfigArtifact.digest, testRefArtifactTypeA],
  [refsManifestALayerArtifact.digest, testRefArtifactTypeA],
  [refsManifestBConfigArtifact.digest, testRefArtifactTypeB],
  [refsManifestBLayerArtifact.digest, testRefArtifactTypeB],
  [refsManifestCLayerArtifact.digest, testRefArtifactTypeB],
  [refsIndexArtifact.digest, testRefArtifactTypeIndex],
]);

/** The media type each referrer was pushed with. */
export const expectedMediaTypes: ReadonlyMap<string, string> = new Map([
  [refsManifestAConfigArtifact.digest, MT.ociManifest],
  [refsManifestALayerArtifact.digest, MT.ociManifest],
  [refsManifestBConfigArtifact.digest, MT.ociManifest],
  [refsManifestBLayerArtifact.digest, MT.ociManifest],
  [refsManifestCLayerArtifact.digest, MT.ociManifest],
  [refsIndexArtifact.digest, MT.ociIndex],
]);

/** Every referrer, by digest, for checking sizes. */
export const referrerBlobs: ReadonlyMap<string, TestBlob> = new Map(
  [refsManifestAConfigArtifact, refsManifestALayerArtifact, refsManifestBConfigArtifact, refsManifestBLayerArtifact, refsManifestCLayerArtifact, refsIndexArtifact].map((b) => [b.digest, b]),
);
