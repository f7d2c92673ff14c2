// Registry replication through the ECR API (AWS SDK), with two berths in-process: the source in
// us-east-1 (with a second account, a cross-account destination in the same deployment) and a
// destination berth serving us-west-2 (the same account id there), restarted on its data directory
// to play a destination that is down. Covers the configuration's rules and round trip, pushes (an
// index, a referrer) replicated to both, DescribeImageReplicationStatus, repositories created with
// the REPLICATION template, no chains, ECR Replication Action events, cross-account refused without
// the registry policy and accepted with it, an immutable tag, blobs not sent twice, a destination
// down then up, X-Berth-Replication honoured only as it should be, and bad input changing nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  CreateRepositoryCreationTemplateCommand,
  DescribeImageReplicationStatusCommand,
  DescribeRegistryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  ListTagsForResourceCommand,
  PutImageTagMutabilityCommand,
  PutRegistryPolicyCommand,
  PutReplicationConfigurationCommand,
  type ECRClient,
  type ImageReplicationStatus,
  type ReplicationConfiguration,
} from '@aws-sdk/client-ecr';
import { testImage, testImageMediaType, type TestImage } from '../helpers/images.ts';
import { freePort, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../helpers/server.ts';
import { addAccount, refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const A = '111111111111'; // the source account, and the same account in the other region
const B = '222222222222'; // another account of the source deployment
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

type Image = TestImage;

const image = (label: string, shared?: Buffer, subject?: Image): Image => testImage(label, { ...(shared !== undefined ? { layer: shared } : {}), ...(subject !== undefined ? { subject } : {}) });
const mediaTypeOf = testImageMediaType;

function index(children: readonly Image[]): Image {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: children.map((c) => ({ mediaType: MANIFEST, digest: c.digest, size: c.manifest.length, platform: { architecture: 'amd64', os: 'linux' } })) }));
  return { manifest, digest: sha256(manifest), blobs: new Map() };
}

async function push(t: EcrTestApp, repo: string, ref: string, img: Image, auth?: string): Promise<void> {
  const headers = auth === undefined ? {} : { authorization: auth };
  for (const [digest, data] of img.blobs) {
    const r = await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream', ...headers } });
    assert.equal(r.status, 201, await r.text());
  }
  const r = await t.fetch(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: img.manifest, headers: { 'content-type': mediaTypeOf(img), ...headers } });
  assert.equal(r.status, 201, await r.text());
}

/** The access log of an app, as parsed lines. */
class AccessLog extends Writable {
  lines: Array<{ msg?: string; op?: string; repository?: string; method?: string; status?: number }> = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l.trim() !== '') this.lines.push(JSON.parse(l) as AccessLog['lines'][number]);
    done();
  }
  requests(op: string, repository?: string): number {
    return this.lines.filter((l) => l.msg === 'request' && l.op === op && (repository === undefined || l.repository === repository)).length;
  }
}

