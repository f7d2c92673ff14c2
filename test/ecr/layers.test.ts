// The layer operations through @aws-sdk/client-ecr: BatchCheckLayerAvailability, InitiateLayerUpload,
// UploadLayerPart, CompleteLayerUpload, GetDownloadUrlForLayer. Layers uploaded by API are used by
// /v2/ manifest pushes and the reverse; every refusal answers the exact exception, message and extra
// fields and changes nothing; download URLs are fetched with no credentials. With S3_ENDPOINT set
// (eval "$(/work/shared/tools/ceph-rgw.sh env)"), the same flow runs on the S3 driver, where the URL
// is the store's presigned one.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchCheckLayerAvailabilityCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  UploadLayerPartCommand,
  type UploadLayerPartCommandOutput,
  type Layer,
  type LayerFailure,
} from '@aws-sdk/client-ecr';
import { issueDownloadToken, Keyring } from '../../src/auth/index.ts';
import { formatPartRecord } from '../../src/ecr/operations/layer-support.ts';
import { scaleOutEnv, deleteS3Prefix, s3Env } from '../helpers/cluster.ts';
import { sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const MiB = 1024 * 1024;
const MASTER_KEY = Buffer.alloc(32, 7);
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';


/** The exception a rejected call gives: name, message, HTTP status and the members of its body. */
async function refusal(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined; fields: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as Record<string, unknown> & { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    const fields: Record<string, unknown> = {};
    for (const k of ['registryId', 'repositoryName', 'uploadId', 'lastValidByteReceived']) if (err[k] !== undefined) fields[k] = err[k];
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode, fields };
  }
  assert.fail('the call succeeded');
}

/** Bytes received by an upload, as /v2/ reports them (its Range header), or the HTTP status when it is gone. */
async function uploadRange(t: EcrTestApp, name: string, id: string): Promise<string | number> {
  const r = await t.fetch(`/v2/${name}/blobs/uploads/${id}`);
  await r.arrayBuffer();
  return r.status === 204 ? (r.headers.get('range') ?? '') : r.status;
}

async function pushBlobV2(t: EcrTestApp, name: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const r = await t.fetch(`/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return digest;
}

/** Pushes a manifest through /v2/ (with a config blob of its own) that uses the layers given. */
async function pushManifestV2(t: EcrTestApp, name: string, tag: string, layers: ReadonlyArray<{ digest: string; size: number }>): Promise<{ digest: string; config: string }> {
  const configBody = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag }));
  const config = await pushBlobV2(t, name, configBody);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: CONFIG_TYPE, digest: config, size: configBody.length },
    layers: layers.map((l) => ({ mediaType: LAYER_TYPE, digest: l.digest, size: l.size })),
  });
  const r = await t.fetch(`/v2/${name}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(r.status, 201, await r.text());
  return { digest: sha256(manifest), config };
}

/** Uploads `data` through the API in parts of the sizes given (the rest in a last part); returns the upload id. */
async function uploadByApi(t: EcrTestApp, name: string, data: Buffer, partSizes: readonly number[]): Promise<string> {
  const { uploadId } = await t.ecr.send(new InitiateLayerUploadCommand({ repositoryName: name }));
  assert.ok(uploadId !== undefined);
  let at = 0;
  for (const n of [...partSizes, data.length - partSizes.reduce((a, b) => a + b, 0)]) {
    if (n === 0) continue;
    const r: UploadLayerPartCommandOutput = await t.ecr.send(new UploadLayerPartCommand({ repositoryName: name, uploadId, partFirstByte: at, partLastByte: at + n - 1, layerPartBlob: data.subarray(at, at + n) }));
    at += n;
    assert.equal(r.lastByteReceived, at - 1);
  }
  return uploadId;
}

async function check(t: EcrTestApp, name: string, digests: string[]): Promise<{ layers: Layer[] | undefined; failures: LayerFailure[] | undefined }> {
  const r = await t.ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: name, layerDigests: digests }));
  return { layers: r.layers, failures: r.failures };
}

