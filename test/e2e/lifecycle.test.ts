// A lifecycle policy end to end with the AWS CLI v2 against a berth server: put it, preview it, let
// it run (`berth lifecycle run`, what the hourly job does), see the images gone from describe-images,
// and the storage freed by a garbage-collection pass (`berth gc`), while the server keeps serving;
// the images the policy keeps still pull byte for byte. Then the archive storage class with the CLI.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DescribeImagesCommand, ECRClient, UpdateImageStorageClassCommand } from '@aws-sdk/client-ecr';
import { main } from '../../src/cli/main.ts';
import type { Fixture } from '../fixtures/build.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { awsCliEnv, Cleanup, assertOk, describeRun, loadFixtures, makeTempDir, missingTools, skopeo, type RunResult, run, type Skopeo } from './support.ts';

const AWS = '/usr/bin/aws';
const REPO = 'e2e/lifecycle';

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

describe('a lifecycle policy with the AWS CLI: preview, run, storage freed', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let sk: Skopeo;
  let fx: Record<'tiny' | 'tiny-docker', Fixture>;
  let work: string;
  let awsEnv: Record<string, string>;
  // The server and the CLI agree on a one-second grace period, so that the test need not wait an hour.
  const gcEnv = { BERTH_GC_GRACE_PERIOD: '1' };

  before(async () => {
    if (!existsSync(AWS)) {
      skip = `SKIP: ${AWS} not found (install the Debian package 'awscli', the AWS CLI v2)`;
      return;
    }
    skip = missingTools([['skopeo', 'skopeo']]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<'tiny' | 'tiny-docker'>(['tiny', 'tiny-docker']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    work = await makeTempDir('lifecycle');
    cleanup.dir(work);
    server = await startServer({ env: { BERTH_STRICT_ERRORS: '1', ...gcEnv } });
    cleanup.server(server);
    awsEnv = await awsCliEnv(work, server);
    sk = skopeo(server, join(work, 'skopeo-home'));
  });
  after(async () => {
    await cleanup.run();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }

  async function aws(args: string[]): Promise<RunResult> {
    return await run(AWS, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: awsEnv, timeoutMs: 120_000 });
  }
  async function awsJson<T>(args: string[]): Promise<T> {
    const r = assertOk(await aws(args), server);
    const text = r.stdout.toString('utf8').trim();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }
  async function berth(args: string[]): Promise<{ code: number; out: string[] }> {
    const out: string[] = [];
    const code = await main([...args, '--data-dir', server.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, ...gcEnv, BERTH_LOG_LEVEL: 'silent' } });
    return { code, out };
  }

  test('keep the newest image: preview names the older one, the run expires it, gc frees its blobs', async (c) => {
    if (skipped(c)) return;
    await awsJson(['ecr', 'create-repository', '--repository-name', REPO]);
    await sk.push(fx.tiny, `${REPO}:old`);
    await new Promise((r) => setTimeout(r, 1100)); // distinct push times (seconds)
    await sk.push(fx['tiny-docker'], `${REPO}:new`);
    const blobsDir = join(server.dataDir, 'storage', 'blobs');
    const filesBefore = await countFiles(blobsDir);

    const policy = JSON.stringify({ rules: [{ rulePriority: 1, description: 'keep one', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] });
    await awsJson(['ecr', 'put-lifecycle-policy', '--repository-name', REPO, '--lifecycle-policy-text', policy]);
    const started = await awsJson<{ status: string }>(['ecr', 'start-lifecycle-policy-preview', '--repository-name', REPO]);
    assert.equal(started.status, 'IN_PROGRESS');
    type Preview = { status: string; previewResults: Array<{ imageTags?: string[]; action: { type: string }; appliedRulePriority: number }>; summary: { expiringImageTotalCount: number } };
    // The preview runs as a job: IN_PROGRESS until it has.
    let preview = await awsJson<Preview>(['ecr', 'get-lifecycle-policy-preview', '--repository-name', REPO]);
    for (let i = 0; preview.status === 'IN_PROGRESS' && i < 20; i++) preview = await awsJson<Preview>(['ecr', 'get-lifecycle-policy-preview', '--repository-name', REPO]);
    assert.equal(preview.status, 'COMPLETE');
    assert.deepEqual(
      preview.previewResults.map((r) => ({ tags: r.imageTags, action: r.action.type, rule: r.appliedRulePriority })),
      [{ tags: ['old'], action: 'EXPIRE', rule: 1 }],
    );
    assert.equal(preview.summary.expiringImageTotalCount, 1);

    const ran = await berth(['lifecycle', 'run']);
    assert.equal(ran.code, 0, ran.out.join('\n'));
    assert.match(ran.out.join('\n'), /1 image expired in 1 repository/);
    const images = await awsJson<{ imageDetails: Array<{ imageTags?: string[] }> }>(['ecr', 'describe-images', '--repository-name', REPO]);
    assert.deepEqual(images.imageDetails.flatMap((d) => d.imageTags ?? []), ['new']);
    const evaluated = await awsJson<{ lastEvaluatedAt?: string }>(['ecr', 'get-lifecycle-policy', '--repository-name', REPO]);
    assert.ok(evaluated.lastEvaluatedAt !== undefined);

    await new Promise((r) => setTimeout(r, 1500)); // past the grace period
    const dry = await berth(['gc', '--dry-run']);
    assert.equal(dry.code, 0, dry.out.join('\n'));
    assert.equal(await countFiles(blobsDir), filesBefore, 'a dry run frees nothing');
    const gc = await berth(['gc']);
    assert.equal(gc.code, 0, gc.out.join('\n'));
    // A second pass decides the blobs whose links the first removed.
    const gc2 = await berth(['gc']);
    assert.equal(gc2.code, 0, gc2.out.join('\n'));
    const filesAfter = await countFiles(blobsDir);
    assert.ok(filesAfter < filesBefore, `storage freed: ${filesBefore} files before, ${filesAfter} after (${[...gc.out, ...gc2.out].join(' | ')})`);
    // What the policy kept still pulls, byte for byte.
    const pulled = await sk.run(['copy', '--src-tls-verify=false', '--src-creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref(`${REPO}:new`), `oci:${join(work, 'kept')}:new`]);
    assert.equal(pulled.code, 0, describeRun(pulled));
  });

  test('archive and restore (UpdateImageStorageClass through the SDK: the Debian CLI predates it): skopeo cannot pull an archived image until it is restored', async (c) => {
    if (skipped(c)) return;
    const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    const pull = async (dest: string) =>
      await sk.run(['copy', '--src-tls-verify=false', '--src-creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref(`${REPO}:new`), `oci:${join(work, dest)}:new`]);
    const archived = await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'new' }, targetStorageClass: 'ARCHIVE' }));
    assert.equal(archived.imageStatus, 'ARCHIVED');
    // The CLI lists it with the filter, and not without.
    const listed = await awsJson<{ imageDetails: Array<{ imageTags?: string[]; imageStatus: string; lastArchivedAt?: string }> }>(['ecr', 'describe-images', '--repository-name', REPO, '--filter', 'tagStatus=ANY']);
    assert.deepEqual(listed.imageDetails, [], 'only ACTIVE images by default');
    const all = await ecr.send(new DescribeImagesCommand({ repositoryName: REPO, filter: { imageStatus: 'ARCHIVED' } }));
    assert.deepEqual(all.imageDetails?.map((d) => [d.imageTags, d.imageStatus]), [[['new'], 'ARCHIVED']]);
    const refused = await pull('archived');
    assert.notEqual(refused.code, 0, 'an archived image is not pulled');
    const restored = await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPO, imageId: { imageTag: 'new' }, targetStorageClass: 'STANDARD' }));
    assert.equal(restored.imageStatus, 'ACTIVE');
    const back = await pull('restored');
    assert.equal(back.code, 0, describeRun(back));
  });
});
