// Per-account request rates (ECR's quotas, configurable): over the rate, /v2/ answers 429
// TOOMANYREQUESTS with Retry-After and the ECR API ThrottlingException; the refused request stores
// nothing; each account has its own budget; the rate comes back after the wait.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetImageCommand, CreateRepositoryCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { loadConfig } from '../../src/config/index.ts';
import { addAccount, refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const MT = 'application/vnd.oci.image.manifest.v1+json';


describe('throttling with ECR-style per-account rates', () => {
  let t: EcrTestApp;
  let manifest: string;

  before(async () => {
    t = await startEcrApp({ env: { BERTH_THROTTLE_ENABLED: 'true', BERTH_THROTTLE_RATES: 'PutImage=0.5,BatchGetImage=0.5' } });
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'rate/app' }));
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const r = await t.fetch(`/v2/rate/app/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config });
    assert.equal(r.status, 201);
    manifest = JSON.stringify({ schemaVersion: 2, mediaType: MT, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] });
  });
  after(async () => {
    await t.close();
  });

  const put = async (tag: string): Promise<Response> => await t.fetch(`/v2/rate/app/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': MT } });

  test('/v2/ pushes over PutImage\'s rate get 429 with Retry-After and store nothing; the API shares the budget', async () => {
    // One request every two seconds: the second of two back-to-back pushes is over the rate.
    assert.equal((await put('a')).status, 201);
    const third = await put('c');
    assert.equal(third.status, 429);
    assert.ok(Number(third.headers.get('retry-after')) >= 1, third.headers.get('retry-after') ?? 'no Retry-After');
    const body = (await third.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, 'TOOMANYREQUESTS');
    assert.match(body.errors[0]?.message ?? '', /too many ecr:PutImage requests/);
    const api = await refusal(t.ecr.send(new PutImageCommand({ repositoryName: 'rate/app', imageManifest: manifest, imageTag: 'd' })));
    assert.deepEqual(api, { name: 'ThrottlingException', message: 'Rate exceeded', status: 400 });
    const tags = (await (await t.fetch('/v2/rate/app/tags/list')).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['a'], 'c and d were not stored');
    await sleep(2100);
    assert.equal((await put('c')).status, 201, 'the budget came back');
  });

  test('pulls have their own budget, and another account its own', async () => {
    const get = async (): Promise<number> => {
      const r = await t.fetch('/v2/rate/app/manifests/a', { headers: { accept: MT } });
      await r.arrayBuffer();
      return r.status;
    };
    assert.deepEqual([await get(), await get()], [200, 429]);
    const b = await addAccount(t, '444455556666');
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'rate/app' }));
    const other = await b.ecr.send(new BatchGetImageCommand({ repositoryName: 'rate/app', imageIds: [{ imageTag: 'none' }] }));
    assert.equal(other.failures?.[0]?.failureCode, 'ImageNotFound', 'served, not throttled');
  });

  test('a bad rate is refused when the configuration is read', () => {
    assert.throws(() => loadConfig({ env: { BERTH_THROTTLE_RATES: 'DescribeImages=5' } }), /only BatchCheckLayerAvailability/);
    assert.throws(() => loadConfig({ env: { BERTH_THROTTLE_RATES: 'PutImage=fast' } }), /not Action=requestsPerSecond/);
  });
});
