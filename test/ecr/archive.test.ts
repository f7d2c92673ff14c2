// The archive storage class and pull times through the ECR API (AWS SDK) and /v2/: archived images
// are listed only on request, described with their status and times, never pulled (404) until
// restored by UpdateImageStorageClass or a new push; indexes take their manifests along, referrers
// follow their subject; lifecycle transition rules archive, and expire archived images only after
// ECR's 90-day minimum. Pull-time exclusions keep excluded principals' pulls out of
// lastRecordedPullTime. A lifecycle policy preview runs as a job: IN_PROGRESS until it has run, and
// a second start meanwhile is refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeregisterPullTimeUpdateExclusionCommand,
  DescribeImagesCommand,
  GetLifecyclePolicyPreviewCommand,
  ListImagesCommand,
  ListPullTimeUpdateExclusionsCommand,
  PutLifecyclePolicyCommand,
  RegisterPullTimeUpdateExclusionCommand,
  StartLifecyclePolicyPreviewCommand,
  UpdateImageStorageClassCommand,
  type ImageDetail,
} from '@aws-sdk/client-ecr';
import { addUser, refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const DAY = 86_400_000;

describe('archive storage class', () => {
  let t: EcrTestApp;
  const REPO = 'arc/app';

  async function blob(data: Buffer | string): Promise<{ digest: string; size: number }> {
    const b = Buffer.from(data);
    const digest = sha256(b);
    const r = await t.fetch(`/v2/${REPO}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: b });
    assert.equal(r.status, 201, await r.text());
    return { digest, size: b.length };
  }

  /** Pushes a distinct image manifest (by tag, else by digest); returns its digest, body and size. */
  async function image(label: string, tag?: string, extra: Record<string, unknown> = {}): Promise<{ digest: string; size: number; body: string }> {
    const config = await blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label }));
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [], ...extra });
    const digest = sha256(body);
    const r = await t.fetch(`/v2/${REPO}/manifests/${tag ?? digest}`, { method: 'PUT', body, headers: { 'content-type': MANIFEST } });
    assert.equal(r.status, 201, await r.text());
    return { digest, size: Buffer.byteLength(body), body };
  }

  async function index(children: Array<{ digest: string; size: number }>, tag: string): Promise<string> {
    const manifests = children.map((c) => ({ mediaType: MANIFEST, ...c, platform: { os: 'linux', architecture: 'amd64' } }));
    const body = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests, annotations: { 'org.example.tag': tag } });
    const r = await t.fetch(`/v2/${REPO}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': INDEX } });
    assert.equal(r.status, 201, await r.text());
    return sha256(body);
  }

  const describe1 = async (digest: string): Promise<ImageDetail> => {
    const d = await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageDigest: digest }] }));
    const detail = d.imageDetails?.[0];
    assert.ok(detail !== undefined);
    return detail;
  };
  const listed = async (imageStatus?: 'ACTIVE' | 'ARCHIVED' | 'ANY'): Promise<string[]> =>
    ((await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, ...(imageStatus !== undefined ? { filter: { imageStatus } } : {}) }))).imageDetails ?? []).map((d) => d.imageDigest ?? '').sort();
  const pullStatus = async (ref: string, method = 'GET'): Promise<number> => (await t.fetch(`/v2/${REPO}/manifests/${ref}`, { method, headers: { accept: `${MANIFEST}, ${INDEX}` } })).status;

  before(async () => {
    t = await startEcrApp();
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
  });
  after(async () => {
    await t.close();
  });

  test('archived: listed only on request, described as ARCHIVED, not pulled; restored: ACTIVE and pulled again', async () => {
    const img = await image('a', 'a1');
    const other = await image('b', 'b1');
    const archived = await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'a1' }, targetStorageClass: 'ARCHIVE' }));
    assert.equal(archived.imageStatus, 'ARCHIVED');
    assert.deepEqual(archived.imageId, { imageTag: 'a1', imageDigest: img.digest });

    assert.ok(!(await listed()).includes(img.digest), 'DescribeImages lists ACTIVE images by default');
    assert.ok((await listed()).includes(other.digest));
    assert.deepEqual(await listed('ARCHIVED'), [img.digest]);
    assert.ok((await listed('ANY')).includes(img.digest));
    const ids = (await t.ecr.send(new ListImagesCommand({ repositoryName: REPO, filter: { imageStatus: 'ARCHIVED' } }))).imageIds;
    assert.deepEqual(ids, [{ imageDigest: img.digest, imageTag: 'a1' }]);
    assert.ok(!((await t.ecr.send(new ListImagesCommand({ repositoryName: REPO }))).imageIds ?? []).some((i) => i.imageDigest === img.digest));

    const d = await describe1(img.digest);
    assert.equal(d.imageStatus, 'ARCHIVED');
    assert.deepEqual(d.imageTags, ['a1'], 'tags stay');
    assert.ok(d.lastArchivedAt !== undefined && Math.abs(d.lastArchivedAt.getTime() - Date.now()) < 60_000);
    assert.equal(d.lastActivatedAt, undefined);

    assert.equal(await pullStatus('a1'), 404);
    assert.equal(await pullStatus(img.digest), 404);
    assert.equal(await pullStatus(img.digest, 'HEAD'), 404);
    const body = (await (await t.fetch(`/v2/${REPO}/manifests/a1`)).json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.match(body.errors[0]?.message ?? '', /archived/);
    const got = await t.ecr.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'a1' }] }));
    assert.equal(got.images?.length, 0);
    assert.equal(got.failures?.[0]?.failureCode, 'ImageNotFound');
    assert.equal(await pullStatus('b1'), 200, 'other images are untouched');

    // Archiving again is a no-op; restoring makes it ACTIVE with lastActivatedAt.
    assert.equal((await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageDigest: img.digest }, targetStorageClass: 'ARCHIVE' }))).imageStatus, 'ARCHIVED');
    const restored = await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageDigest: img.digest }, targetStorageClass: 'STANDARD' }));
    assert.equal(restored.imageStatus, 'ACTIVE');
    const after = await describe1(img.digest);
    assert.equal(after.imageStatus, 'ACTIVE');
    assert.ok(after.lastActivatedAt !== undefined && after.lastArchivedAt !== undefined);
    assert.equal(await pullStatus('a1'), 200);

    const events = await t.app.meta.db.selectFrom('events').selectAll().where('type', '=', 'ECR Image Action').where('digest', '=', img.digest).execute();
    assert.deepEqual(
      events.map((e) => (JSON.parse(e.detail) as { 'action-type': string })['action-type']),
      ['ARCHIVE', 'RESTORE'],
    );
  });

  test('pushing an archived image again restores it', async () => {
    const img = await image('c', 'c1');
    await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageDigest: img.digest }, targetStorageClass: 'ARCHIVE' }));
    assert.equal(await pullStatus('c1'), 404);
    const r = await t.fetch(`/v2/${REPO}/manifests/c1`, { method: 'PUT', body: img.body, headers: { 'content-type': MANIFEST } });
    assert.equal(r.status, 201);
    assert.equal((await describe1(img.digest)).imageStatus, 'ACTIVE');
    assert.equal(await pullStatus('c1'), 200);
  });

  test('an index takes its manifests along and brings them back; a listed manifest cannot go alone; referrers follow', async () => {
    const amd = await image('idx-amd');
    const arm = await image('idx-arm');
    const idx = await index([amd, arm], 'multi');
    const sig = await image('sig', undefined, { subject: { mediaType: MANIFEST, digest: amd.digest, size: amd.size }, artifactType: 'application/vnd.example.sig' });

    const alone = await refusal(t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageDigest: amd.digest }, targetStorageClass: 'ARCHIVE' })));
    assert.equal(alone.name, 'ImageStorageClassUpdateNotSupportedException');
    assert.match(alone.message, new RegExp(idx));
    assert.equal((await describe1(amd.digest)).imageStatus, 'ACTIVE', 'nothing changed');

    const referrers = async (): Promise<string[]> => ((await (await t.fetch(`/v2/${REPO}/referrers/${amd.digest}`)).json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest);
    assert.deepEqual(await referrers(), [sig.digest]);
    await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'multi' }, targetStorageClass: 'ARCHIVE' }));
    for (const d of [idx, amd.digest, arm.digest, sig.digest]) assert.equal((await describe1(d)).imageStatus, 'ARCHIVED', d);
    assert.equal(await pullStatus(arm.digest), 404);
    assert.deepEqual(await referrers(), [], 'archived referrers are not listed on /v2/');

    await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'multi' }, targetStorageClass: 'STANDARD' }));
    for (const d of [idx, amd.digest, arm.digest, sig.digest]) assert.equal((await describe1(d)).imageStatus, 'ACTIVE', d);
    assert.deepEqual(await referrers(), [sig.digest]);
  });

  test('a manifest that another active index lists stays active when one index is archived', async () => {
    const shared = await image('shared');
    const i1 = await index([shared], 'i1');
    await index([shared], 'i2');
    await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageDigest: i1 }, targetStorageClass: 'ARCHIVE' }));
    assert.equal((await describe1(i1)).imageStatus, 'ARCHIVED');
    assert.equal((await describe1(shared.digest)).imageStatus, 'ACTIVE');
    assert.equal(await pullStatus('i2'), 200);
  });

  test('bad input: unknown image, repository, identifiers or storage class are refused and change nothing', async () => {
    const img = await image('bad', 'bad1');
    const cases: Array<[Promise<unknown>, string]> = [
      [t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'nope' }, targetStorageClass: 'ARCHIVE' })), 'ImageNotFoundException'],
      [t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'arc/none', imageId: { imageTag: 'bad1' }, targetStorageClass: 'ARCHIVE' })), 'RepositoryNotFoundException'],
      [t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: {}, targetStorageClass: 'ARCHIVE' })), 'InvalidParameterException'],
      [t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageDigest: 'sha256:xyz' }, targetStorageClass: 'ARCHIVE' })), 'InvalidParameterException'],
      [t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'bad1' }, targetStorageClass: 'GLACIER' as 'ARCHIVE' })), 'InvalidParameterException'],
    ];
    for (const [p, name] of cases) assert.equal((await refusal(p)).name, name);
    assert.equal((await describe1(img.digest)).imageStatus, 'ACTIVE');
    assert.equal(await pullStatus('bad1'), 200);
  });

  test('lifecycle: a transition rule archives, the preview shows it; archived images expire only after 90 days in the archive', async () => {
    const LC = 'arc/lifecycle';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: LC }));
    const repo = await t.app.meta.repositories.get(t.app.boot.accountId, LC);
    assert.ok(repo !== undefined);
    const push = async (label: string, tag: string, ageDays: number): Promise<string> => {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label }));
      assert.equal((await t.fetch(`/v2/${LC}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config })).status, 201);
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] });
      assert.equal((await t.fetch(`/v2/${LC}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': MANIFEST } })).status, 201);
      await t.app.meta.db.updateTable('manifests').set({ pushed_at: Date.now() - ageDays * DAY }).where('repository_id', '=', repo.id).where('digest', '=', sha256(body)).execute();
      return sha256(body);
    };
    const old = await push('old', 'old', 40);
    const fresh = await push('fresh', 'fresh', 1);
    const policy = JSON.stringify({
      rules: [
        { rulePriority: 1, description: 'archive after 30 days', selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: { type: 'transition', targetStorageClass: 'archive' } },
        { rulePriority: 2, description: 'expire after the 90-day minimum', selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: { type: 'expire' } },
      ],
    });
    await t.ecr.send(new PutLifecyclePolicyCommand({ repositoryName: LC, lifecyclePolicyText: policy }));
    await t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: LC }));
    let preview = await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: LC }));
    for (let i = 0; preview.status === 'IN_PROGRESS' && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      preview = await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: LC }));
    }
    assert.equal(preview.status, 'COMPLETE');
    assert.deepEqual(
      preview.previewResults?.map((r) => ({ digest: r.imageDigest, action: r.action, storageClass: r.storageClass })),
      [{ digest: old, action: { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' }, storageClass: 'STANDARD' }],
    );
    assert.deepEqual(preview.summary, { expiringImageTotalCount: 0, transitioningImageTotalCounts: [{ targetStorageClass: 'ARCHIVE', imageTotalCount: 1 }] });

    const run = await t.app.registry.lifecycle.run(repo);
    assert.deepEqual(run?.archived.map((a) => a.digest), [old]);
    assert.equal(run?.expired.length, 0);
    const status = async (d: string): Promise<string | undefined> =>
      (await t.ecr.send(new DescribeImagesCommand({ repositoryName: LC, imageIds: [{ imageDigest: d }] }))).imageDetails?.[0]?.imageStatus;
    assert.equal(await status(old), 'ARCHIVED');
    assert.equal(await status(fresh), 'ACTIVE');

    // Ten days in the archive: kept; 91 days: expired.
    const archivedAt = async (days: number) =>
      await t.app.meta.db.updateTable('manifests').set({ archived_at: Date.now() - days * DAY }).where('repository_id', '=', repo.id).where('digest', '=', old).execute();
    await archivedAt(10);
    assert.equal((await t.app.registry.lifecycle.run(repo))?.expired.length, 0);
    assert.equal(await status(old), 'ARCHIVED');
    await archivedAt(91);
    assert.deepEqual((await t.app.registry.lifecycle.run(repo))?.expired.map((e) => e.digest), [old]);
    assert.equal(await status(fresh), 'ACTIVE');
    assert.equal((await t.ecr.send(new DescribeImagesCommand({ repositoryName: LC, filter: { imageStatus: 'ANY' } }))).imageDetails?.length, 1);
  });
});

