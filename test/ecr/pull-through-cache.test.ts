// Pull-through cache rules through the ECR API (AWS SDK) and berth's secrets store (`berth secret`):
// ECR's fields, the well-known upstreams named, any registry URL accepted, credentials only by the
// ARN of an existing secret, never returned; ECR's exceptions, and nothing stored by a refusal.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreatePullThroughCacheRuleCommand,
  DeletePullThroughCacheRuleCommand,
  DescribePullThroughCacheRulesCommand,
  UpdatePullThroughCacheRuleCommand,
} from '@aws-sdk/client-ecr';
import { main } from '../../src/cli/main.ts';
import { refusal, startEcrApp, type EcrTestApp } from './helpers.ts';

describe('pull-through cache rules and secrets', () => {
  let t: EcrTestApp;
  const berth = async (args: string[]): Promise<{ code: number; out: string[] }> => {
    const out: string[] = [];
    const code = await main([...args, '--data-dir', t.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, BERTH_LOG_LEVEL: 'silent' } });
    return { code, out };
  };
  before(async () => {
    t = await startEcrApp();
  });
  after(async () => {
    await t.close();
  });

  test('secrets: put prints an ARN of Secrets Manager shape, list shows names and ARNs but never values, delete', async () => {
    const put = await berth(['secret', 'put', 'hub', '--username', 'alice', '--password', 's3cr3t-token']);
    assert.equal(put.code, 0, put.out.join('\n'));
    const arn = put.out[0] ?? '';
    assert.match(arn, new RegExp(`^arn:aws:secretsmanager:us-east-1:${t.app.boot.accountId}:secret:ecr-pullthroughcache/hub-[A-Za-z0-9]{6}$`));
    // Replacing the value keeps the ARN.
    const again = await berth(['secret', 'put', 'ecr-pullthroughcache/hub', '--username', 'alice', '--password', 'rotated']);
    assert.equal(again.out[0], arn);
    const list = await berth(['secret', 'list']);
    assert.equal(list.code, 0);
    assert.ok(list.out.some((l) => l.includes(arn)));
    assert.ok(!list.out.join('\n').includes('rotated') && !list.out.join('\n').includes('s3cr3t'), 'values are never printed');
    const row = await t.app.meta.secrets.byArn(arn);
    assert.ok(row !== undefined && !row.valueEnc.includes('rotated'), 'sealed at rest');
    assert.deepEqual(JSON.parse(t.app.keyring.decrypt(row.valueEnc)), { username: 'alice', accessToken: 'rotated' });
    assert.notEqual((await berth(['secret', 'put', 'bad name!', '--username', 'a', '--password', 'b'])).code, 0);
    assert.notEqual((await berth(['secret', 'put', 'x', '--username', 'a'])).code, 0, 'a password is needed');
    assert.notEqual((await berth(['secret', 'delete', 'nope'])).code, 0);
  });

  test('rules: create (well-known and any URL), describe, update, delete; the response never carries secrets', async () => {
    const arn = (await t.app.meta.secrets.get(t.app.boot.accountId, 'ecr-pullthroughcache/hub'))?.arn ?? '';
    const hub = await t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'docker-hub', upstreamRegistryUrl: 'registry-1.docker.io', credentialArn: arn }));
    assert.equal(hub.upstreamRegistry, 'docker-hub');
    assert.equal(hub.credentialArn, arn);
    assert.equal(hub.registryId, t.app.boot.accountId);
    const own = await t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'mirror', upstreamRegistryUrl: 'http://127.0.0.1:5999', upstreamRepositoryPrefix: 'team' }));
    assert.equal(own.upstreamRegistry, undefined, 'a registry ECR does not know has no upstreamRegistry name');
    await t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'quay', upstreamRegistryUrl: 'quay.io' }));

    const all = (await t.ecr.send(new DescribePullThroughCacheRulesCommand({}))).pullThroughCacheRules ?? [];
    assert.deepEqual(
      all.map((r) => [r.ecrRepositoryPrefix, r.upstreamRegistryUrl, r.upstreamRegistry, r.upstreamRepositoryPrefix]),
      [
        ['docker-hub', 'registry-1.docker.io', 'docker-hub', undefined],
        ['mirror', 'http://127.0.0.1:5999', undefined, 'team'],
        ['quay', 'quay.io', 'quay', undefined],
      ],
    );
    assert.ok(!JSON.stringify(all).includes('rotated'));
    const one = await t.ecr.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['quay'] }));
    assert.equal(one.pullThroughCacheRules?.length, 1);
    const page = await t.ecr.send(new DescribePullThroughCacheRulesCommand({ maxResults: 2 }));
    assert.equal(page.pullThroughCacheRules?.length, 2);
    const rest = await t.ecr.send(new DescribePullThroughCacheRulesCommand({ maxResults: 2, nextToken: page.nextToken }));
    assert.deepEqual(rest.pullThroughCacheRules?.map((r) => r.ecrRepositoryPrefix), ['quay']);

    const updated = await t.ecr.send(new UpdatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'quay', credentialArn: arn }));
    assert.equal(updated.credentialArn, arn);
    assert.ok(updated.updatedAt !== undefined);
    // A secret in use cannot be deleted.
    assert.notEqual((await berth(['secret', 'delete', 'hub'])).code, 0);
    const deleted = await t.ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'quay' }));
    assert.equal(deleted.ecrRepositoryPrefix, 'quay');
    assert.deepEqual(((await t.ecr.send(new DescribePullThroughCacheRulesCommand({}))).pullThroughCacheRules ?? []).map((r) => r.ecrRepositoryPrefix), ['docker-hub', 'mirror']);
  });

  test("bad input: ECR's exceptions, and nothing stored", async () => {
    const count = async (): Promise<number> => (await t.app.meta.pullThroughCacheRules.list(t.app.boot.accountId)).length;
    const before = await count();
    const cases: Array<[Promise<unknown>, string]> = [
      [t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'docker-hub', upstreamRegistryUrl: 'registry-1.docker.io' })), 'PullThroughCacheRuleAlreadyExistsException'],
      [t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'x', upstreamRegistryUrl: 'quay.io' })), 'InvalidParameterException'],
      [t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'ok-prefix', upstreamRegistryUrl: 'ftp://example.com' })), 'InvalidParameterException'],
      [t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'ok-prefix', upstreamRegistryUrl: 'quay.io', upstreamRegistry: 'docker-hub' })), 'InvalidParameterException'],
      [
        t.ecr.send(
          new CreatePullThroughCacheRuleCommand({
            ecrRepositoryPrefix: 'ok-prefix',
            upstreamRegistryUrl: 'ghcr.io',
            credentialArn: `arn:aws:secretsmanager:us-east-1:${t.app.boot.accountId}:secret:ecr-pullthroughcache/none-abcdef`,
          }),
        ),
        'SecretNotFoundException',
      ],
      [t.ecr.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['nope'] })), 'PullThroughCacheRuleNotFoundException'],
      [t.ecr.send(new UpdatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nope' })), 'PullThroughCacheRuleNotFoundException'],
      [t.ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nope' })), 'PullThroughCacheRuleNotFoundException'],
    ];
    for (const [p, name] of cases) assert.equal((await refusal(p)).name, name);
    assert.equal(await count(), before);
    // At most 50 rules per registry.
    for (let i = await count(); i < 50; i++) await t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: `bulk-${i}`, upstreamRegistryUrl: 'quay.io' }));
    assert.equal((await refusal(t.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'one-more', upstreamRegistryUrl: 'quay.io' })))).name, 'LimitExceededException');
    assert.equal(await count(), 50);
  });
});
