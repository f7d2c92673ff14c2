// The image operations through @aws-sdk/client-ecr: ListImages, DescribeImages, BatchGetImage,
// BatchDeleteImage, PutImage, and tag immutability (all four modes) on /v2/ manifest pushes. Images
// are pushed through /v2/ (or PutImage); every refusal answers the exact exception or failure code
// and changes nothing (the tags and manifests ListImages reports are as before).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  ListImagesCommand,
  PutImageCommand,
  PutImageTagMutabilityCommand,
  type DescribeImagesCommandInput,
  type ImageDetail,
  type ImageIdentifier,
  type ImageTagMutability,
  type ListImagesCommandInput,
} from '@aws-sdk/client-ecr';
import { refusalMessage, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const SIG = 'application/vnd.example.signature.v1+json';
const NOT_FOUND = 'Requested image not found';
/** ECR's ImageFailureCode enum (src/ecr/generated/model.ts): every failure code must be one of them. */
const FAILURE_CODES = new Set(['InvalidImageDigest', 'InvalidImageTag', 'ImageTagDoesNotMatchDigest', 'ImageNotFound', 'MissingDigestAndTag', 'ImageReferencedByManifestList', 'KmsError', 'UpstreamAccessDenied', 'UpstreamTooManyRequests', 'UpstreamUnavailable', 'ImageInaccessible']);
const BAD_TOKEN = "Invalid parameter at 'nextToken' failed to satisfy constraint: 'must be a token from a previous response'";



async function eventually<T>(f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await sleep(20);
  }
  assert.fail('not within 2 s');
}

/** A manifest (not necessarily pushed yet): its exact bytes, digest and what ImageDetail derives from it. */
interface Built {
  digest: string;
  body: string;
  mediaType: string;
  size: number;
  configSize: number;
  layerSizes: number[];
}

async function pushBlob(t: EcrTestApp, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const r = await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return digest;
}

function putManifest(t: EcrTestApp, repo: string, ref: string, m: Built): Promise<Response> {
  return t.fetch(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: m.body, headers: { 'content-type': m.mediaType } });
}

function built(doc: Record<string, unknown>, mediaType: string, configSize = 0, layerSizes: number[] = []): Built {
  // Indented with a trailing newline: what is served must be these bytes, not a re-serialisation.
  const body = `${JSON.stringify(doc, null, 3)}\n`;
  return { digest: sha256(body), body, mediaType, size: Buffer.byteLength(body), configSize, layerSizes };
}

/** Pushes a config of its own and layers of the sizes given, and builds the image manifest that uses them. */
async function buildImage(t: EcrTestApp, repo: string, opts: { layers?: number[]; docker?: boolean; extra?: Record<string, unknown> } = {}): Promise<Built> {
  const docker = opts.docker === true;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const configDigest = await pushBlob(t, repo, config);
  const layerSizes = opts.layers ?? [100 + Math.floor(Math.random() * 900)];
  const layers = [];
  for (const n of layerSizes) layers.push({ mediaType: docker ? DOCKER_LAYER : OCI_LAYER, digest: await pushBlob(t, repo, randomBytes(n)), size: n });
  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const doc = { schemaVersion: 2, mediaType, config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, digest: configDigest, size: config.length }, layers, ...opts.extra };
  return built(doc, mediaType, config.length, layerSizes);
}

/** An index listing the manifests given. */
function buildIndex(children: readonly Built[]): Built {
  const manifests = children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, platform: { architecture: 'amd64', os: 'linux' } }));
  return built({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }, OCI_INDEX);
}

/** Pushes the manifest through /v2/ under each tag given, or by digest when there is none. */
async function push(t: EcrTestApp, repo: string, m: Built, tags: readonly string[] = []): Promise<Built> {
  for (const ref of tags.length > 0 ? tags : [m.digest]) {
    const r = await putManifest(t, repo, ref, m);
    assert.equal(r.status, 201, await r.text());
  }
  return m;
}

async function image(t: EcrTestApp, repo: string, tags: readonly string[] = [], opts: Parameters<typeof buildImage>[2] = {}): Promise<Built> {
  return await push(t, repo, await buildImage(t, repo, opts), tags);
}

/** Every page of ListImages, following nextToken. */
async function listPages(t: EcrTestApp, input: ListImagesCommandInput): Promise<ImageIdentifier[][]> {
  const pages: ImageIdentifier[][] = [];
  let nextToken: string | undefined;
  do {
    const r = await t.ecr.send(new ListImagesCommand({ ...input, ...(nextToken !== undefined ? { nextToken } : {}) }));
    pages.push(r.imageIds ?? []);
    nextToken = r.nextToken;
    assert.ok(pages.length < 100, 'pagination ends');
  } while (nextToken !== undefined);
  return pages;
}

/** The repository's tags and manifests, as `<digest> <tag>` (`-` for an untagged image), sorted. */
async function state(t: EcrTestApp, repo: string): Promise<string[]> {
  return (await listPages(t, { repositoryName: repo })).flat().map((i) => `${i.imageDigest ?? ''} ${i.imageTag ?? '-'}`).sort();
}