describe('lifecycle policy preview in progress', () => {
  let t: EcrTestApp;
  const REPO = 'arc/preview';
  before(async () => {
    t = await startEcrApp();
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    await t.ecr.send(
      new PutLifecyclePolicyCommand({
        repositoryName: REPO,
        lifecyclePolicyText: JSON.stringify({ rules: [{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] }),
      }),
    );
  });
  after(async () => {
    await t.close();
  });

  test('IN_PROGRESS until the job runs; a second start meanwhile is refused; then COMPLETE and a new start is accepted', async () => {
    await t.app.jobs.stop(); // the preview job waits until runDue below
    assert.equal((await t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: REPO }))).status, 'IN_PROGRESS');
    assert.equal((await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: REPO }))).status, 'IN_PROGRESS');
    const again = await refusal(t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: REPO })));
    assert.equal(again.name, 'LifecyclePolicyPreviewInProgressException');
    assert.match(again.message, new RegExp(REPO));
    assert.ok((await t.app.jobs.runDue()) >= 1);
    const done = await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: REPO }));
    assert.equal(done.status, 'COMPLETE');
    assert.deepEqual(done.previewResults, []);
    assert.equal((await t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: REPO }))).status, 'IN_PROGRESS');
  });
});

describe('pull times and pull-time exclusions', () => {
  let t: EcrTestApp;
  const REPO = 'arc/pulls';
  let digest: string;
  before(async () => {
    t = await startEcrApp();
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    assert.equal((await t.fetch(`/v2/${REPO}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config })).status, 201);
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] });
    assert.equal((await t.fetch(`/v2/${REPO}/manifests/v1`, { method: 'PUT', body, headers: { 'content-type': MANIFEST } })).status, 201);
    digest = sha256(body);
  });
  after(async () => {
    await t.close();
  });
  const lastPull = async (): Promise<Date | undefined> =>
    (await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageDigest: digest }] }))).imageDetails?.[0]?.lastRecordedPullTime;

  test('register, list, refuse duplicates and unknowns; excluded principals do not move lastRecordedPullTime, others do', async () => {
    const scanner = await addUser(t, 'scanner');
    const admin = `arn:aws:iam::${t.app.boot.accountId}:role/admin`;
    await t.app.meta.iam.attach(t.app.boot.accountId, 'user', 'scanner', 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly');
    const reg = await t.ecr.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: scanner.arn }));
    assert.equal(reg.principalArn, scanner.arn);
    assert.ok(reg.createdAt !== undefined);
    await t.ecr.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: admin }));
    assert.equal((await refusal(t.ecr.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: scanner.arn })))).name, 'ExclusionAlreadyExistsException');
    assert.equal((await refusal(t.ecr.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: 'not-an-arn' })))).name, 'InvalidParameterException');
    assert.deepEqual((await t.ecr.send(new ListPullTimeUpdateExclusionsCommand({}))).pullTimeUpdateExclusions, [admin, scanner.arn].sort());
    const page = await t.ecr.send(new ListPullTimeUpdateExclusionsCommand({ maxResults: 1 }));
    assert.equal(page.pullTimeUpdateExclusions?.length, 1);
    assert.deepEqual((await t.ecr.send(new ListPullTimeUpdateExclusionsCommand({ nextToken: page.nextToken }))).pullTimeUpdateExclusions?.length, 1);
    assert.equal((await refusal(t.ecr.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${t.app.boot.accountId}:user/nobody` })))).name, 'ExclusionNotFoundException');

    // The excluded scanner pulls: no pull time.
    assert.equal((await t.fetch(`/v2/${REPO}/manifests/v1`, { headers: { authorization: scanner.auth } })).status, 200);
    assert.equal((await scanner.ecr.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] }))).images?.length, 1);
    await t.app.registry.pullTimes.flush();
    assert.equal(await lastPull(), undefined, 'pulls by an excluded principal are not recorded');

    await t.ecr.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn: scanner.arn }));
    assert.deepEqual((await t.ecr.send(new ListPullTimeUpdateExclusionsCommand({}))).pullTimeUpdateExclusions, [admin]);
    assert.equal((await t.fetch(`/v2/${REPO}/manifests/v1`, { headers: { authorization: scanner.auth } })).status, 200);
    await t.app.registry.pullTimes.flush();
    const recorded = await lastPull();
    assert.ok(recorded !== undefined && Math.abs(recorded.getTime() - Date.now()) < 60_000, 'a pull by a principal no longer excluded is recorded');
  });
});
