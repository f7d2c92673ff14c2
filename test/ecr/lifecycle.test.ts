// Lifecycle policies through the ECR API (AWS SDK): Put/Get/DeleteLifecyclePolicy with ECR's
// validation and exceptions (a refused document changes nothing), a preview of what a policy would
// expire, and a run that expires exactly that, with ECR Image Action events and lastEvaluatedAt.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateRepositoryCommand,
  DeleteLifecyclePolicyCommand,
  DescribeImagesCommand,
  GetLifecyclePolicyCommand,
  GetLifecyclePolicyPreviewCommand,
  PutLifecyclePolicyCommand,
  StartLifecyclePolicyPreviewCommand,
} from '@aws-sdk/client-ecr';
import { refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const MT = 'application/vnd.oci.image.manifest.v1+json';
const DAY = 86_400_000;

const policy = (rules: unknown[]): string => JSON.stringify({ rules });
const KEEP_ONE_UNTAGGED_TWO_PROD = policy([
  { rulePriority: 1, description: 'one untagged', selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
  { rulePriority: 2, description: 'two prod', selection: { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 2 }, action: { type: 'expire' } },
]);

describe('lifecycle policies through the ECR API', () => {
  let t: EcrTestApp;
  const REPO = 'lc/app';
  /** digest by label: prod-1..prod-4 (oldest first), dev-1, u-1 and u-2 (untagged, u-1 older). */
  const images: Record<string, string> = {};

  /** Pushes a distinct image and sets its push time `ageDays` ago. */
  async function push(label: string, tag: string | undefined, ageDays: number): Promise<string> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label }));
    assert.equal((await t.fetch(`/v2/${REPO}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config })).status, 201);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MT, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] });
    const digest = sha256(manifest);
    assert.equal((await t.fetch(`/v2/${REPO}/manifests/${tag ?? digest}`, { method: 'PUT', body: manifest, headers: { 'content-type': MT } })).status, 201);
    const repo = await t.app.meta.repositories.get(t.app.boot.accountId, REPO);
    await t.app.meta.db.updateTable('manifests').set({ pushed_at: Date.now() - ageDays * DAY }).where('repository_id', '=', repo?.id ?? -1).where('digest', '=', digest).execute();
    return digest;
  }

  /** The preview once its job has run (GetLifecyclePolicyPreview answers IN_PROGRESS until then). */
  async function completed(input: { repositoryName: string; filter?: { tagStatus: 'TAGGED' } }) {
    for (let i = 0; ; i++) {
      const p = await t.ecr.send(new GetLifecyclePolicyPreviewCommand(input));
      if (p.status !== 'IN_PROGRESS' || i === 200) return p;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const describeAll = async (): Promise<string[]> =>
    ((await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO }))).imageDetails ?? []).map((d) => d.imageDigest ?? '').sort();

  before(async () => {
    t = await startEcrApp();
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    for (const [label, tag, age] of [
      ['prod-1', 'prod-1', 40],
      ['prod-2', 'prod-2', 30],
      ['prod-3', 'prod-3', 20],
      ['prod-4', 'prod-4', 10],
      ['dev-1', 'dev-1', 50],
      ['u-1', undefined, 60],
      ['u-2', undefined, 5],
    ] as const) {
      images[label] = await push(label, tag, age);
    }
  });
  after(async () => {
    await t.close();
  });

  test('no policy yet: Get, Delete and a preview without a text answer LifecyclePolicyNotFoundException; an unknown repository RepositoryNotFoundException', async () => {
    for (const p of [
      t.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: REPO })),
      t.ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName: REPO })),
      t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: REPO })),
    ]) {
      const r = await refusal(p);
      assert.equal(r.name, 'LifecyclePolicyNotFoundException');
      assert.match(r.message, new RegExp(`repository with name '${REPO}'`));
    }
    assert.equal((await refusal(t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: REPO })))).name, 'LifecyclePolicyPreviewNotFoundException');
    assert.equal((await refusal(t.ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'lc/none', lifecyclePolicyText: KEEP_ONE_UNTAGGED_TWO_PROD })))).name, 'RepositoryNotFoundException');
  });

  test('invalid documents are refused with the rule and the problem named, and change nothing', async () => {
    const bad: Array<[string, RegExp]> = [
      ['not json', /./],
      [policy([]), /./],
      [policy([{ rulePriority: 1, selection: { tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }]), /tagPrefixList|tagPatternList/],
      [policy([{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 0 }, action: { type: 'expire' } }]), /countNumber/],
      [
        policy([
          { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
          { rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
        ]),
        /rulePriority|priorit/i,
      ],
      [policy([{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 1 }, action: { type: 'expire' } }]), /countUnit/],
      [
        policy([{ rulePriority: 1, selection: { tagStatus: 'untagged', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: { type: 'transition', targetStorageClass: 'archive' } }]),
        /sinceImageTransitioned|transition/,
      ],
    ];
    for (const [text, why] of bad) {
      const r = await refusal(t.ecr.send(new PutLifecyclePolicyCommand({ repositoryName: REPO, lifecyclePolicyText: text })));
      assert.equal(r.name, 'InvalidParameterException', text);
      assert.match(r.message, why, `${text}: ${r.message}`);
    }
    assert.equal((await refusal(t.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: REPO })))).name, 'LifecyclePolicyNotFoundException', 'nothing was stored');
  });

  test('put, get exactly as put, preview: the oldest untagged image and the two oldest prod images', async () => {
    const put = await t.ecr.send(new PutLifecyclePolicyCommand({ repositoryName: REPO, lifecyclePolicyText: KEEP_ONE_UNTAGGED_TWO_PROD }));
    assert.equal(put.lifecyclePolicyText, KEEP_ONE_UNTAGGED_TWO_PROD);
    const got = await t.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: REPO }));
    assert.equal(got.lifecyclePolicyText, KEEP_ONE_UNTAGGED_TWO_PROD);
    assert.equal(got.lastEvaluatedAt, undefined, 'not evaluated yet');

    const started = await t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: REPO }));
    assert.equal(started.status, 'IN_PROGRESS');
    const p = await completed({ repositoryName: REPO });
    assert.equal(p.status, 'COMPLETE');
    assert.equal(p.lifecyclePolicyText, KEEP_ONE_UNTAGGED_TWO_PROD);
    const got2 = (p.previewResults ?? []).map((r) => ({ digest: r.imageDigest, priority: r.appliedRulePriority, action: r.action?.type, tags: r.imageTags ?? [] }));
    const want = [
      { digest: images['u-1'], priority: 1, action: 'EXPIRE', tags: [] },
      { digest: images['prod-1'], priority: 2, action: 'EXPIRE', tags: ['prod-1'] },
      { digest: images['prod-2'], priority: 2, action: 'EXPIRE', tags: ['prod-2'] },
    ];
    const byDigest = (a: { digest?: string }, b: { digest?: string }): number => ((a.digest ?? '') < (b.digest ?? '') ? -1 : 1);
    assert.deepEqual(got2.sort(byDigest), want.sort(byDigest));
    assert.equal(p.summary?.expiringImageTotalCount, 3);
    // Filters and pages.
    const tagged = await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: REPO, filter: { tagStatus: 'TAGGED' } }));
    assert.equal(tagged.previewResults?.length, 2);
    const first = await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: REPO, maxResults: 2 }));
    assert.equal(first.previewResults?.length, 2);
    assert.ok(first.nextToken !== undefined);
    const second = await t.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: REPO, maxResults: 2, nextToken: first.nextToken }));
    assert.equal(second.previewResults?.length, 1);
    assert.equal(second.nextToken, undefined);
    // A preview of another text leaves the stored policy alone.
    const other = policy([{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 6 }, action: { type: 'expire' } }]);
    await t.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: REPO, lifecyclePolicyText: other }));
    const p2 = await completed({ repositoryName: REPO });
    assert.deepEqual(p2.previewResults?.map((r) => r.imageDigest), [images['u-1']], 'any: the oldest of seven beyond six');
    assert.equal((await t.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: REPO }))).lifecyclePolicyText, KEEP_ONE_UNTAGGED_TWO_PROD);
    assert.equal((await describeAll()).length, 7, 'a preview deletes nothing');
  });

  test('a run expires what the preview showed, records ECR Image Action EXPIRE events and lastEvaluatedAt', async () => {
    const repo = await t.app.meta.repositories.get(t.app.boot.accountId, REPO);
    assert.ok(repo !== undefined);
    const dry = await t.app.registry.lifecycle.run(repo, { dryRun: true });
    assert.equal(dry?.expired.length, 3);
    assert.equal((await describeAll()).length, 7, 'a dry run deletes nothing');
    const r = await t.app.registry.lifecycle.run(repo);
    assert.deepEqual(r?.expired.map((e) => e.digest).sort(), [images['u-1'], images['prod-1'], images['prod-2']].sort());
    assert.deepEqual(await describeAll(), [images['prod-3'], images['prod-4'], images['dev-1'], images['u-2']].sort());
    const events = await t.app.meta.db.selectFrom('events').selectAll().where('type', '=', 'ECR Image Action').execute();
    const expired = events.map((e) => JSON.parse(e.detail) as { 'action-type': string; 'image-digest': string }).filter((d) => d['action-type'] === 'EXPIRE');
    assert.deepEqual(expired.map((d) => d['image-digest']).sort(), [images['u-1'], images['prod-1'], images['prod-2']].sort());
    const got = await t.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: REPO }));
    assert.ok(got.lastEvaluatedAt !== undefined && Math.abs(got.lastEvaluatedAt.getTime() - Date.now()) < 60_000);
    // A second run finds nothing more to do.
    assert.equal((await t.app.registry.lifecycle.run(repo))?.expired.length, 0);
    const del = await t.ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName: REPO }));
    assert.equal(del.lifecyclePolicyText, KEEP_ONE_UNTAGGED_TWO_PROD);
    assert.equal(await t.app.registry.lifecycle.run(repo), undefined, 'no policy: nothing runs');
  });
});
