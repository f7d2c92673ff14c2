// The real AWS CLI v2 (/usr/bin/aws, Debian's awscli) against a real berth server, with only
// --endpoint-url added, as an ECR user runs it every day: create a repository (scan on push, immutable
// tags), `aws ecr get-login-password | podman login --username AWS --password-stdin`, push with podman,
// describe and list the image, see an overwrite of the immutable tag refused, batch-delete by tag and by
// digest, paginate, delete the repository. The CLI runs with a controlled environment: credentials and
// region from AWS_* variables, HOME and the config and credentials files in a temporary directory,
// no AWS_PROFILE or AWS_CA_BUNDLE. podman runs with vfs storage in its own temporary directories.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Fixture } from '../fixtures/build.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { awsCliEnv, Cleanup, assertOk, describeRun, loadFixtures, makeTempDir, missingTools, podmanSandbox, run, skopeo, type RunResult, type Skopeo } from './support.ts';

/** Always this binary: another `aws` (a pyenv shim, AWS CLI v1) may come first on PATH. */
const AWS = '/usr/bin/aws';
const REPO = 'e2e/awscli';
const SEED = 'e2e/awscli-seed';

interface Repository {
  repositoryArn: string;
  registryId: string;
  repositoryName: string;
  repositoryUri: string;
  createdAt: string;
  imageTagMutability: string;
  imageScanningConfiguration: { scanOnPush: boolean };
  encryptionConfiguration?: { encryptionType: string };
}