describe('registry replication', () => {
  let src: EcrTestApp;
  let dest: EcrTestApp;
  let destEcr: ECRClient;
  let b: Awaited<ReturnType<typeof addAccount>>;
  let destDir: string;
  let destPort: number;
  const destLog = new AccessLog();

  const startDest = async (): Promise<void> => {
    // Restarted on its data directory: SQLite there, whatever database the tests use elsewhere.
    dest = await startEcrApp({ dataDir: destDir, database: 'sqlite', logStream: destLog, env: { BERTH_REGION: 'us-west-2', BERTH_ACCOUNT_ID: A, BERTH_LISTEN: `127.0.0.1:${destPort}` } });
    destEcr = dest.client({ region: 'us-west-2' });
  };

  /** The statuses once none is IN_PROGRESS. */
  const settled = async (repositoryName: string, imageTag: string, registryId?: string): Promise<ImageReplicationStatus[]> => {
    const ecr = registryId === B ? b.ecr : src.ecr;
    for (let i = 0; ; i++) {
      const r = await ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName, imageId: { imageTag } }));
      const statuses = r.replicationStatuses ?? [];
      if (statuses.length > 0 && statuses.every((s) => s.status !== 'IN_PROGRESS')) return statuses;
      assert.ok(i < 1200, `replication of ${repositoryName}:${imageTag} settled: ${JSON.stringify(statuses)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const destDigest = async (t: EcrTestApp, account: string, repo: string, tag: string): Promise<string | undefined> => {
    const r = await t.app.meta.repositories.get(account, repo);
    return r === undefined ? undefined : await t.app.meta.tags.get(r.id, tag);
  };
  const configure = async (config: ReplicationConfiguration): Promise<void> => {
    await src.ecr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: config }));
  };
  const both: ReplicationConfiguration = {
    rules: [
      {
        destinations: [
          { region: 'us-west-2', registryId: A },
          { region: 'us-east-1', registryId: B },
        ],
        repositoryFilters: [{ filter: 'prod/', filterType: 'PREFIX_MATCH' }],
      },
    ],
  };

  before(async () => {
    destDir = mkdtempSync(join(tmpdir(), 'berth-replication-dest-'));
    destPort = await freePort();
    await startDest();
    const destinations = { 'us-west-2': { endpoint: dest.url, accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY } };
    src = await startEcrApp({ env: { BERTH_ACCOUNT_ID: A, BERTH_REPLICATION_DESTINATIONS: JSON.stringify(destinations) } });
    b = await addAccount(src, B);
    // At the destination, repositories made by replication get this template (not the ROOT CREATE_ON_PUSH one).
    await destEcr.send(
      new CreateRepositoryCreationTemplateCommand({ prefix: 'prod', appliedFor: ['REPLICATION'], imageTagMutability: 'IMMUTABLE', resourceTags: [{ Key: 'made-by', Value: 'replication' }] }),
    );
  });
  after(async () => {
    await src?.close();
    await dest?.close();
    rmSync(destDir, { recursive: true, force: true });
  });

  test('the configuration: ECR rules checked, bad input changes nothing, DescribeRegistry round trip', async () => {
    assert.deepEqual((await src.ecr.send(new DescribeRegistryCommand({}))).replicationConfiguration, { rules: [] });
    await configure(both);
    const stored = (await src.ecr.send(new DescribeRegistryCommand({}))).replicationConfiguration;
    assert.deepEqual(stored, both);
    const bad: Array<[string, ReplicationConfiguration, RegExp]> = [
      ['eleven rules', { rules: Array.from({ length: 11 }, () => ({ destinations: [{ region: 'us-west-2', registryId: A }] })) }, /rules/],
      ['26 destinations', { rules: [{ destinations: Array.from({ length: 26 }, (_, i) => ({ region: 'us-east-1', registryId: String(300000000000 + i) })) }] }, /at most 25 distinct destinations/],
      ['the source itself', { rules: [{ destinations: [{ region: 'us-east-1', registryId: A }] }] }, /is the source registry itself/],
      ['a region berth cannot reach', { rules: [{ destinations: [{ region: 'eu-central-1', registryId: A }] }] }, /eu-central-1 is neither/],
      ['no destination', { rules: [{ destinations: [] }] }, /no destination/],
      ['a registry id that is not 12 digits', { rules: [{ destinations: [{ region: 'us-west-2', registryId: '12345' }] }] }, /registryId/],
      ['another filter type', { rules: [{ destinations: [{ region: 'us-west-2', registryId: A }], repositoryFilters: [{ filter: 'prod', filterType: 'WILDCARD' as 'PREFIX_MATCH' }] }] }, /filterType/],
    ];
    for (const [what, config, message] of bad) {
      const e = await refusal(src.ecr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: config })));
      assert.equal(e.name, 'InvalidParameterException', what);
      assert.match(e.message, message, what);
      assert.deepEqual((await src.ecr.send(new DescribeRegistryCommand({}))).replicationConfiguration, both, `${what}: nothing changed`);
    }
    // No rules turns replication off.
    await configure({ rules: [] });
    assert.deepEqual((await src.ecr.send(new DescribeRegistryCommand({}))).replicationConfiguration, { rules: [] });
  });

  test('cross-account replication is refused (FAILED, ACCESS_DENIED) without the destination registry policy; nothing is created there', async () => {
    await configure({ rules: [{ destinations: [{ region: 'us-east-1', registryId: B }] }] });
    await push(src, 'prod/app', 'refused', image('refused'));
    const statuses = await settled('prod/app', 'refused');
    assert.deepEqual(statuses, [{ region: 'us-east-1', registryId: B, status: 'FAILED', failureCode: 'ACCESS_DENIED' }]);
    assert.equal(await src.app.meta.repositories.get(B, 'prod/app'), undefined, 'no repository created in the other account');
    const events = await src.app.meta.db.selectFrom('events').selectAll().where('account_id', '=', B).where('type', '=', 'ECR Replication Action').execute();
    assert.equal(events.length, 1);
    assert.equal((JSON.parse(events[0]?.detail ?? '{}') as { result: string }).result, 'FAILED');
  });

  test('a push (an index and a referrer) is replicated to another region and, with the registry policy, to another account', async () => {
    await b.ecr.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: ['ecr:ReplicateImage', 'ecr:CreateRepository'], Resource: `arn:aws:ecr:us-east-1:${B}:repository/*` }],
        }),
      }),
    );
    await configure(both);
    const amd = image('amd');
    const arm = image('arm');
    const multi = index([amd, arm]);
    await push(src, 'prod/app', amd.digest, amd);
    await push(src, 'prod/app', arm.digest, arm);
    await push(src, 'prod/app', 'v1', multi);
    const signature = image('signature', undefined, multi);
    await push(src, 'prod/app', signature.digest, signature);
    // Another repository is not covered by the rule's filter.
    await push(src, 'dev/app', 'v1', image('dev'));

    const statuses = await settled('prod/app', 'v1');
    assert.deepEqual(statuses, [
      { region: 'us-east-1', registryId: B, status: 'COMPLETE' },
      { region: 'us-west-2', registryId: A, status: 'COMPLETE' },
    ]);
    assert.deepEqual((await src.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'dev/app', imageId: { imageTag: 'v1' } }))).replicationStatuses, []);
    // Pulled at the other region: the same bytes, children and blobs included.
    const pulled = await dest.fetch('/v2/prod/app/manifests/v1', { headers: { accept: INDEX } });
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), multi.manifest);
    for (const child of [amd, arm]) {
      const m = await dest.fetch(`/v2/prod/app/manifests/${child.digest}`, { headers: { accept: MANIFEST } });
      assert.deepEqual(Buffer.from(await m.arrayBuffer()), child.manifest);
      for (const [digest, data] of child.blobs) assert.deepEqual(Buffer.from(await (await dest.fetch(`/v2/prod/app/blobs/${digest}`)).arrayBuffer()), data);
    }
    // The referrer follows its subject.
    for (let i = 0; (await dest.app.meta.manifests.getMeta((await dest.app.meta.repositories.get(A, 'prod/app'))?.id ?? 0, signature.digest)) === undefined; i++) {
      assert.ok(i < 400, 'the referrer was replicated');
      await new Promise((r) => setTimeout(r, 25));
    }
    const referrers = (await (await dest.fetch(`/v2/prod/app/referrers/${multi.digest}`)).json()) as { manifests: Array<{ digest: string }> };
    assert.deepEqual(referrers.manifests.map((m) => m.digest), [signature.digest]);
    // In the other account of the same deployment.
    assert.equal(await destDigest(src, B, 'prod/app', 'v1'), multi.digest);
    assert.equal(await src.app.meta.repositories.get(B, 'dev/app'), undefined);
    assert.equal(await dest.app.meta.repositories.get(A, 'dev/app'), undefined);

    // The destination's repository was made with its REPLICATION template.
    const repo = (await destEcr.send(new DescribeRepositoriesCommand({ repositoryNames: ['prod/app'] }))).repositories?.[0];
    assert.equal(repo?.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual((await destEcr.send(new ListTagsForResourceCommand({ resourceArn: repo?.repositoryArn }))).tags, [{ Key: 'made-by', Value: 'replication' }]);

    // ECR Replication Action events at the destinations.
    const events = await dest.app.meta.db.selectFrom('events').selectAll().where('type', '=', 'ECR Replication Action').where('digest', '=', multi.digest).execute();
    assert.equal(events.length, 1);
    assert.deepEqual(JSON.parse(events[0]?.detail ?? '{}'), {
      'action-type': 'REPLICATE',
      result: 'SUCCESS',
      'repository-name': 'prod/app',
      'image-digest': multi.digest,
      'image-tag': 'v1',
      'source-account': A,
      'source-region': 'us-east-1',
    });
    const inB = await src.app.meta.db.selectFrom('events').select('detail').where('account_id', '=', B).where('type', '=', 'ECR Replication Action').where('digest', '=', multi.digest).execute();
    assert.equal((JSON.parse(inB[0]?.detail ?? '{}') as { result: string }).result, 'SUCCESS');
  });

  test('no chains: a replicated push is not replicated again by the destination', async () => {
    // The destination replicates its own pushes to another of its accounts...
    const c = await addAccount(dest, '333333333333');
    await dest.client({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: 'us-west-2' }).send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: ['ecr:ReplicateImage', 'ecr:CreateRepository'], Resource: `arn:aws:ecr:us-west-2:333333333333:repository/*` }] }),
      }),
    );
    await destEcr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: { rules: [{ destinations: [{ region: 'us-west-2', registryId: '333333333333' }] }] } }));
    // ...but what reaches it by replication stays there.
    await push(src, 'prod/chain', 'v1', image('chain'));
    assert.equal((await settled('prod/chain', 'v1')).every((s) => s.status === 'COMPLETE'), true);
    const repo = await dest.app.meta.repositories.get(A, 'prod/chain');
    assert.ok(repo !== undefined);
    const digest = (await dest.app.meta.tags.get(repo.id, 'v1')) ?? '';
    assert.deepEqual(await dest.app.meta.replication.statuses(repo.id, digest), []);
    assert.equal(await dest.app.meta.repositories.get('333333333333', 'prod/chain'), undefined);
    // A push of its own is replicated.
    await push(dest, 'own/app', 'v1', image('own'));
    const own = await destEcr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'own/app', imageId: { imageTag: 'v1' } }));
    assert.deepEqual(own.replicationStatuses?.map((s) => [s.region, s.registryId]), [['us-west-2', '333333333333']]);
    await destEcr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: { rules: [] } }));
  });

  test('an immutable tag that holds another image at the destination: the image is replicated without the tag', async () => {
    const first = await destDigest(dest, A, 'prod/app', 'v1');
    // In the other account of this deployment too (in-process).
    await b.ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'prod/app', imageTagMutability: 'IMMUTABLE' }));
    const firstInB = await destDigest(src, B, 'prod/app', 'v1');
    assert.ok(first !== undefined && firstInB === first);
    const moved = image('moved');
    await push(src, 'prod/app', 'v1', moved); // mutable at the source
    const statuses = await settled('prod/app', 'v1');
    assert.ok(statuses.every((s) => s.status === 'COMPLETE'), JSON.stringify(statuses));
    assert.equal(await destDigest(dest, A, 'prod/app', 'v1'), first, 'the immutable tag did not move');
    const repo = await dest.app.meta.repositories.get(A, 'prod/app');
    assert.ok((await dest.app.meta.manifests.getMeta(repo?.id ?? 0, moved.digest)) !== undefined, 'the image is there, untagged');
    assert.equal(await destDigest(src, B, 'prod/app', 'v1'), first);
    const inB = await src.app.meta.repositories.get(B, 'prod/app');
    assert.ok((await src.app.meta.manifests.getMeta(inB?.id ?? 0, moved.digest)) !== undefined);
  });

  test('blobs the destination already has are not sent again', async () => {
    const layer = Buffer.alloc(256 * 1024, 'shared');
    await push(src, 'prod/blobs', 'one', image('one', layer));
    await settled('prod/blobs', 'one');
    const before = { starts: destLog.requests('upload.start', 'prod/blobs'), heads: destLog.requests('blob.get', 'prod/blobs') };
    await push(src, 'prod/blobs', 'two', image('two', layer));
    await settled('prod/blobs', 'two');
    assert.equal(destLog.requests('upload.start', 'prod/blobs') - before.starts, 1, 'only the new config blob was uploaded');
    assert.equal(destLog.requests('blob.get', 'prod/blobs') - before.heads, 2, 'both blobs were asked for');
  });

  test('moving a tag onto an image the repository already holds is replicated too', async () => {
    const first = image('retag-1');
    const second = image('retag-2');
    await push(src, 'prod/retag', 'v1', first);
    await push(src, 'prod/retag', 'v2', second);
    await settled('prod/retag', 'v2');
    // The tag `stable` moves onto the existing image: no new manifest, only a tag.
    await push(src, 'prod/retag', 'stable', second);
    await settled('prod/retag', 'stable');
    for (let i = 0; (await destDigest(dest, A, 'prod/retag', 'stable')) !== second.digest; i++) {
      assert.ok(i < 400, 'the tag arrived at the destination');
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  test('a destination that is down: the job is retried until it is back, then the image arrives', async () => {
    await dest.close();
    const late = image('late');
    await push(src, 'prod/app', 'late', late);
    // It failed at least once, and is still in progress.
    for (let i = 0; ; i++) {
      const jobs = await src.app.meta.db.selectFrom('jobs').select(['attempts', 'last_error']).where('kind', '=', 'replication.push').where('status', '=', 'pending').execute();
      if (jobs.some((j) => Number(j.attempts) >= 1 && j.last_error !== null)) break;
      assert.ok(i < 1200, 'the replication job failed while the destination was down');
      await new Promise((r) => setTimeout(r, 25));
    }
    const during = await src.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/app', imageId: { imageTag: 'late' } }));
    assert.deepEqual(during.replicationStatuses?.find((s) => s.region === 'us-west-2')?.status, 'IN_PROGRESS');
    await startDest();
    const statuses = await settled('prod/app', 'late');
    assert.ok(statuses.every((s) => s.status === 'COMPLETE'), JSON.stringify(statuses));
    assert.equal(await destDigest(dest, A, 'prod/app', 'late'), late.digest);
  });

  test('X-Berth-Replication is honoured only from the source or the destination account, and needs ecr:ReplicateImage', async () => {
    const d = await addAccount(dest, '444444444444');
    const img = image('claimed');
    const [config] = [...img.blobs.keys()];
    const post = async (auth: string, header: string): Promise<Response> =>
      await dest.fetch(`/v2/prod/claimed/blobs/uploads/?digest=${config ?? ''}`, { method: 'POST', body: img.blobs.get(config ?? ''), headers: { authorization: auth, 'x-berth-replication': header } });
    // Account 444 pushes into its own registry claiming another source: allowed (its own registry).
    assert.equal((await post(d.auth, `source-account=${A}; source-region=us-east-1`)).status, 201);
    // A malformed header.
    const malformed = await post(d.auth, 'from somewhere');
    assert.equal(malformed.status, 400);
    // Into account A's registry (a login token for it), as 444 claiming to be 444: no ReplicateImage grant.
    const token = await dest.client({ accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey, region: 'us-west-2' }).send(new GetAuthorizationTokenCommand({ registryIds: [A] }));
    const other = `Basic ${token.authorizationData?.[0]?.authorizationToken ?? ''}`;
    const denied = await post(other, 'source-account=444444444444; source-region=us-east-1');
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /ecr:ReplicateImage is not granted/);
    // Claiming to be another account is refused outright.
    const forged = await post(other, `source-account=${B}; source-region=us-east-1`);
    assert.equal(forged.status, 403);
    assert.match(await forged.text(), /must come from the source account/);
    assert.equal(await dest.app.meta.repositories.get(A, 'prod/claimed'), undefined);
  });

  test('DescribeImageReplicationStatus: bad input', async () => {
    const missing = await refusal(src.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/none', imageId: { imageTag: 'v1' } })));
    assert.equal(missing.name, 'RepositoryNotFoundException');
    const noImage = await refusal(src.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/app', imageId: { imageTag: 'nope' } })));
    assert.equal(noImage.name, 'ImageNotFoundException');
    const badDigest = await refusal(src.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/app', imageId: { imageDigest: 'sha256:xyz' } })));
    assert.equal(badDigest.name, 'InvalidParameterException');
    const neither = await refusal(src.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/app', imageId: {} })));
    assert.equal(neither.name, 'InvalidParameterException');
  });
});