function expectState(images: ReadonlyArray<[Built, readonly string[]]>): string[] {
  return images.flatMap(([m, tags]) => (tags.length === 0 ? [`${m.digest} -`] : tags.map((tag) => `${m.digest} ${tag}`))).sort();
}

/** The digest a tag points at, as /v2/ answers it (undefined when it is unknown). */
async function tagDigest(t: EcrTestApp, repo: string, tag: string): Promise<string | undefined> {
  const r = await t.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}, ${DOCKER_MANIFEST}` } });
  return r.status === 200 ? (r.headers.get('docker-content-digest') ?? undefined) : undefined;
}

describe('image operations', () => {
  let t: EcrTestApp;
  let account: string;
  const repoNotFound = (name: string): { name: string; message: string } => ({
    name: 'RepositoryNotFoundException',
    message: `The repository with name '${name}' does not exist in the registry with id '${account}'`,
  });
  const createRepo = async (repositoryName: string, extra: { imageTagMutability?: ImageTagMutability; filters?: string[] } = {}): Promise<void> => {
    await t.ecr.send(
      new CreateRepositoryCommand({
        repositoryName,
        ...(extra.imageTagMutability !== undefined ? { imageTagMutability: extra.imageTagMutability } : {}),
        ...(extra.filters !== undefined ? { imageTagMutabilityExclusionFilters: extra.filters.map((filter) => ({ filterType: 'WILDCARD' as const, filter })) } : {}),
      }),
    );
  };

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  describe('ListImages', () => {
    const REPO = 'list/app';
    // 7 images, 13 entries: several tags (in byte order: upper case first), one tag, none.
    const TAGS: string[][] = [['c', 'a', 'b'], ['d'], [], ['f', 'e'], [], ['Z', '_x', 'h', 'g'], ['k']];
    let expected: ImageIdentifier[];
    let images: Built[];

    before(async () => {
      await createRepo(REPO);
      images = [];
      for (const tags of TAGS) images.push(await image(t, REPO, tags));
      const entries = images.flatMap((m, i): ImageIdentifier[] => {
        const tags = [...(TAGS[i] ?? [])].sort();
        return tags.length === 0 ? [{ imageDigest: m.digest }] : tags.map((imageTag) => ({ imageDigest: m.digest, imageTag }));
      });
      expected = entries.sort((x, y) => ((x.imageDigest ?? '') < (y.imageDigest ?? '') ? -1 : (x.imageDigest ?? '') > (y.imageDigest ?? '') ? 1 : 0));
    });

    test('one entry per tag and one per untagged image, in digest then tag order; the filters TAGGED, UNTAGGED, ANY', async () => {
      assert.equal(expected.length, 13);
      const r = await t.ecr.send(new ListImagesCommand({ repositoryName: REPO }));
      assert.deepEqual(r.imageIds, expected);
      assert.equal(r.nextToken, undefined);
      const tagged = await t.ecr.send(new ListImagesCommand({ repositoryName: REPO, filter: { tagStatus: 'TAGGED' } }));
      assert.deepEqual(tagged.imageIds, expected.filter((i) => i.imageTag !== undefined));
      const untagged = await t.ecr.send(new ListImagesCommand({ repositoryName: REPO, filter: { tagStatus: 'UNTAGGED' } }));
      assert.deepEqual(untagged.imageIds, [images[2], images[4]].map((m) => ({ imageDigest: m?.digest })).sort((x, y) => ((x.imageDigest ?? '') < (y.imageDigest ?? '') ? -1 : 1)));
      const any = await t.ecr.send(new ListImagesCommand({ repositoryName: REPO, filter: { tagStatus: 'ANY' } }));
      assert.deepEqual(any.imageIds, expected);
    });

    test('pages of maxResults, across images with several tags: the pages put together are the unpaged list', async () => {
      for (const maxResults of [1, 2, 3, 4, 5, 12, 13, 100]) {
        const pages = await listPages(t, { repositoryName: REPO, maxResults });
        assert.deepEqual(pages.flat(), expected, `maxResults ${maxResults}`);
        assert.equal(pages.length, Math.ceil(expected.length / maxResults), `maxResults ${maxResults}: no empty last page`);
        for (const p of pages.slice(0, -1)) assert.equal(p.length, maxResults, 'full pages');
      }
      for (const [tagStatus, maxResults] of [['TAGGED', 2], ['TAGGED', 3], ['UNTAGGED', 1]] as const) {
        const pages = await listPages(t, { repositoryName: REPO, maxResults, filter: { tagStatus } });
        const want = expected.filter((i) => (tagStatus === 'TAGGED') === (i.imageTag !== undefined));
        assert.deepEqual(pages.flat(), want, `${tagStatus} by ${maxResults}`);
        assert.equal(pages.length, Math.ceil(want.length / maxResults));
      }
    });

    test('a nextToken that no page gave and an unknown repository are refused', async () => {
      const describeToken = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, maxResults: 1 }))).nextToken;
      assert.ok(describeToken !== undefined);
      for (const nextToken of ['garbage', Buffer.from('{"v":1}').toString('base64url'), describeToken]) {
        assert.deepEqual(await refusalMessage(t.ecr.send(new ListImagesCommand({ repositoryName: REPO, nextToken }))), { name: 'InvalidParameterException', message: BAD_TOKEN }, nextToken);
      }
      assert.deepEqual(await refusalMessage(t.ecr.send(new ListImagesCommand({ repositoryName: 'list/none' }))), repoNotFound('list/none'));
    });
  });

  describe('DescribeImages', () => {
    const REPO = 'describe/app';
    let img: Built;
    let docker: Built;
    let index: Built;
    let referrer: Built;
    let untagged: Built;
    let start: number;
    const describeOne = async (imageId: ImageIdentifier): Promise<ImageDetail> => {
      const r = await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [imageId] }));
      assert.equal(r.imageDetails?.length, 1);
      return r.imageDetails?.[0] as ImageDetail;
    };
    /** The detail with imagePushedAt checked (a Date since the pushes started) and taken out. */
    const withoutPushTime = (d: ImageDetail): Omit<ImageDetail, 'imagePushedAt'> => {
      const { imagePushedAt, ...rest } = d;
      assert.ok(imagePushedAt instanceof Date);
      assert.ok(imagePushedAt.getTime() >= start - 1000 && imagePushedAt.getTime() <= Date.now() + 1000, String(imagePushedAt));
      return rest;
    };
    const base = (m: Built): ImageDetail => ({ registryId: account, repositoryName: REPO, imageDigest: m.digest });

    before(async () => {
      start = Date.now();
      await createRepo(REPO);
      img = await image(t, REPO, ['v1', 'latest'], { layers: [1000, 2345] });
      docker = await image(t, REPO, ['docker'], { layers: [500, 20], docker: true });
      index = await push(t, REPO, buildIndex([img, docker]), ['multi']);
      referrer = await image(t, REPO, [], { layers: [77], extra: { artifactType: SIG, subject: { mediaType: OCI_MANIFEST, digest: img.digest, size: img.size } } });
      untagged = await image(t, REPO, [], { layers: [10] });
    });

    test('every field of an image manifest: tags, size (its layers), push time, media types, artifact media type (the config\'s)', async () => {
      const d = await describeOne({ imageTag: 'v1' });
      assert.deepEqual(withoutPushTime(d), {
        ...base(img),
        imageTags: ['latest', 'v1'],
        // The sum of the layers' sizes: src/ecr/operations/image-support.ts counts neither config nor manifest.
        imageSizeInBytes: 1000 + 2345,
        imageManifestMediaType: OCI_MANIFEST,
        artifactMediaType: OCI_CONFIG,
        imageStatus: 'ACTIVE',
      });
      assert.deepEqual(withoutPushTime(await describeOne({ imageDigest: docker.digest })), {
        ...base(docker),
        imageTags: ['docker'],
        imageSizeInBytes: 520,
        imageManifestMediaType: DOCKER_MANIFEST,
        artifactMediaType: DOCKER_CONFIG,
        imageStatus: 'ACTIVE',
      });
    });

    test('an index is as large as its largest manifest; a referrer names its subject; an untagged image has no imageTags', async () => {
      assert.deepEqual(withoutPushTime(await describeOne({ imageTag: 'multi' })), { ...base(index), imageTags: ['multi'], imageSizeInBytes: 3345, imageManifestMediaType: OCI_INDEX, imageStatus: 'ACTIVE' });
      assert.deepEqual(withoutPushTime(await describeOne({ imageDigest: referrer.digest })), {
        ...base(referrer),
        imageSizeInBytes: 77,
        imageManifestMediaType: OCI_MANIFEST,
        artifactMediaType: SIG,
        subjectManifestDigest: img.digest,
        imageStatus: 'ACTIVE',
      });
      assert.deepEqual(withoutPushTime(await describeOne({ imageDigest: untagged.digest })), {
        ...base(untagged),
        imageSizeInBytes: 10,
        imageManifestMediaType: OCI_MANIFEST,
        artifactMediaType: OCI_CONFIG,
        imageStatus: 'ACTIVE',
      });
    });

    test('lastRecordedPullTime appears after a /v2/ GET of the manifest', async () => {
      assert.equal((await describeOne({ imageDigest: untagged.digest })).lastRecordedPullTime, undefined);
      const before = Date.now();
      const r = await t.fetch(`/v2/${REPO}/manifests/${untagged.digest}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), untagged.body);
      await t.app.registry.pullTimes.flush(); // pull times are written in batches
      const pulled = await eventually(async () => (await describeOne({ imageDigest: untagged.digest })).lastRecordedPullTime);
      assert.ok(pulled.getTime() >= before - 1000 && pulled.getTime() <= Date.now() + 1000, String(pulled));
      // A HEAD is not a pull.
      assert.equal((await t.fetch(`/v2/${REPO}/manifests/docker`, { method: 'HEAD', headers: { accept: DOCKER_MANIFEST } })).status, 200);
      await sleep(100);
      assert.equal((await describeOne({ imageTag: 'docker' })).lastRecordedPullTime, undefined);
    });

    test('imageIds: each image once, in the order asked; an id naming no image fails the request', async () => {
      const r = await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'docker' }, { imageTag: 'v1' }, { imageDigest: img.digest }, { imageDigest: docker.digest, imageTag: 'docker' }] }));
      assert.deepEqual(r.imageDetails?.map((d) => d.imageDigest), [docker.digest, img.digest]);
      const missing = sha256('no such manifest');
      const notFound = (digest: string, tag: string): { name: string; message: string } => ({
        name: 'ImageNotFoundException',
        message: `The image with imageId {imageDigest:'${digest}', imageTag:'${tag}'} does not exist within the repository with name '${REPO}' in the registry with id '${account}'`,
      });
      assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }, { imageTag: 'nope' }] }))), notFound('null', 'nope'));
      assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageDigest: missing }] }))), notFound(missing, 'null'));
      assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageDigest: img.digest, imageTag: 'docker' }] }))), notFound(img.digest, 'docker'));
      const both: DescribeImagesCommandInput = { repositoryName: REPO, imageIds: [{ imageTag: 'v1' }], maxResults: 5 };
      assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeImagesCommand(both))), {
        name: 'InvalidParameterException',
        message: 'Invalid parameter: nextToken, maxResults and filter cannot be used together with imageIds',
      });
    });

    test('every image in digest order, filtered by tag status, in pages that put together are the unpaged list', async () => {
      const all = [img, docker, index, referrer, untagged].map((m) => m.digest).sort();
      const taggedSet = new Set([img.digest, docker.digest, index.digest]);
      const pages = async (input: Omit<DescribeImagesCommandInput, 'repositoryName'>): Promise<string[][]> => {
        const out: string[][] = [];
        let nextToken: string | undefined;
        do {
          const r = await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, ...input, ...(nextToken !== undefined ? { nextToken } : {}) }));
          out.push((r.imageDetails ?? []).map((d) => d.imageDigest ?? ''));
          nextToken = r.nextToken;
        } while (nextToken !== undefined && out.length < 50);
        return out;
      };
      assert.deepEqual(await pages({}), [all]);
      assert.deepEqual(await pages({ filter: { tagStatus: 'TAGGED' } }), [all.filter((d) => taggedSet.has(d))]);
      assert.deepEqual(await pages({ filter: { tagStatus: 'UNTAGGED' } }), [all.filter((d) => !taggedSet.has(d))]);
      assert.deepEqual(await pages({ maxResults: 2 }), [all.slice(0, 2), all.slice(2, 4), all.slice(4)]);
      assert.deepEqual(await pages({ maxResults: 5 }), [all]);
      assert.deepEqual(await pages({ maxResults: 1, filter: { tagStatus: 'TAGGED' } }), all.filter((d) => taggedSet.has(d)).map((d) => [d]));
      assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, nextToken: 'garbage' }))), { name: 'InvalidParameterException', message: BAD_TOKEN });
      assert.deepEqual(await refusalMessage(t.ecr.send(new DescribeImagesCommand({ repositoryName: 'describe/none' }))), repoNotFound('describe/none'));
    });
  });

  describe('BatchGetImage', () => {
    const REPO = 'get/app';
    let oci: Built;
    let docker: Built;

    before(async () => {
      await createRepo(REPO);
      oci = await image(t, REPO, ['v1', 'v1.0']);
      docker = await image(t, REPO, ['docker'], { docker: true });
    });

    test('by tag, by digest and by both: the manifest exactly as pushed, the id as asked with the digest', async () => {
      const r = await t.ecr.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }, { imageDigest: docker.digest }, { imageTag: 'v1.0', imageDigest: oci.digest }, { imageTag: 'v1' }] }));
      const img = (m: Built, imageId: ImageIdentifier): Record<string, unknown> => ({ registryId: account, repositoryName: REPO, imageId, imageManifest: m.body, imageManifestMediaType: m.mediaType });
      assert.deepEqual(r.images, [
        img(oci, { imageTag: 'v1', imageDigest: oci.digest }),
        img(docker, { imageDigest: docker.digest }),
        img(oci, { imageTag: 'v1.0', imageDigest: oci.digest }),
      ]);
      assert.deepEqual(r.failures, []);
      assert.equal(sha256(String(r.images?.[0]?.imageManifest)), oci.digest, 'byte for byte');
    });

    test('failures: unknown tag or digest, a tag on another digest, malformed ids; the others still served', async () => {
      const missing = sha256('no such manifest');
      const r = await t.ecr.send(
        new BatchGetImageCommand({
          repositoryName: REPO,
          imageIds: [{ imageTag: 'nope' }, { imageDigest: missing }, { imageTag: 'v1', imageDigest: docker.digest }, { imageDigest: 'sha256:abc' }, {}, { imageTag: '.dot' }, { imageTag: 'docker' }],
        }),
      );
      assert.deepEqual(r.images?.map((i) => i.imageId), [{ imageTag: 'docker', imageDigest: docker.digest }]);
      assert.deepEqual(r.failures, [
        { imageId: { imageTag: 'nope' }, failureCode: 'ImageNotFound', failureReason: NOT_FOUND },
        { imageId: { imageDigest: missing }, failureCode: 'ImageNotFound', failureReason: NOT_FOUND },
        {
          imageId: { imageTag: 'v1', imageDigest: docker.digest },
          failureCode: 'ImageTagDoesNotMatchDigest',
          failureReason: `Invalid request parameters: image tag 'v1' does not match the image digest given (the tag points at ${oci.digest})`,
        },
        { imageId: { imageDigest: 'sha256:abc' }, failureCode: 'InvalidImageDigest', failureReason: 'Invalid request parameters: image digest should be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>' },
        { imageId: {}, failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request parameters: both tag and digest cannot be null' },
        { imageId: { imageTag: '.dot' }, failureCode: 'InvalidImageTag', failureReason: "Invalid request parameters: image tag should satisfy the regex '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'" },
      ]);
      for (const f of r.failures ?? []) assert.ok(FAILURE_CODES.has(f.failureCode ?? ''), f.failureCode);
      assert.deepEqual(await refusalMessage(t.ecr.send(new BatchGetImageCommand({ repositoryName: 'get/none', imageIds: [{ imageTag: 'v1' }] }))), repoNotFound('get/none'));
    });

    test('acceptedMediaTypes: an image of another media type is a failure (ImageNotFound: the model has no other code for it)', async () => {
      const r = await t.ecr.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }, { imageTag: 'docker' }], acceptedMediaTypes: [DOCKER_MANIFEST] }));
      assert.deepEqual(r.images?.map((i) => [i.imageId?.imageTag, i.imageManifestMediaType]), [['docker', DOCKER_MANIFEST]]);
      assert.deepEqual(r.failures, [
        { imageId: { imageTag: 'v1' }, failureCode: 'ImageNotFound', failureReason: `${NOT_FOUND}: its manifest media type ${OCI_MANIFEST} is not among the acceptedMediaTypes` },
      ]);
      assert.ok(FAILURE_CODES.has(r.failures?.[0]?.failureCode ?? ''));
      const both = await t.ecr.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }, { imageTag: 'docker' }], acceptedMediaTypes: [DOCKER_MANIFEST, `${OCI_MANIFEST}; charset=utf-8`] }));
      assert.deepEqual(both.images?.map((i) => i.imageManifest), [oci.body, docker.body]);
      assert.deepEqual(both.failures, []);
    });

    test('a manifest served is recorded as pulled', async () => {
      const pulled = async (): Promise<Date | undefined> =>
        (await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0]?.lastRecordedPullTime;
      await t.app.registry.pullTimes.flush(); // pull times are written in batches
      await eventually(async () => ((await pulled()) !== undefined ? true : undefined));
    });
  });

  describe('BatchDeleteImage', () => {
    const del = async (repositoryName: string, imageIds: ImageIdentifier[]): Promise<{ imageIds: ImageIdentifier[] | undefined; failures: unknown }> => {
      const r = await t.ecr.send(new BatchDeleteImageCommand({ repositoryName, imageIds }));
      return { imageIds: r.imageIds, failures: r.failures };
    };
    const manifestStatus = async (repo: string, ref: string): Promise<number> => (await t.fetch(`/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } })).status;

    test('by digest: the image and all its tags go, one entry per tag (or one for an untagged image)', async () => {
      const REPO = 'delete/digest';
      await createRepo(REPO);
      const m = await image(t, REPO, ['y', 'x']);
      const n = await image(t, REPO, ['z']);
      const u = await image(t, REPO);
      assert.deepEqual(await del(REPO, [{ imageDigest: m.digest }]), { imageIds: [{ imageDigest: m.digest, imageTag: 'x' }, { imageDigest: m.digest, imageTag: 'y' }], failures: [] });
      assert.deepEqual(await state(t, REPO), expectState([[n, ['z']], [u, []]]));
      assert.equal(await manifestStatus(REPO, m.digest), 404);
      assert.equal(await manifestStatus(REPO, 'x'), 404);
      assert.deepEqual(await del(REPO, [{ imageDigest: u.digest }]), { imageIds: [{ imageDigest: u.digest }], failures: [] });
      assert.deepEqual(await state(t, REPO), expectState([[n, ['z']]]));
    });

    test('by tag: the tag goes; with the last tag the image goes too', async () => {
      const REPO = 'delete/tag';
      await createRepo(REPO);
      const m = await image(t, REPO, ['p', 'q']);
      const other = await image(t, REPO, ['r']);
      assert.deepEqual(await del(REPO, [{ imageTag: 'p' }]), { imageIds: [{ imageDigest: m.digest, imageTag: 'p' }], failures: [] });
      assert.deepEqual(await state(t, REPO), expectState([[m, ['q']], [other, ['r']]]));
      assert.equal(await manifestStatus(REPO, 'p'), 404);
      assert.equal(await manifestStatus(REPO, m.digest), 200);
      // The last tag, named with its digest.
      assert.deepEqual(await del(REPO, [{ imageTag: 'q', imageDigest: m.digest }]), { imageIds: [{ imageDigest: m.digest, imageTag: 'q' }], failures: [] });
      assert.deepEqual(await state(t, REPO), expectState([[other, ['r']]]), 'the image was deleted with its last tag');
      assert.equal(await manifestStatus(REPO, m.digest), 404);
    });

    test('an image an index lists: untagged it stays; by digest it is refused (ImageReferencedByManifestList) and nothing changes', async () => {
      const REPO = 'delete/index';
      await createRepo(REPO);
      const c1 = await image(t, REPO, ['c1']);
      const c2 = await image(t, REPO);
      const idx = await push(t, REPO, buildIndex([c1, c2]), ['multi']);
      assert.deepEqual(await del(REPO, [{ imageTag: 'c1' }]), { imageIds: [{ imageDigest: c1.digest, imageTag: 'c1' }], failures: [] });
      const after1 = expectState([[c1, []], [c2, []], [idx, ['multi']]]);
      assert.deepEqual(await state(t, REPO), after1, 'c1 stays, untagged');
      assert.equal(await manifestStatus(REPO, c1.digest), 200);

      const refused = await del(REPO, [{ imageDigest: c2.digest }, { imageDigest: c1.digest }]);
      assert.deepEqual(refused, {
        imageIds: [],
        failures: [c2, c1].map((c) => ({ imageId: { imageDigest: c.digest }, failureCode: 'ImageReferencedByManifestList', failureReason: `Requested image referenced by manifest list: [${idx.digest}]` })),
      });
      assert.deepEqual(await state(t, REPO), after1, 'nothing deleted');

      // The index goes with its last tag; its children stay, and can then be deleted.
      assert.deepEqual(await del(REPO, [{ imageTag: 'multi' }]), { imageIds: [{ imageDigest: idx.digest, imageTag: 'multi' }], failures: [] });
      assert.deepEqual(await state(t, REPO), expectState([[c1, []], [c2, []]]));
      assert.deepEqual(await del(REPO, [{ imageDigest: c2.digest }]), { imageIds: [{ imageDigest: c2.digest }], failures: [] });
      assert.deepEqual(await state(t, REPO), expectState([[c1, []]]));
    });

    test('unknown and malformed ids are failures; the other ids are still processed', async () => {
      const REPO = 'delete/mixed';
      await createRepo(REPO);
      const a = await image(t, REPO, ['a']);
      const b = await image(t, REPO, ['b']);
      const missing = sha256('no such manifest');
      const r = await del(REPO, [{ imageTag: 'nope' }, { imageTag: 'a' }, { imageDigest: missing }, { imageTag: 'b', imageDigest: a.digest }, { imageDigest: 'sha256:zz' }, { imageTag: 'a' }]);
      assert.deepEqual(r, {
        imageIds: [{ imageDigest: a.digest, imageTag: 'a' }],
        failures: [
          { imageId: { imageTag: 'nope' }, failureCode: 'ImageNotFound', failureReason: NOT_FOUND },
          { imageId: { imageDigest: missing }, failureCode: 'ImageNotFound', failureReason: NOT_FOUND },
          {
            imageId: { imageTag: 'b', imageDigest: a.digest },
            failureCode: 'ImageTagDoesNotMatchDigest',
            failureReason: `Invalid request parameters: image tag 'b' does not match the image digest given (the tag points at ${b.digest})`,
          },
          { imageId: { imageDigest: 'sha256:zz' }, failureCode: 'InvalidImageDigest', failureReason: 'Invalid request parameters: image digest should be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>' },
          { imageId: { imageTag: 'a' }, failureCode: 'ImageNotFound', failureReason: NOT_FOUND },
        ],
      });
      assert.deepEqual(await state(t, REPO), expectState([[b, ['b']]]));
      assert.deepEqual(await refusalMessage(t.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'delete/none', imageIds: [{ imageTag: 'a' }] }))), repoNotFound('delete/none'));
    });
  });

  describe('PutImage', () => {
    const REPO = 'put/app';
    before(async () => {
      await createRepo(REPO);
    });

    test('a manifest put with a tag is then pulled through /v2/ with the same bytes', async () => {
      const m = await buildImage(t, REPO);
      const r = await t.ecr.send(new PutImageCommand({ repositoryName: REPO, imageManifest: m.body, imageTag: 'v1' }));
      assert.deepEqual(r.image, { registryId: account, repositoryName: REPO, imageId: { imageDigest: m.digest, imageTag: 'v1' }, imageManifest: m.body, imageManifestMediaType: OCI_MANIFEST });
      const g = await t.fetch(`/v2/${REPO}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(g.status, 200);
      assert.equal(g.headers.get('content-type'), OCI_MANIFEST);
      assert.equal(g.headers.get('docker-content-digest'), m.digest);
      assert.ok(Buffer.from(await g.arrayBuffer()).equals(Buffer.from(m.body)));

      // Another tag for the same manifest, and a manifest by digest without a tag.
      const alias = await t.ecr.send(new PutImageCommand({ repositoryName: REPO, imageManifest: m.body, imageTag: 'v1-alias', imageDigest: m.digest }));
      assert.deepEqual(alias.image?.imageId, { imageDigest: m.digest, imageTag: 'v1-alias' });
      const u = await buildImage(t, REPO);
      const byDigest = await t.ecr.send(new PutImageCommand({ repositoryName: REPO, imageManifest: u.body, imageDigest: u.digest, imageManifestMediaType: OCI_MANIFEST }));
      assert.deepEqual(byDigest.image?.imageId, { imageDigest: u.digest });
      assert.deepEqual(await state(t, REPO), expectState([[m, ['v1', 'v1-alias']], [u, []]]));
    });

    test('refusals: already there, wrong digest, missing layers, missing referenced images; each changes nothing', async () => {
      const m = await push(t, REPO, await buildImage(t, REPO), ['base']);
      const before = await state(t, REPO);
      const put = (input: { imageManifest: string; imageTag?: string; imageDigest?: string }): Promise<{ name: string; message: string }> =>
        refusalMessage(t.ecr.send(new PutImageCommand({ repositoryName: REPO, ...input })));

      assert.deepEqual(await put({ imageManifest: m.body, imageTag: 'base' }), {
        name: 'ImageAlreadyExistsException',
        message: `Image with digest '${m.digest}' and tag 'base' already exists in the repository with name '${REPO}' in registry with id '${account}'`,
      });
      assert.deepEqual(await put({ imageManifest: m.body }), {
        name: 'ImageAlreadyExistsException',
        message: `Image with digest '${m.digest}' already exists in the repository with name '${REPO}' in registry with id '${account}'`,
      });
      const other = sha256('another manifest');
      assert.deepEqual(await put({ imageManifest: m.body, imageTag: 'fresh', imageDigest: other }), {
        name: 'ImageDigestDoesNotMatchException',
        message: `The image digest '${other}' does not match the digest of the manifest, '${m.digest}'`,
      });

      const doc = JSON.parse(m.body) as { layers: Array<{ digest: string; size: number }> };
      const absentLayer = sha256('a layer nobody pushed');
      const noLayer = built({ ...doc, layers: [...doc.layers, { mediaType: OCI_LAYER, digest: absentLayer, size: 24 }] }, OCI_MANIFEST);
      assert.deepEqual(await put({ imageManifest: noLayer.body, imageTag: 'fresh' }), {
        name: 'LayersNotFoundException',
        message: `the manifest references blobs that are not in repository ${REPO}: ${absentLayer}`,
      });
      const ghost = await buildImage(t, REPO);
      const idx = buildIndex([m, ghost]);
      assert.deepEqual(await put({ imageManifest: idx.body, imageTag: 'fresh' }), {
        name: 'ReferencedImagesNotFoundException',
        message: `the index references manifests that are not in repository ${REPO}: ${ghost.digest}`,
      });
      assert.deepEqual(await state(t, REPO), before, 'nothing changed');
      assert.equal(await tagDigest(t, REPO, 'fresh'), undefined);
    });

    test('an immutable tag: ImageTagAlreadyExistsException for another manifest, ImageAlreadyExistsException for the same', async () => {
      const IMM = 'put/immutable';
      await createRepo(IMM, { imageTagMutability: 'IMMUTABLE' });
      const m1 = await buildImage(t, IMM);
      const m2 = await buildImage(t, IMM);
      await t.ecr.send(new PutImageCommand({ repositoryName: IMM, imageManifest: m1.body, imageTag: 'v1' }));
      const before = await state(t, IMM);
      assert.deepEqual(await refusalMessage(t.ecr.send(new PutImageCommand({ repositoryName: IMM, imageManifest: m2.body, imageTag: 'v1' }))), {
        name: 'ImageTagAlreadyExistsException',
        message: `The image tag 'v1' already exists in the '${IMM}' repository and cannot be overwritten because the repository is immutable.`,
      });
      assert.equal((await refusalMessage(t.ecr.send(new PutImageCommand({ repositoryName: IMM, imageManifest: m1.body, imageTag: 'v1' })))).name, 'ImageAlreadyExistsException');
      assert.deepEqual(await state(t, IMM), before, 'm2 was not stored, v1 did not move');
      await t.ecr.send(new PutImageCommand({ repositoryName: IMM, imageManifest: m2.body, imageTag: 'v2' }));
      assert.deepEqual(await state(t, IMM), expectState([[m1, ['v1']], [m2, ['v2']]]));
      assert.deepEqual(await refusalMessage(t.ecr.send(new PutImageCommand({ repositoryName: 'put/none', imageManifest: m1.body, imageTag: 'v1' }))), repoNotFound('put/none'));
    });
  });

  describe('tag immutability on /v2/ manifest pushes', () => {
    // 'v1.*' must not match 'v1x2' ('.' is literal in a wildcard filter) nor 'v1'.
    const TAGS = ['latest', 'v1', 'v1.2', 'v1x2', 'dev-1', 'rel-rc'];
    const cases: Array<{ mode: ImageTagMutability; via: 'CreateRepository' | 'PutImageTagMutability'; filters?: string[]; immutable: string[] }> = [
      { mode: 'MUTABLE', via: 'CreateRepository', immutable: [] },
      { mode: 'IMMUTABLE', via: 'PutImageTagMutability', immutable: TAGS },
      { mode: 'IMMUTABLE', via: 'CreateRepository', immutable: TAGS },
      { mode: 'IMMUTABLE_WITH_EXCLUSION', via: 'CreateRepository', filters: ['latest', 'dev-*'], immutable: ['v1', 'v1.2', 'v1x2', 'rel-rc'] },
      { mode: 'IMMUTABLE_WITH_EXCLUSION', via: 'PutImageTagMutability', filters: ['v1.*', '*-rc'], immutable: ['latest', 'v1', 'v1x2', 'dev-1'] },
      { mode: 'MUTABLE_WITH_EXCLUSION', via: 'CreateRepository', filters: ['v1.*', '*-rc'], immutable: ['v1.2', 'rel-rc'] },
      { mode: 'MUTABLE_WITH_EXCLUSION', via: 'PutImageTagMutability', filters: ['latest', 'dev-*', 'v1'], immutable: ['latest', 'v1', 'dev-1'] },
    ];

    for (const c of cases) {
      test(`${c.mode}${c.filters !== undefined ? ` [${c.filters.join(', ')}]` : ''} set by ${c.via}: immutable ${c.immutable.length === 0 ? 'none' : c.immutable.join(', ')}`, async () => {
        const REPO = `mut/${c.mode.toLowerCase().replaceAll('_', '-')}-${c.via.toLowerCase()}`;
        if (c.via === 'CreateRepository') await createRepo(REPO, { imageTagMutability: c.mode, ...(c.filters !== undefined ? { filters: c.filters } : {}) });
        else await createRepo(REPO);
        const m1 = await image(t, REPO, TAGS);
        const m2 = await buildImage(t, REPO);
        if (c.via === 'PutImageTagMutability') {
          await t.ecr.send(
            new PutImageTagMutabilityCommand({
              repositoryName: REPO,
              imageTagMutability: c.mode,
              ...(c.filters !== undefined ? { imageTagMutabilityExclusionFilters: c.filters.map((filter) => ({ filterType: 'WILDCARD' as const, filter })) } : {}),
            }),
          );
        }
        for (const tag of TAGS) {
          const r = await putManifest(t, REPO, tag, m2);
          if (!c.immutable.includes(tag)) {
            assert.equal(r.status, 201, `${tag} moves: ${await r.text()}`);
            assert.equal(await tagDigest(t, REPO, tag), m2.digest);
            continue;
          }
          assert.equal(r.status, 400, `${tag} is immutable`);
          const body = (await r.json()) as { errors: Array<{ code: string; message: string; detail?: unknown }> };
          assert.equal(body.errors[0]?.code, 'TAG_INVALID');
          if (c.mode === 'IMMUTABLE') {
            assert.equal(body.errors[0]?.message, `The image tag '${tag}' already exists in the '${REPO}' repository and cannot be overwritten because the repository is immutable.`);
          } else {
            assert.ok(body.errors[0]?.message.includes(`The image tag '${tag}' already exists in the '${REPO}' repository`), body.errors[0]?.message);
          }
          assert.equal(await tagDigest(t, REPO, tag), m1.digest, `${tag} did not move`);
          // Its own digest again is not a move.
          const same = await putManifest(t, REPO, tag, m1);
          assert.equal(same.status, 201, await same.text());
          assert.equal(same.headers.get('docker-content-digest'), m1.digest);
        }
        // A new tag is never refused.
        await push(t, REPO, m2, ['brand-new']);
        const moved = TAGS.filter((x) => !c.immutable.includes(x));
        const expected: Array<[Built, string[]]> = [[m1, [...c.immutable]], [m2, [...moved, 'brand-new']]];
        assert.deepEqual(await state(t, REPO), expectState(expected), 'an image whose last tag moved away stays, untagged');
      });
    }

    test('a refused overwrite changes nothing, and turning immutability off lets the tag move', async () => {
      const REPO = 'mut/switch';
      await createRepo(REPO, { imageTagMutability: 'IMMUTABLE' });
      const m1 = await image(t, REPO, ['v1']);
      const m2 = await buildImage(t, REPO);
      const before = await state(t, REPO);
      assert.equal((await putManifest(t, REPO, 'v1', m2)).status, 400);
      assert.deepEqual(await state(t, REPO), before, 'm2 was not stored either');
      assert.equal((await t.fetch(`/v2/${REPO}/manifests/${m2.digest}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } })).status, 404);
      await t.ecr.send(new PutImageTagMutabilityCommand({ repositoryName: REPO, imageTagMutability: 'MUTABLE' }));
      await push(t, REPO, m2, ['v1']);
      assert.equal(await tagDigest(t, REPO, 'v1'), m2.digest);
      assert.deepEqual(await state(t, REPO), expectState([[m1, []], [m2, ['v1']]]));
    });
  });
});