interface ImageDetail {
  registryId: string;
  repositoryName: string;
  imageDigest: string;
  imageTags?: string[];
  imageSizeInBytes: number;
  imagePushedAt: string;
  imageManifestMediaType?: string;
  artifactMediaType?: string;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

describe('AWS CLI v2 (aws ecr) against berth', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let sk: Skopeo;
  let fx: Record<'tiny' | 'tiny-docker', Fixture>;
  let work: string;
  let awsEnv: Record<string, string>;
  let podmanEnv: Record<string, string>;
  let podmanFlags: string[];
  let authFile: string;
  /** Digest podman pushed as REPO:v1 (tiny), and as REPO:v2 (tiny-docker). */
  let v1 = '';
  let v2 = '';

  before(async () => {
    if (!existsSync(AWS)) {
      skip = `SKIP: ${AWS} not found (install the Debian package 'awscli', the AWS CLI v2)`;
      return;
    }
    skip = missingTools([
      ['podman', 'podman'],
      ['skopeo', 'skopeo'],
    ]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<'tiny' | 'tiny-docker'>(['tiny', 'tiny-docker']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    work = await makeTempDir('awscli');
    cleanup.dir(work);
    for (const d of ['aws-home', 'home', 'runtime', 'config', 'data', 'root', 'runroot', 'tmp', 'skopeo-home']) await mkdir(join(work, d), { mode: 0o700 });

    // The AWS CLI: nothing from this machine's AWS setup; empty config and credentials files.
    server = await startServer({ env: { BERTH_STRICT_ERRORS: '1' } });
    cleanup.server(server);
    awsEnv = await awsCliEnv(work, server, { TMPDIR: join(work, 'tmp') });

    ({ env: podmanEnv, flags: podmanFlags, authFile } = await podmanSandbox(work));
    sk = skopeo(server, join(work, 'skopeo-home'));
  });

  after(async () => {
    await cleanup.run();
  });

  function skipped(t: TestContext): boolean {
    if (skip === undefined) return false;
    t.skip(skip);
    return true;
  }

  async function aws(args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
    return await run(AWS, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: { ...awsEnv, ...extraEnv }, timeoutMs: 120_000 });
  }

  /** Runs `aws ...`, asserts success and parses its JSON output. */
  async function awsJson<T>(args: string[]): Promise<T> {
    const r = assertOk(await aws(args), server);
    const text = r.stdout.toString('utf8').trim();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  /** Runs `aws ...`, asserts it failed with the ECR exception `type` (the CLI's own wording) and returns stderr. */
  async function awsFails(args: string[], type: string, extraEnv: Record<string, string> = {}): Promise<string> {
    const r = await aws(args, extraEnv);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, new RegExp(`An error occurred \\(${type}\\) when calling the \\w+ operation`), describeRun(r));
    return r.stderr;
  }

  async function podman(args: string[], input?: string): Promise<RunResult> {
    return await run('podman', [...podmanFlags, ...args], { env: podmanEnv, timeoutMs: 180_000, ...(input === undefined ? {} : { input }) });
  }

  async function podmanOk(args: string[]): Promise<RunResult> {
    return assertOk(await podman(args), server);
  }

  test('the AWS CLI is v2', async (t) => {
    if (skipped(t)) return;
    const r = assertOk(await run(AWS, ['--version'], { env: awsEnv }));
    assert.match(r.stdout.toString('utf8'), /^aws-cli\/2\./, describeRun(r));
  });

  test('create-repository with scanOnPush=true and IMMUTABLE tags', async (t) => {
    if (skipped(t)) return;
    const out = await awsJson<{ repository: Repository }>([
      'ecr',
      'create-repository',
      '--repository-name',
      REPO,
      '--image-scanning-configuration',
      'scanOnPush=true',
      '--image-tag-mutability',
      'IMMUTABLE',
    ]);
    const r = out.repository;
    assert.equal(r.repositoryName, REPO);
    assert.match(r.registryId, /^\d{12}$/);
    assert.equal(r.repositoryArn, `arn:aws:ecr:us-east-1:${r.registryId}:repository/${REPO}`);
    assert.equal(r.repositoryUri, `${server.host}/${REPO}`);
    assert.equal(r.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(r.imageScanningConfiguration, { scanOnPush: true });
    assert.equal(r.encryptionConfiguration?.encryptionType, 'AES256');
    const created = Date.parse(r.createdAt);
    assert.ok(Math.abs(created - Date.now()) < 120_000, `createdAt ${r.createdAt} (the CLI prints epoch seconds as ISO 8601)`);
    // A second time: RepositoryAlreadyExistsException, in the CLI's words.
    const err = await awsFails(['ecr', 'create-repository', '--repository-name', REPO], 'RepositoryAlreadyExistsException');
    assert.ok(err.includes(REPO), err);
    // The seed repository for skopeo (mutable, defaults).
    await awsJson(['ecr', 'create-repository', '--repository-name', SEED]);
  });

  test('get-authorization-token: base64("AWS:<token>"), 12 hours, the proxy endpoint', async (t) => {
    if (skipped(t)) return;
    const out = await awsJson<{ authorizationData: Array<{ authorizationToken: string; expiresAt: string; proxyEndpoint: string }> }>(['ecr', 'get-authorization-token']);
    assert.equal(out.authorizationData.length, 1);
    const d = out.authorizationData[0];
    assert.ok(d !== undefined);
    const decoded = Buffer.from(d.authorizationToken, 'base64').toString('utf8');
    assert.match(decoded, /^AWS:\S+$/);
    assert.equal(d.proxyEndpoint, server.url);
    const hours = (Date.parse(d.expiresAt) - Date.now()) / 3600_000;
    assert.ok(hours > 11.9 && hours <= 12.01, `expiresAt ${d.expiresAt}: ${hours} h from now`);
    // get-login-password prints the token's password part.
    const pw = assertOk(await aws(['ecr', 'get-login-password']), server).stdout.toString('utf8').trim();
    assert.match(pw, /^\S+$/);
    const v2 = await fetch(`${server.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`AWS:${pw}`).toString('base64')}` } });
    assert.equal(v2.status, 200, 'the password is accepted on /v2/ with the user AWS');
  });

  test('aws ecr get-login-password | podman login --username AWS --password-stdin', async (t) => {
    if (skipped(t)) return;
    // A shell pipe, as users type it. The AWS CLI gets exactly its own environment (env -i), podman
    // the shell's (its isolated configuration).
    const awsPart = `env -i ${Object.entries(awsEnv)
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join(' ')} ${AWS} ecr get-login-password --endpoint-url ${shellQuote(server.url)}`;
    const podmanPart = `podman ${podmanFlags.map(shellQuote).join(' ')} login --username AWS --password-stdin --tls-verify=false ${shellQuote(server.host)}`;
    const r = await run('bash', ['-c', `set -o pipefail; ${awsPart} | ${podmanPart}`], { env: podmanEnv, timeoutMs: 180_000 });
    assertOk(r, server);
    assert.match(r.stdout.toString('utf8'), /Login Succeeded/i, describeRun(r));
    const saved = JSON.parse(await readFile(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    const auth = Buffer.from(saved.auths[server.host]?.auth ?? '', 'base64').toString('utf8');
    assert.match(auth, /^AWS:\S+$/, 'podman stored the user AWS and the token');
  });

  test('push with podman (logged in with the token): describe-images and list-images show the image', async (t) => {
    if (skipped(t)) return;
    await sk.push(fx.tiny, `${SEED}:tiny`);
    await sk.push(fx['tiny-docker'], `${SEED}:tiny-docker`);
    // podman pulls the seed with the login token and pushes it to the immutable repository.
    await podmanOk(['pull', '--tls-verify=false', `${server.host}/${SEED}:tiny`]);
    await podmanOk(['tag', `${server.host}/${SEED}:tiny`, `${server.host}/${REPO}:v1`]);
    const digestFile = join(work, 'digest-v1');
    await podmanOk(['push', '--tls-verify=false', '--digestfile', digestFile, `${server.host}/${REPO}:v1`]);
    v1 = (await readFile(digestFile, 'utf8')).trim();
    assert.match(v1, /^sha256:[0-9a-f]{64}$/);

    const described = await awsJson<{ imageDetails: ImageDetail[] }>(['ecr', 'describe-images', '--repository-name', REPO]);
    assert.equal(described.imageDetails.length, 1, JSON.stringify(described));
    const d = described.imageDetails[0];
    assert.ok(d !== undefined);
    assert.equal(d.repositoryName, REPO);
    assert.match(d.registryId, /^\d{12}$/);
    assert.equal(d.imageDigest, v1);
    assert.deepEqual(d.imageTags, ['v1']);
    assert.ok(d.imageSizeInBytes > 0, `imageSizeInBytes ${d.imageSizeInBytes}`);
    assert.ok(Math.abs(Date.parse(d.imagePushedAt) - Date.now()) < 300_000, `imagePushedAt ${d.imagePushedAt}`);
    assert.match(d.imageManifestMediaType ?? '', /^application\/vnd\.(oci\.image\.manifest\.v1|docker\.distribution\.manifest\.v2)\+json$/);
    const byTag = await awsJson<{ imageDetails: ImageDetail[] }>(['ecr', 'describe-images', '--repository-name', REPO, '--image-ids', 'imageTag=v1']);
    assert.equal(byTag.imageDetails[0]?.imageDigest, v1);

    const listed = await awsJson<{ imageIds: Array<{ imageDigest: string; imageTag?: string }> }>(['ecr', 'list-images', '--repository-name', REPO]);
    assert.deepEqual(listed.imageIds, [{ imageDigest: v1, imageTag: 'v1' }]);
  });

  test('pushing another image to the immutable tag is refused with a message naming the tag', async (t) => {
    if (skipped(t)) return;
    assert.notEqual(v1, '', 'needs the push of the previous test');
    await podmanOk(['pull', '--tls-verify=false', `${server.host}/${SEED}:tiny-docker`]);
    await podmanOk(['tag', `${server.host}/${SEED}:tiny-docker`, `${server.host}/${REPO}:v1`]);
    const r = await podman(['push', '--tls-verify=false', `${server.host}/${REPO}:v1`]);
    assert.notEqual(r.code, 0, `the overwrite must fail:\n${describeRun(r)}`);
    assert.match(r.stderr, /\bv1\b/, `the message names the tag:\n${describeRun(r)}`);
    assert.match(r.stderr, /immutable/i, describeRun(r));
    // The tag still names the first image.
    const listed = await awsJson<{ imageIds: Array<{ imageDigest: string; imageTag?: string }> }>(['ecr', 'list-images', '--repository-name', REPO, '--filter', 'tagStatus=TAGGED']);
    assert.deepEqual(listed.imageIds, [{ imageDigest: v1, imageTag: 'v1' }]);

    // A new tag is fine: the other image as v2, and the first image under a second tag.
    await podmanOk(['tag', `${server.host}/${SEED}:tiny-docker`, `${server.host}/${REPO}:v2`]);
    const digestFile = join(work, 'digest-v2');
    await podmanOk(['push', '--tls-verify=false', '--digestfile', digestFile, `${server.host}/${REPO}:v2`]);
    v2 = (await readFile(digestFile, 'utf8')).trim();
    assert.notEqual(v2, v1);
    await podmanOk(['tag', `${server.host}/${SEED}:tiny`, `${server.host}/${REPO}:also-v1`]);
    await podmanOk(['push', '--tls-verify=false', `${server.host}/${REPO}:also-v1`]);
    const all = await awsJson<{ imageDetails: ImageDetail[] }>(['ecr', 'describe-images', '--repository-name', REPO]);
    const tags = new Map(all.imageDetails.map((i) => [i.imageDigest, [...(i.imageTags ?? [])].sort()]));
    assert.deepEqual(tags.get(v1), ['also-v1', 'v1']);
    assert.deepEqual(tags.get(v2), ['v2']);
  });

  test('retag with batch-get-image and put-image (the user guide recipe); put-image refusals', async (t) => {
    if (skipped(t)) return;
    const got = await awsJson<{ images: Array<{ imageId: { imageDigest: string; imageTag?: string }; imageManifest: string; imageManifestMediaType?: string }>; failures: unknown[] }>([
      'ecr',
      'batch-get-image',
      '--repository-name',
      SEED,
      '--image-ids',
      'imageTag=tiny',
    ]);
    assert.deepEqual(got.failures, []);
    const img = got.images[0];
    assert.ok(img !== undefined);
    assert.equal(img.imageId.imageDigest, fx.tiny.manifestDigest);
    assert.equal(img.imageManifestMediaType, fx.tiny.mediaType);
    const manifestFile = join(work, 'retag-manifest.json');
    await writeFile(manifestFile, img.imageManifest);
    const put = await awsJson<{ image: { imageId: { imageDigest: string; imageTag: string } } }>([
      'ecr',
      'put-image',
      '--repository-name',
      SEED,
      '--image-tag',
      'retagged',
      '--image-manifest',
      `file://${manifestFile}`,
      '--image-manifest-media-type',
      fx.tiny.mediaType,
    ]);
    assert.deepEqual(put.image.imageId, { imageDigest: fx.tiny.manifestDigest, imageTag: 'retagged' });
    const pulled = await sk.ok(['inspect', '--raw', '--tls-verify=false', '--creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref(`${SEED}:retagged`)]);
    assert.equal(pulled.stdout.toString('utf8'), img.imageManifest, 'the retagged manifest is served byte for byte');
    // The same manifest under the same tag again: ImageAlreadyExistsException.
    await awsFails(['ecr', 'put-image', '--repository-name', SEED, '--image-tag', 'retagged', '--image-manifest', `file://${manifestFile}`], 'ImageAlreadyExistsException');
    // Into the immutable repository, over the tag v1 that names another image: ImageTagAlreadyExistsException.
    const other = await awsJson<{ images: Array<{ imageManifest: string }> }>(['ecr', 'batch-get-image', '--repository-name', REPO, '--image-ids', 'imageTag=v2']);
    const otherFile = join(work, 'other-manifest.json');
    await writeFile(otherFile, other.images[0]?.imageManifest ?? '');
    const err = await awsFails(['ecr', 'put-image', '--repository-name', REPO, '--image-tag', 'v1', '--image-manifest', `file://${otherFile}`], 'ImageTagAlreadyExistsException');
    assert.match(err, /\bv1\b/);
    // A manifest whose digest is not the one given: ImageDigestDoesNotMatchException.
    await awsFails(
      ['ecr', 'put-image', '--repository-name', SEED, '--image-tag', 'x', '--image-manifest', `file://${manifestFile}`, '--image-digest', `sha256:${'0'.repeat(64)}`],
      'ImageDigestDoesNotMatchException',
    );
    await awsJson(['ecr', 'batch-delete-image', '--repository-name', SEED, '--image-ids', 'imageTag=retagged']);
  });

  test('repository settings: tags, tag mutability, scanning configuration, describe-registry', async (t) => {
    if (skipped(t)) return;
    const repo = (await awsJson<{ repositories: Repository[] }>(['ecr', 'describe-repositories', '--repository-names', SEED])).repositories[0];
    assert.ok(repo !== undefined);
    await awsJson(['ecr', 'tag-resource', '--resource-arn', repo.repositoryArn, '--tags', 'Key=team,Value=platform', 'Key=env,Value=test']);
    const tags = await awsJson<{ tags: Array<{ Key: string; Value: string }> }>(['ecr', 'list-tags-for-resource', '--resource-arn', repo.repositoryArn]);
    assert.deepEqual(
      [...tags.tags].sort((a, b) => a.Key.localeCompare(b.Key)),
      [
        { Key: 'env', Value: 'test' },
        { Key: 'team', Value: 'platform' },
      ],
    );
    await awsJson(['ecr', 'untag-resource', '--resource-arn', repo.repositoryArn, '--tag-keys', 'env']);
    const left = await awsJson<{ tags: Array<{ Key: string; Value: string }> }>(['ecr', 'list-tags-for-resource', '--resource-arn', repo.repositoryArn]);
    assert.deepEqual(left.tags, [{ Key: 'team', Value: 'platform' }]);

    const mut = await awsJson<{ imageTagMutability: string; repositoryName: string }>(['ecr', 'put-image-tag-mutability', '--repository-name', SEED, '--image-tag-mutability', 'IMMUTABLE']);
    assert.equal(mut.imageTagMutability, 'IMMUTABLE');
    await awsJson(['ecr', 'put-image-tag-mutability', '--repository-name', SEED, '--image-tag-mutability', 'MUTABLE']);
    const scan = await awsJson<{ imageScanningConfiguration: { scanOnPush: boolean } }>([
      'ecr',
      'put-image-scanning-configuration',
      '--repository-name',
      SEED,
      '--image-scanning-configuration',
      'scanOnPush=true',
    ]);
    assert.deepEqual(scan.imageScanningConfiguration, { scanOnPush: true });
    const d = await awsJson<{ repositories: Repository[] }>(['ecr', 'describe-repositories', '--repository-names', SEED]);
    assert.equal(d.repositories[0]?.imageTagMutability, 'MUTABLE');
    assert.deepEqual(d.repositories[0]?.imageScanningConfiguration, { scanOnPush: true });

    const reg = await awsJson<{ registryId: string; replicationConfiguration: { rules: unknown[] } }>(['ecr', 'describe-registry']);
    assert.equal(reg.registryId, repo.registryId);
    assert.deepEqual(reg.replicationConfiguration, { rules: [] });
  });

  test('the layer API: initiate / upload-layer-part / complete, check availability, put-image, download URL', async (t) => {
    if (skipped(t)) return;
    const repo = 'e2e/awscli-layers';
    await awsJson(['ecr', 'create-repository', '--repository-name', repo]);
    const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    // A real layer (podman applies it at the end): a gzipped tar holding 3 MiB of random bytes.
    const src = join(work, 'layer-src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'data.bin'), randomBytes(3 * 1024 * 1024 + 17));
    const tar = execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', src, '-cf', '-', 'data.bin'], { maxBuffer: 64 * 1024 * 1024 });
    const layer = gzipSync(tar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
    for (const blob of [layer, config]) {
      const init = await awsJson<{ uploadId: string; partSize: number }>(['ecr', 'initiate-layer-upload', '--repository-name', repo]);
      assert.match(init.uploadId, /^[0-9a-f-]{36}$/i);
      assert.ok(init.partSize > 0);
      const file = join(work, `part-${init.uploadId}`);
      await writeFile(file, blob);
      const part = await awsJson<{ uploadId: string; lastByteReceived: number }>([
        'ecr',
        'upload-layer-part',
        '--repository-name',
        repo,
        '--upload-id',
        init.uploadId,
        '--part-first-byte',
        '0',
        '--part-last-byte',
        String(blob.length - 1),
        '--layer-part-blob',
        `fileb://${file}`,
      ]);
      assert.equal(part.lastByteReceived, blob.length - 1);
      const done = await awsJson<{ layerDigest: string }>(['ecr', 'complete-layer-upload', '--repository-name', repo, '--upload-id', init.uploadId, '--layer-digests', sha(blob)]);
      assert.equal(done.layerDigest, sha(blob));
    }
    const check = await awsJson<{ layers: Array<{ layerDigest: string; layerAvailability: string; layerSize: number }>; failures: Array<{ layerDigest: string; failureCode: string }> }>([
      'ecr',
      'batch-check-layer-availability',
      '--repository-name',
      repo,
      '--layer-digests',
      sha(layer),
      sha(config),
      `sha256:${'1'.repeat(64)}`,
    ]);
    // A digest the repository does not hold is a layer UNAVAILABLE, not a failure: AWS's own
    // containerd resolver pushes on UNAVAILABLE and gives up on a failure.
    assert.deepEqual(
      check.layers.map((l) => [l.layerDigest, l.layerAvailability, l.layerSize ?? null]).sort(),
      [
        [sha(layer), 'AVAILABLE', layer.length],
        [sha(config), 'AVAILABLE', config.length],
        [`sha256:${'1'.repeat(64)}`, 'UNAVAILABLE', null],
      ].sort(),
    );
    assert.deepEqual(check.failures, []);

    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    });
    const manifestFile = join(work, 'layers-manifest.json');
    await writeFile(manifestFile, manifest);
    const put = await awsJson<{ image: { imageId: { imageDigest: string } } }>(['ecr', 'put-image', '--repository-name', repo, '--image-tag', 'v1', '--image-manifest', `file://${manifestFile}`]);
    assert.equal(put.image.imageId.imageDigest, sha(Buffer.from(manifest)));

    const url = await awsJson<{ downloadUrl: string; layerDigest: string }>(['ecr', 'get-download-url-for-layer', '--repository-name', repo, '--layer-digest', sha(layer)]);
    assert.equal(url.layerDigest, sha(layer));
    const res = await fetch(url.downloadUrl); // no credentials: the URL itself authorizes
    assert.equal(res.status, 200, `GET ${url.downloadUrl}`);
    assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(layer));
    await awsFails(['ecr', 'get-download-url-for-layer', '--repository-name', repo, '--layer-digest', `sha256:${'1'.repeat(64)}`], 'LayersNotFoundException');

    // podman pulls what the layer API pushed.
    await podmanOk(['pull', '--tls-verify=false', `${server.host}/${repo}:v1`]);
    await awsJson(['ecr', 'delete-repository', '--repository-name', repo, '--force']);
  });

  test('pagination: the CLI pages through describe-repositories, list-images and describe-images (--page-size)', async (t) => {
    if (skipped(t)) return;
    const names = Array.from({ length: 7 }, (_, i) => `e2e/page-${i}`);
    for (const n of names) await awsJson(['ecr', 'create-repository', '--repository-name', n]);
    const all = await awsJson<{ repositories: Repository[] }>(['ecr', 'describe-repositories']);
    const expected = all.repositories.map((r) => r.repositoryName);
    for (const n of [...names, REPO, SEED]) assert.ok(expected.includes(n), `${n} in ${expected.join(', ')}`);

    // --page-size 2: the CLI follows nextToken until the last page; same repositories, same order.
    const r = assertOk(await aws(['ecr', 'describe-repositories', '--page-size', '2', '--debug']), server);
    const paged = JSON.parse(r.stdout.toString('utf8')) as { repositories: Repository[] };
    assert.deepEqual(
      paged.repositories.map((x) => x.repositoryName),
      expected,
    );
    const requests = r.stderr.match(/Making request for OperationModel\(name=DescribeRepositories\)/g) ?? [];
    assert.equal(requests.length, Math.ceil(expected.length / 2), `one request per page of 2 (${expected.length} repositories)`);

    // --max-items with --starting-token: the CLI's own token over berth's pages.
    const first = await awsJson<{ repositories: Repository[]; NextToken?: string }>(['ecr', 'describe-repositories', '--page-size', '2', '--max-items', '3']);
    assert.equal(first.repositories.length, 3);
    assert.ok(first.NextToken !== undefined, 'a NextToken for the rest');
    const rest = await awsJson<{ repositories: Repository[]; NextToken?: string }>(['ecr', 'describe-repositories', '--page-size', '2', '--starting-token', first.NextToken]);
    assert.deepEqual([...first.repositories, ...rest.repositories].map((x) => x.repositoryName), expected);
    assert.equal(rest.NextToken, undefined);

    // Images (3 tags on 2 images) one per page.
    const li = assertOk(await aws(['ecr', 'list-images', '--repository-name', REPO, '--page-size', '1', '--debug']), server);
    const ids = (JSON.parse(li.stdout.toString('utf8')) as { imageIds: Array<{ imageDigest: string; imageTag?: string }> }).imageIds;
    assert.deepEqual(ids.map((i) => `${i.imageTag ?? ''}@${i.imageDigest}`).sort(), [`also-v1@${v1}`, `v1@${v1}`, `v2@${v2}`].sort());
    assert.ok((li.stderr.match(/Making request for OperationModel\(name=ListImages\)/g) ?? []).length >= 3, 'several ListImages pages');
    const di = assertOk(await aws(['ecr', 'describe-images', '--repository-name', REPO, '--page-size', '1', '--debug']), server);
    const details = (JSON.parse(di.stdout.toString('utf8')) as { imageDetails: ImageDetail[] }).imageDetails;
    assert.deepEqual(details.map((d) => d.imageDigest).sort(), [v1, v2].sort());
    assert.equal((di.stderr.match(/Making request for OperationModel\(name=DescribeImages\)/g) ?? []).length, 2, 'one DescribeImages page per image');

    for (const n of names) await awsJson(['ecr', 'delete-repository', '--repository-name', n]);
  });

  test('batch-delete-image by tag (untags) and by digest (deletes)', async (t) => {
    if (skipped(t)) return;
    assert.ok(v1 !== '' && v2 !== '', 'needs the pushes of the previous tests');
    const byTag = await awsJson<{ imageIds: Array<{ imageDigest: string; imageTag?: string }>; failures: unknown[] }>([
      'ecr',
      'batch-delete-image',
      '--repository-name',
      REPO,
      '--image-ids',
      'imageTag=also-v1',
    ]);
    assert.deepEqual(byTag.imageIds, [{ imageDigest: v1, imageTag: 'also-v1' }]);
    assert.deepEqual(byTag.failures, []);
    let listed = await awsJson<{ imageIds: Array<{ imageDigest: string; imageTag?: string }> }>(['ecr', 'list-images', '--repository-name', REPO]);
    assert.deepEqual(
      listed.imageIds.map((i) => `${i.imageTag ?? ''}@${i.imageDigest}`).sort(),
      [`v1@${v1}`, `v2@${v2}`].sort(),
    );

    const byDigest = await awsJson<{ imageIds: Array<{ imageDigest: string; imageTag?: string }>; failures: unknown[] }>([
      'ecr',
      'batch-delete-image',
      '--repository-name',
      REPO,
      '--image-ids',
      `imageDigest=${v2}`,
    ]);
    assert.deepEqual(
      byDigest.imageIds.map((i) => i.imageDigest),
      [v2],
    );
    assert.deepEqual(byDigest.failures, []);
    listed = await awsJson<{ imageIds: Array<{ imageDigest: string; imageTag?: string }> }>(['ecr', 'list-images', '--repository-name', REPO]);
    assert.deepEqual(listed.imageIds, [{ imageDigest: v1, imageTag: 'v1' }]);
    const gone = await podman(['pull', '--tls-verify=false', `${server.host}/${REPO}:v2`]);
    assert.notEqual(gone.code, 0, 'v2 cannot be pulled any more');

    // What is not there: a failure per id, not an error.
    const missing = await awsJson<{ imageIds: unknown[]; failures: Array<{ imageId: { imageTag?: string }; failureCode: string; failureReason: string }> }>([
      'ecr',
      'batch-delete-image',
      '--repository-name',
      REPO,
      '--image-ids',
      'imageTag=nope',
    ]);
    assert.deepEqual(missing.imageIds, []);
    assert.equal(missing.failures[0]?.failureCode, 'ImageNotFound');
    assert.equal(missing.failures[0]?.imageId.imageTag, 'nope');
  });

  test('sts get-caller-identity answers the root user of the account; a wrong secret is SignatureDoesNotMatch', async (t) => {
    if (skipped(t)) return;
    const me = await awsJson<{ Account: string; Arn: string; UserId: string }>(['sts', 'get-caller-identity']);
    assert.match(me.Account, /^\d{12}$/);
    assert.deepEqual(me, { Account: me.Account, Arn: `arn:aws:iam::${me.Account}:root`, UserId: me.Account });
    await awsFails(['sts', 'get-caller-identity'], 'SignatureDoesNotMatch', { AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
  });

  test('describe-repositories, then delete-repository --force', async (t) => {
    if (skipped(t)) return;
    const d = await awsJson<{ repositories: Repository[] }>(['ecr', 'describe-repositories', '--repository-names', REPO]);
    assert.equal(d.repositories.length, 1);
    assert.equal(d.repositories[0]?.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(d.repositories[0]?.imageScanningConfiguration, { scanOnPush: true });
    // Not empty: refused without --force.
    await awsFails(['ecr', 'delete-repository', '--repository-name', REPO], 'RepositoryNotEmptyException');
    const del = await awsJson<{ repository: Repository }>(['ecr', 'delete-repository', '--repository-name', REPO, '--force']);
    assert.equal(del.repository.repositoryName, REPO);
    const stderr = await awsFails(['ecr', 'describe-repositories', '--repository-names', REPO], 'RepositoryNotFoundException');
    assert.ok(stderr.includes(REPO), stderr);
    const pull = await podman(['pull', '--tls-verify=false', `${server.host}/${REPO}:v1`]);
    assert.notEqual(pull.code, 0, 'the image went with the repository');
  });

  test('errors in the CLI’s words: invalid parameters, wrong credentials, another region', async (t) => {
    if (skipped(t)) return;
    await awsFails(['ecr', 'create-repository', '--repository-name', 'Not_Valid'], 'InvalidParameterException');
    await awsFails(['ecr', 'describe-repositories', '--max-items', '5', '--page-size', '1001'], 'InvalidParameterException');
    await awsFails(['ecr', 'describe-repositories'], 'InvalidSignatureException', { AWS_SECRET_ACCESS_KEY: 'not-the-secret-not-the-secret-not-the-se' });
    await awsFails(['ecr', 'describe-repositories'], 'UnrecognizedClientException', { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNUNKNOWN00' });
    const region = await awsFails(['ecr', 'describe-repositories', '--region', 'eu-west-1'], 'InvalidSignatureException');
    assert.match(region, /region/);
  });
});