describe('layer operations', () => {
  let t: EcrTestApp;
  let account: string;
  const repoNotFound = (name: string): { name: string; message: string; status: number; fields: Record<string, unknown> } => ({
    name: 'RepositoryNotFoundException',
    message: `The repository with name '${name}' does not exist in the registry with id '${account}'`,
    status: 400,
    fields: {},
  });

  before(async () => {
    t = await startEcrApp({ env: { BERTH_AUTH_MASTER_KEY: MASTER_KEY.toString('base64') } });
    account = t.app.boot.accountId;
    for (const repositoryName of ['layers/app', 'layers/other', 'layers/errors', 'layers/dl']) await t.ecr.send(new CreateRepositoryCommand({ repositoryName }));
  });
  after(async () => {
    await t.close();
  });

  test('the whole upload by API (initiate, three parts, complete), then a /v2/ manifest push that uses the layer', async () => {
    const layer = randomBytes(10 * MiB + 12345);
    const digest = sha256(layer);
    assert.deepEqual(await check(t, 'layers/app', [digest]), { layers: [{ layerDigest: digest, layerAvailability: 'UNAVAILABLE' }], failures: [] });

    const init = await t.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'layers/app' }));
    assert.match(init.uploadId ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(init.partSize, 10 * MiB);
    const uploadId = init.uploadId as string;
    const parts: Array<[number, number]> = [
      [0, 5 * MiB - 1],
      [5 * MiB, 10 * MiB - 1],
      [10 * MiB, layer.length - 1],
    ];
    for (const [first, last] of parts) {
      const r = await t.ecr.send(new UploadLayerPartCommand({ repositoryName: 'layers/app', uploadId, partFirstByte: first, partLastByte: last, layerPartBlob: layer.subarray(first, last + 1) }));
      assert.deepEqual({ ...r, $metadata: undefined }, { $metadata: undefined, registryId: account, repositoryName: 'layers/app', uploadId, lastByteReceived: last });
      assert.equal(await uploadRange(t, 'layers/app', uploadId), `0-${last}`);
    }
    const done = await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'layers/app', uploadId, layerDigests: [digest] }));
    assert.deepEqual({ ...done, $metadata: undefined }, { $metadata: undefined, registryId: account, repositoryName: 'layers/app', uploadId, layerDigest: digest });
    assert.equal(await uploadRange(t, 'layers/app', uploadId), 404, 'the upload ended');

    // Uploaded but used by no image yet: available without a media type, not downloadable.
    assert.deepEqual(await check(t, 'layers/app', [digest]), { layers: [{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: layer.length }], failures: [] });
    assert.deepEqual(await refusal(t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'layers/app', layerDigest: digest }))), {
      name: 'LayerInaccessibleException',
      message: `The layer with digest '${digest}' is not referenced by any image in the repository with name 'layers/app' in the registry with id '${account}'; only layers of images can be downloaded`,
      status: 400,
      fields: {},
    });

    // A /v2/ manifest push uses the layer the API uploaded.
    const { config } = await pushManifestV2(t, 'layers/app', 'v1', [{ digest, size: layer.length }]);
    const c = await check(t, 'layers/app', [digest, config]);
    assert.deepEqual(c.layers, [
      { layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: layer.length, mediaType: LAYER_TYPE },
      { layerDigest: config, layerAvailability: 'AVAILABLE', layerSize: c.layers?.[1]?.layerSize, mediaType: CONFIG_TYPE },
    ]);
    const r = await t.fetch(`/v2/layers/app/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer));
  });

  test('a layer pushed through /v2/ is AVAILABLE to BatchCheckLayerAvailability; non-digests are failures, one entry per digest asked', async () => {
    const blob = randomBytes(4000);
    const digest = await pushBlobV2(t, 'layers/other', blob);
    const unknown = sha256('not pushed anywhere');
    const c = await check(t, 'layers/other', [digest, unknown, '', 'sha256:abc', 'md5:0123', digest]);
    assert.deepEqual(c, {
      layers: [
        { layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: 4000 },
        { layerDigest: unknown, layerAvailability: 'UNAVAILABLE' },
        { layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: 4000 },
      ],
      failures: [
        { layerDigest: '', failureCode: 'MissingLayerDigest', failureReason: 'Invalid request parameters: the layer digest is empty' },
        { layerDigest: 'sha256:abc', failureCode: 'InvalidLayerDigest', failureReason: 'Invalid request parameters: layer digest should be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>' },
        { layerDigest: 'md5:0123', failureCode: 'InvalidLayerDigest', failureReason: 'Invalid request parameters: layer digest should be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>' },
      ],
    });
    // Another repository does not hold it.
    assert.deepEqual((await check(t, 'layers/app', [digest])).layers, [{ layerDigest: digest, layerAvailability: 'UNAVAILABLE' }]);
    assert.deepEqual(await refusal(t.ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'layers/none', layerDigests: [digest] }))), repoNotFound('layers/none'));
    assert.deepEqual(await refusal(t.ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'layers/other', layerDigests: [] }))), {
      name: 'InvalidParameterException',
      message: "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'must have length greater than or equal to 1'",
      status: 400,
      fields: {},
    });
  });

  test('CompleteLayerUpload of a layer the repository holds: verified, the upload ends, LayerAlreadyExistsException', async () => {
    const blob = randomBytes(3000);
    const digest = await pushBlobV2(t, 'layers/other', blob);
    // A wrong digest is refused first, as for any upload.
    const uploadId = await uploadByApi(t, 'layers/other', blob, []);
    const wrong = sha256('something else');
    assert.equal((await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'layers/other', uploadId, layerDigests: [wrong] })))).name, 'InvalidLayerException');
    assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'layers/other', uploadId, layerDigests: [digest] }))), {
      name: 'LayerAlreadyExistsException',
      message: `The layer with digest '${digest}' already exists in the repository with name 'layers/other' in the registry with id '${account}'`,
      status: 400,
      fields: {},
    });
    assert.equal(await uploadRange(t, 'layers/other', uploadId), 404, 'the upload ended');
    assert.deepEqual((await check(t, 'layers/other', [digest])).layers, [{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: 3000 }]);

    // The same bytes into a repository that does not hold them yet: stored once, linked, no exception.
    const again = await uploadByApi(t, 'layers/app', blob, []);
    const r = await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'layers/app', uploadId: again, layerDigests: [digest] }));
    assert.equal(r.layerDigest, digest);
    assert.deepEqual((await check(t, 'layers/app', [digest])).layers, [{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: 3000 }]);
  });

  test('an upload started by API can be continued and completed through /v2/, and the reverse', async () => {
    const data = randomBytes(6 * MiB + 10);
    const digest = sha256(data);
    const uploadId = await uploadByApi(t, 'layers/other', data.subarray(0, 5 * MiB), []);
    const patch = await t.fetch(`/v2/layers/other/blobs/uploads/${uploadId}?digest=${digest}`, {
      method: 'PUT',
      body: data.subarray(5 * MiB),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${5 * MiB}-${data.length - 1}` },
    });
    assert.equal(patch.status, 201, await patch.text());
    assert.deepEqual((await check(t, 'layers/other', [digest])).layers, [{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: data.length }]);

    const other = randomBytes(7 * MiB);
    const post = await t.fetch('/v2/layers/other/blobs/uploads/', { method: 'POST' });
    assert.equal(post.status, 202);
    const id = post.headers.get('docker-upload-uuid') ?? '';
    const p1 = await t.fetch(`/v2/layers/other/blobs/uploads/${id}`, { method: 'PATCH', body: other.subarray(0, 5 * MiB), headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${5 * MiB - 1}` } });
    assert.equal(p1.status, 202);
    const part = await t.ecr.send(new UploadLayerPartCommand({ repositoryName: 'layers/other', uploadId: id, partFirstByte: 5 * MiB, partLastByte: other.length - 1, layerPartBlob: other.subarray(5 * MiB) }));
    assert.equal(part.lastByteReceived, other.length - 1);
    const done = await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'layers/other', uploadId: id, layerDigests: [sha256(other)] }));
    assert.equal(done.layerDigest, sha256(other));
  });

  describe('refusals', () => {
    const name = 'layers/errors';
    const part = (uploadId: string, first: number, last: number, blob: Buffer): UploadLayerPartCommand =>
      new UploadLayerPartCommand({ repositoryName: name, uploadId, partFirstByte: first, partLastByte: last, layerPartBlob: blob });
    const invalidPart = (uploadId: string, message: string, lastValidByteReceived?: number): { name: string; message: string; status: number; fields: Record<string, unknown> } => ({
      name: 'InvalidLayerPartException',
      message,
      status: 400,
      fields: { registryId: account, repositoryName: name, uploadId, ...(lastValidByteReceived !== undefined ? { lastValidByteReceived } : {}) },
    });

    test('UploadLayerPart: a part that does not start where the upload ends, or whose bytes do not match its range, changes nothing', async () => {
      const { uploadId } = await t.ecr.send(new InitiateLayerUploadCommand({ repositoryName: name }));
      assert.ok(uploadId !== undefined);
      const bytes = randomBytes(5 * MiB);

      assert.deepEqual(await refusal(t.ecr.send(part(uploadId, 10, 19, bytes.subarray(0, 10)))), invalidPart(uploadId, 'The first part must start at byte 0, not 10'));
      assert.equal(await uploadRange(t, name, uploadId), '0-0');

      await t.ecr.send(part(uploadId, 0, bytes.length - 1, bytes));
      const end = bytes.length - 1;
      // A gap, an overlap, and the same part again.
      for (const first of [bytes.length + 1, 100, 0]) {
        assert.deepEqual(
          await refusal(t.ecr.send(part(uploadId, first, first + 9, bytes.subarray(0, 10)))),
          invalidPart(uploadId, `The part must start at byte ${bytes.length}, right after the last byte received (${end}), not at ${first}`, end),
        );
      }
      assert.deepEqual(
        await refusal(t.ecr.send(part(uploadId, bytes.length, bytes.length + 99, bytes.subarray(0, 10)))),
        invalidPart(uploadId, `The part spans bytes ${bytes.length} to ${bytes.length + 99} (100 bytes) but layerPartBlob has 10 bytes`, end),
      );
      assert.deepEqual(
        await refusal(t.ecr.send(part(uploadId, bytes.length, bytes.length - 1, Buffer.alloc(0)))),
        invalidPart(uploadId, `The part's last byte (${bytes.length - 1}) is before its first byte (${bytes.length})`, end),
      );
      assert.equal(await uploadRange(t, name, uploadId), `0-${end}`);
      // The upload goes on from where it was.
      const tail = randomBytes(10);
      assert.equal((await t.ecr.send(part(uploadId, bytes.length, bytes.length + 9, tail))).lastByteReceived, bytes.length + 9);
      const digest = sha256(Buffer.concat([bytes, tail]));
      assert.equal((await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId, layerDigests: [digest] }))).layerDigest, digest);
    });

    test('UploadLayerPart: unknown uploads, another repository\'s upload, bad ids, oversized parts, unknown repositories, quotas', async () => {
      const ghost = randomUUID();
      const notFound = (id: string): { name: string; message: string; status: number; fields: Record<string, unknown> } => ({
        name: 'UploadNotFoundException',
        message: `Upload with id '${id}' does not exist in the repository with name '${name}' in the registry with id '${account}'`,
        status: 400,
        fields: {},
      });
      assert.deepEqual(await refusal(t.ecr.send(part(ghost, 0, 0, Buffer.from('x')))), notFound(ghost));
      const { uploadId: elsewhere } = await t.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'layers/other' }));
      assert.ok(elsewhere !== undefined);
      assert.deepEqual(await refusal(t.ecr.send(part(elsewhere, 0, 0, Buffer.from('x')))), notFound(elsewhere));
      assert.equal(await uploadRange(t, 'layers/other', elsewhere), '0-0');
      assert.deepEqual(await refusal(t.ecr.send(part('not-an-upload-id', 0, 0, Buffer.from('x')))), {
        name: 'InvalidParameterException',
        message: "Invalid parameter at 'uploadId' failed to satisfy constraint: 'must satisfy regular expression '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}''",
        status: 400,
        fields: {},
      });
      assert.deepEqual(
        await refusal(t.ecr.send(new UploadLayerPartCommand({ repositoryName: 'layers/none', uploadId: elsewhere, partFirstByte: 0, partLastByte: 0, layerPartBlob: Buffer.from('x') }))),
        repoNotFound('layers/none'),
      );
      assert.deepEqual(await refusal(t.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'layers/none' }))), repoNotFound('layers/none'));

      const { uploadId } = await t.ecr.send(new InitiateLayerUploadCommand({ repositoryName: name }));
      assert.ok(uploadId !== undefined);
      const big = Buffer.alloc(20 * MiB + 1, 1);
      assert.deepEqual(await refusal(t.ecr.send(part(uploadId, 0, big.length - 1, big))), {
        name: 'InvalidParameterException',
        message: "Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'must have length less than or equal to 20971520'",
        status: 400,
        fields: {},
      });
      assert.equal(await uploadRange(t, name, uploadId), '0-0');
      // A part of exactly 20 MiB is accepted.
      assert.equal((await t.ecr.send(part(uploadId, 0, 20 * MiB - 1, big.subarray(0, 20 * MiB)))).lastByteReceived, 20 * MiB - 1);

      // ECR's 4,200 parts per layer (reached here by writing the upload's part record directly).
      const repo = await t.app.registry.repositories.get(account, name);
      await t.app.registry.uploads.writeNote(repo, uploadId, formatPartRecord({ parts: 4200, smallPartEnd: null }));
      assert.deepEqual(await refusal(t.ecr.send(part(uploadId, 20 * MiB, 20 * MiB, Buffer.from('x')))), {
        name: 'LimitExceededException',
        message: `The upload with id '${uploadId}' already has 4200 parts, the most a layer can have`,
        status: 400,
        fields: {},
      });
      assert.equal(await uploadRange(t, name, uploadId), `0-${20 * MiB - 1}`);
    });

    test('CompleteLayerUpload: empty uploads, wrong digests, small parts that are not the last, digest lists; nothing changes', async () => {
      const empty = await uploadByApi(t, name, Buffer.alloc(0), []);
      const someDigest = sha256('x');
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: empty, layerDigests: [someDigest] }))), {
        name: 'EmptyUploadException',
        message: `The upload with id '${empty}' contains no layer parts`,
        status: 400,
        fields: {},
      });
      assert.equal(await uploadRange(t, name, empty), '0-0');

      // Two parts of 1 MiB: the first is under 5 MiB and not the last.
      const small = randomBytes(2 * MiB);
      const smallDigest = sha256(small);
      const smallId = await uploadByApi(t, name, small, [MiB]);
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: smallId, layerDigests: [smallDigest] }))), {
        name: 'LayerPartTooSmallException',
        message: `Layer parts must be at least 5242880 bytes (5 MiB) except the last one; the part ending at byte ${MiB - 1} of upload '${smallId}' is smaller and is not the last`,
        status: 400,
        fields: {},
      });
      assert.equal(await uploadRange(t, name, smallId), `0-${2 * MiB - 1}`);
      assert.deepEqual((await check(t, name, [smallDigest])).layers, [{ layerDigest: smallDigest, layerAvailability: 'UNAVAILABLE' }]);

      // A wrong digest: InvalidLayerException, and the upload can still be completed with the right one.
      const data = randomBytes(6 * MiB);
      const digest = sha256(data);
      const id = await uploadByApi(t, name, data, [5 * MiB]);
      const wrong = sha256('wrong');
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: [wrong] }))), {
        name: 'InvalidLayerException',
        message: `The digest of the uploaded layer, '${digest}', does not match the layer digest given, '${wrong}'`,
        status: 400,
        fields: {},
      });
      assert.equal(await uploadRange(t, name, id), `0-${data.length - 1}`);
      assert.deepEqual((await check(t, name, [digest, wrong])).layers, [
        { layerDigest: digest, layerAvailability: 'UNAVAILABLE' },
        { layerDigest: wrong, layerAvailability: 'UNAVAILABLE' },
      ]);
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: [digest, digest] }))), {
        name: 'InvalidParameterException',
        message: "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'must contain exactly one digest, the layer's' (it has 2)",
        status: 400,
        fields: {},
      });
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: ['sha256:abc'] }))), {
        name: 'InvalidParameterException',
        message: 'invalid layerDigests "sha256:abc": expected sha256:<64 hex> or sha512:<128 hex>',
        status: 400,
        fields: {},
      });
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: ['nodigest'] }))), {
        name: 'InvalidParameterException',
        message: "Invalid parameter at 'layerDigests.1.member' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''",
        status: 400,
        fields: {},
      });
      assert.equal(await uploadRange(t, name, id), `0-${data.length - 1}`);
      assert.equal((await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: [digest] }))).layerDigest, digest);
      // Completed: the upload is gone.
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: [digest] }))), {
        name: 'UploadNotFoundException',
        message: `Upload with id '${id}' does not exist in the repository with name '${name}' in the registry with id '${account}'`,
        status: 400,
        fields: {},
      });
      assert.deepEqual(await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'layers/none', uploadId: id, layerDigests: [digest] }))), repoNotFound('layers/none'));
    });
  });

  describe('GetDownloadUrlForLayer', () => {
    const name = 'layers/dl';
    let layer: Buffer;
    let digest: string;
    let config: string;
    let url: string;

    before(async () => {
      layer = randomBytes(5 * MiB + 777);
      digest = sha256(layer);
      const id = await uploadByApi(t, name, layer, [5 * MiB]);
      await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: name, uploadId: id, layerDigests: [digest] }));
      ({ config } = await pushManifestV2(t, name, 'v1', [{ digest, size: layer.length }]));
      const r = await t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: name, layerDigest: digest }));
      assert.equal(r.layerDigest, digest);
      url = r.downloadUrl ?? '';
    });

    test('a URL of berth that serves the layer without credentials (GET, HEAD, ranges), for about an hour', async () => {
      const prefix = `${t.url}/v2/${name}/blobs/${digest}?X-Berth-Download=`;
      assert.ok(url.startsWith(prefix), url);
      const payload = JSON.parse(Buffer.from(url.slice(prefix.length).split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      assert.equal(payload.a, account);
      assert.equal(payload.r, name);
      assert.equal(payload.d, digest);
      assert.ok(Math.abs((payload.exp as number) - (Date.now() + 3600_000)) < 60_000, 'expires in an hour');

      const r = await fetch(url);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('docker-content-digest'), digest);
      assert.equal(r.headers.get('content-length'), String(layer.length));
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer), 'byte-identical');

      const h = await fetch(url, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-length'), String(layer.length));

      const g = await fetch(url, { headers: { range: 'bytes=1000-1999' } });
      assert.equal(g.status, 206);
      assert.equal(g.headers.get('content-range'), `bytes 1000-1999/${layer.length}`);
      assert.ok(Buffer.from(await g.arrayBuffer()).equals(layer.subarray(1000, 2000)));
      const tail = await fetch(url, { headers: { range: 'bytes=-100' } });
      assert.equal(tail.status, 206);
      assert.ok(Buffer.from(await tail.arrayBuffer()).equals(layer.subarray(layer.length - 100)));
    });

    test('a forged, tampered, expired or other-blob token is refused in the OCI format; the token grants nothing else', async () => {
      const ociError = async (r: Response): Promise<{ status: number; code: string | undefined; message: string | undefined }> => {
        const body = (await r.json()) as { errors?: Array<{ code?: string; message?: string }> };
        return { status: r.status, code: body.errors?.[0]?.code, message: body.errors?.[0]?.message };
      };
      const token = url.slice(url.indexOf('X-Berth-Download=') + 'X-Berth-Download='.length);
      const [body, mac] = token.split('.') as [string, string];
      const at = (path: string, tok: string): string => `${t.url}${path}?X-Berth-Download=${tok}`;
      const blobPath = `/v2/${name}/blobs/${digest}`;

      const tampered = `${body}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
      assert.deepEqual(await ociError(await fetch(at(blobPath, tampered))), { status: 401, code: 'UNAUTHORIZED', message: 'invalid download token: get a new URL with GetDownloadUrlForLayer' });
      // The payload changed to grant another blob, with the old signature.
      const forgedBody = Buffer.from(JSON.stringify({ ...(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as object), d: config })).toString('base64url');
      assert.deepEqual(await ociError(await fetch(at(`/v2/${name}/blobs/${config}`, `${forgedBody}.${mac}`))), {
        status: 401,
        code: 'UNAUTHORIZED',
        message: 'invalid download token: get a new URL with GetDownloadUrlForLayer',
      });
      // Signed by another deployment's key.
      const foreign = issueDownloadToken(new Keyring(Buffer.alloc(32, 9)), { accountId: account, repository: name, digest, expiresAt: Date.now() + 60_000, issuedTo: 'x' });
      assert.equal((await ociError(await fetch(at(blobPath, foreign)))).status, 401);
      // Genuine but expired.
      const keyring = new Keyring(MASTER_KEY);
      const expired = issueDownloadToken(keyring, { accountId: account, repository: name, digest, expiresAt: Date.now() - 1000, issuedTo: 'x' });
      assert.deepEqual(await ociError(await fetch(at(blobPath, expired))), { status: 401, code: 'UNAUTHORIZED', message: 'the download URL has expired: get a new one with GetDownloadUrlForLayer' });
      // Genuine, for another blob of the repository, or for the blob in another repository.
      assert.deepEqual(await ociError(await fetch(at(`/v2/${name}/blobs/${config}`, token))), {
        status: 403,
        code: 'DENIED',
        message: `the download token grants ${digest} of repository ${name}, not ${config} of ${name}`,
      });
      assert.deepEqual(await ociError(await fetch(at(`/v2/layers/app/blobs/${digest}`, token))), {
        status: 403,
        code: 'DENIED',
        message: `the download token grants ${digest} of repository ${name}, not ${digest} of layers/app`,
      });
      // A login token is no download token.
      assert.equal((await ociError(await fetch(at(blobPath, keyring.sign({ t: 'login', v: 1, a: account, exp: Date.now() + 60_000 }))))).status, 401);
      // Nothing but GET and HEAD of that blob: DELETE, manifests and uploads still need credentials.
      assert.equal((await ociError(await fetch(at(blobPath, token), { method: 'DELETE' }))).status, 401);
      assert.equal((await ociError(await fetch(at(`/v2/${name}/manifests/v1`, token)))).status, 401);
      assert.equal((await ociError(await fetch(at(`/v2/${name}/blobs/uploads/`, token), { method: 'POST' }))).status, 401);
      const still = await fetch(url);
      assert.equal(still.status, 200);
      await still.arrayBuffer();
    });

    test('LayersNotFoundException, LayerInaccessibleException, invalid digests and unknown repositories', async () => {
      const absent = sha256('absent');
      assert.deepEqual(await refusal(t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: name, layerDigest: absent }))), {
        name: 'LayersNotFoundException',
        message: `The layer with digest '${absent}' does not exist in the repository with name '${name}' in the registry with id '${account}'`,
        status: 400,
        fields: {},
      });
      // Held by another repository only.
      assert.equal((await refusal(t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'layers/other', layerDigest: digest })))).name, 'LayersNotFoundException');
      const loose = await pushBlobV2(t, name, randomBytes(100));
      assert.equal((await refusal(t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: name, layerDigest: loose })))).name, 'LayerInaccessibleException');
      assert.deepEqual(await refusal(t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: name, layerDigest: 'sha256:abc' }))), {
        name: 'InvalidParameterException',
        message: 'invalid layerDigest "sha256:abc": expected sha256:<64 hex> or sha512:<128 hex>',
        status: 400,
        fields: {},
      });
      assert.deepEqual(await refusal(t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'layers/none', layerDigest: digest }))), repoNotFound('layers/none'));
      // The config blob is referenced by the image too: downloadable.
      assert.ok((await t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: name, layerDigest: config }))).downloadUrl?.includes(config));
    });
  });
});

describe('GetDownloadUrlForLayer with auth.downloadUrlTtl', () => {
  test('the URL stops working when the configured validity ends', async () => {
    const t = await startEcrApp({ config: { auth: { downloadUrlTtl: '1s' } } });
    try {
      await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'ttl/app' }));
      const layer = randomBytes(1000);
      const digest = await pushBlobV2(t, 'ttl/app', layer);
      await pushManifestV2(t, 'ttl/app', 'v1', [{ digest, size: layer.length }]);
      const { downloadUrl } = await t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'ttl/app', layerDigest: digest }));
      const r = await fetch(downloadUrl ?? '');
      assert.equal(r.status, 200);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer));
      await sleep(1100);
      const late = await fetch(downloadUrl ?? '');
      assert.equal(late.status, 401);
      assert.equal(((await late.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAUTHORIZED');
    } finally {
      await t.close();
    }
  });
});

const s3 = s3Env();
describe('layer operations on the S3 driver', { skip: s3 === undefined ? 'S3_ENDPOINT is unset: eval "$(/work/shared/tools/ceph-rgw.sh env)" to run against a real S3 store' : false }, () => {
  let t: EcrTestApp;
  const prefix = `berth-test-layers-${randomBytes(4).toString('hex')}/`;

  before(async () => {
    const env = Object.fromEntries(Object.entries(scaleOutEnv('', s3 as NonNullable<typeof s3>, prefix)).filter(([k]) => k.startsWith('BERTH_STORAGE_')));
    t = await startEcrApp({ env });
  });
  after(async () => {
    await t.close();
    await deleteS3Prefix(s3 as NonNullable<typeof s3>, prefix);
  });

  test('upload by API in parts, push by /v2/, and a presigned URL of the store that serves the layer', async () => {
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 's3/app' }));
    const layer = randomBytes(5 * MiB + 4321);
    const digest = sha256(layer);
    const id = await uploadByApi(t, 's3/app', layer, [5 * MiB]);
    const wrong = sha256('wrong');
    assert.equal((await refusal(t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 's3/app', uploadId: id, layerDigests: [wrong] })))).name, 'InvalidLayerException');
    assert.equal((await t.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 's3/app', uploadId: id, layerDigests: [digest] }))).layerDigest, digest);
    await pushManifestV2(t, 's3/app', 'v1', [{ digest, size: layer.length }]);
    assert.deepEqual((await check(t, 's3/app', [digest])).layers, [{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: layer.length, mediaType: LAYER_TYPE }]);

    const { downloadUrl } = await t.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 's3/app', layerDigest: digest }));
    const u = new URL(downloadUrl ?? '');
    assert.equal(u.origin, new URL((s3 as NonNullable<typeof s3>).endpoint).origin, 'the store serves it');
    assert.equal(u.searchParams.get('X-Amz-Expires'), '3600');
    assert.ok(u.searchParams.has('X-Amz-Signature'));
    const r = await fetch(u);
    assert.equal(r.status, 200);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer), 'byte-identical');
    const g = await fetch(u, { headers: { range: 'bytes=10-19' } });
    assert.equal(g.status, 206);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(layer.subarray(10, 20)));
  });
});
