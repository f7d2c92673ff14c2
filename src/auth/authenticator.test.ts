import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSqlite, type MetaStore } from '../meta/index.ts';
import { isRegistryError } from '../core/errors.ts';
import { BasicAuthenticator } from './authenticator.ts';
import { hashSecret, newAccessKeyId, newAccountId, newSecretAccessKey, verifySecret } from './secrets.ts';

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

function unauthorized(re?: RegExp): (e: unknown) => boolean {
  return (e) => isRegistryError(e) && e.code === 'Unauthorized' && e.status === 401 && (re === undefined || re.test(e.message));
}

describe('secrets', () => {
  test('access key ids, secrets and account ids have AWS shapes', () => {
    assert.match(newAccessKeyId(), /^AKIA[A-Z2-7]{16}$/);
    assert.match(newAccessKeyId('ASIA'), /^ASIA[A-Z2-7]{16}$/);
    assert.equal(newSecretAccessKey().length, 40);
    assert.match(newAccountId(), /^[1-9]\d{11}$/);
    assert.notEqual(newSecretAccessKey(), newSecretAccessKey());
  });

  test('hashes verify only the right secret and never contain it', async () => {
    const h = await hashSecret('correct horse battery staple');
    assert.ok(!h.includes('correct'));
    assert.match(h, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.equal(await verifySecret('correct horse battery staple', h), true);
    assert.equal(await verifySecret('correct horse battery stapl', h), false);
    assert.equal(await verifySecret('x', 'plain-text'), false);
    assert.notEqual(await hashSecret('same'), await hashSecret('same'), 'salted');
  });
});

describe('BasicAuthenticator', () => {
  let meta: MetaStore;
  const account = '111122223333';
  const id = 'AKIAAAAAAAAAAAAAAAAA';
  const secret = 'secret-secret-secret-secret';
  let lookups = 0;

  before(async () => {
    meta = await openSqlite({ path: ':memory:' });
    await meta.accounts.ensure(account, 1);
    await meta.accessKeys.put({ accessKeyId: id, accountId: account, userName: 'root', secretHash: await hashSecret(secret), status: 'Active', createdAt: 1 });
    await meta.accessKeys.put({ accessKeyId: 'AKIAINACTIVEINACTIVE', accountId: account, userName: 'ci', secretHash: await hashSecret(secret), status: 'Inactive', createdAt: 1 });
    const get = meta.accessKeys.get.bind(meta.accessKeys);
    meta.accessKeys.get = async (k: string) => {
      lookups++;
      return await get(k);
    };
  });
  after(async () => {
    await meta.close();
  });

  test('no Authorization header is anonymous (null), not an error', async () => {
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60 });
    assert.equal(await a.authenticate({ headers: {} }), null);
  });

  test('valid credentials give the root principal; the verification is cached', async () => {
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60 });
    lookups = 0;
    const p = await a.authenticate({ headers: { authorization: basic(id, secret) } });
    assert.deepEqual(p, { accountId: account, arn: `arn:aws:iam::${account}:root`, userName: 'root', accessKeyId: id, kind: 'root' });
    for (let i = 0; i < 20; i++) await a.authenticate({ headers: { authorization: basic(id, secret) } });
    assert.equal(lookups, 1);
  });

  test('a burst of first requests verifies once', async () => {
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60 });
    lookups = 0;
    const all = await Promise.all(Array.from({ length: 10 }, () => a.authenticate({ headers: { authorization: basic(id, secret) } })));
    assert.ok(all.every((p) => p?.accessKeyId === id));
    assert.equal(lookups, 1);
  });

  test('wrong secrets are refused, also when the right one is cached; repeated refusals are cheap', async () => {
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60 });
    lookups = 0;
    await assert.rejects(a.authenticate({ headers: { authorization: basic(id, 'wrong') } }), unauthorized(/invalid access key id or secret/));
    await assert.rejects(a.authenticate({ headers: { authorization: basic(id, 'wrong') } }), unauthorized());
    assert.equal(lookups, 1, 'the second refusal did not hash again');
    await a.authenticate({ headers: { authorization: basic(id, secret) } });
    await assert.rejects(a.authenticate({ headers: { authorization: basic(id, `${secret}x`) } }), unauthorized());
  });

  test('unknown and inactive keys are refused', async () => {
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60 });
    await assert.rejects(a.authenticate({ headers: { authorization: basic('AKIAUNKNOWNUNKNOWNXX', secret) } }), unauthorized());
    await assert.rejects(a.authenticate({ headers: { authorization: basic('AKIAINACTIVEINACTIVE', secret) } }), unauthorized());
  });

  test('other schemes and malformed Basic values are refused with a reason', async () => {
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60 });
    await assert.rejects(a.authenticate({ headers: { authorization: 'Bearer abc.def' } }), unauthorized(/unsupported authorization scheme "Bearer"/));
    await assert.rejects(a.authenticate({ headers: { authorization: 'Basic !!!' } }), unauthorized());
    await assert.rejects(a.authenticate({ headers: { authorization: basic('', 'x') } }), unauthorized(/malformed/));
    await assert.rejects(a.authenticate({ headers: { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` } }), unauthorized(/malformed/));
  });

  test('the cache expires, and invalidate() forgets a key at once', async () => {
    let now = 1_000_000;
    const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 60, now: () => now });
    lookups = 0;
    await a.authenticate({ headers: { authorization: basic(id, secret) } });
    now += 59_000;
    await a.authenticate({ headers: { authorization: basic(id, secret) } });
    assert.equal(lookups, 1);
    now += 2_000;
    await a.authenticate({ headers: { authorization: basic(id, secret) } });
    assert.equal(lookups, 2);
    a.invalidate(id);
    await a.authenticate({ headers: { authorization: basic(id, secret) } });
    assert.equal(lookups, 3);
  });
});
