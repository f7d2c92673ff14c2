// STS over AWS's query protocol on berth's port, through @aws-sdk/client-sts: GetCallerIdentity for
// the root user and for an IAM user (who needs no permission for it), and STS's own error names,
// statuses and XML for bad signatures, unknown keys and unsigned requests.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { addUser, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';

describe('STS GetCallerIdentity', () => {
  let t: EcrTestApp;
  let A: string;
  const sts = (accessKeyId: string, secretAccessKey: string): STSClient => new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  const failure = async (p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> => {
    try {
      await p;
    } catch (e) {
      const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
      return { name: err.name, status: err.$metadata?.httpStatusCode };
    }
    throw new Error('the call succeeded');
  };

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
  });
  after(async () => {
    await t.close();
  });

  test('the root user: the account id as user id and the root ARN', async () => {
    const c = sts(t.accessKeyId, t.secretAccessKey);
    const r = await c.send(new GetCallerIdentityCommand({}));
    assert.deepEqual({ Account: r.Account, Arn: r.Arn, UserId: r.UserId }, { Account: A, Arn: `arn:aws:iam::${A}:root`, UserId: A });
    c.destroy();
  });

  test('an IAM user with no policy at all still learns who it is: its unique id and ARN', async () => {
    const u = await addUser(t, 'whoami');
    const id = (await t.app.meta.iam.get(A, 'user', 'whoami'))?.id;
    assert.match(id ?? '', /^AIDA/);
    const c = sts(u.accessKeyId, u.secretAccessKey);
    const r = await c.send(new GetCallerIdentityCommand({}));
    assert.deepEqual({ Account: r.Account, Arn: r.Arn, UserId: r.UserId }, { Account: A, Arn: u.arn, UserId: id });
    c.destroy();
  });

  test('a wrong secret is SignatureDoesNotMatch, an unknown key InvalidClientTokenId, both 403', async () => {
    const wrong = sts(t.accessKeyId, `${t.secretAccessKey}x`);
    assert.deepEqual(await failure(wrong.send(new GetCallerIdentityCommand({}))), { name: 'SignatureDoesNotMatch', status: 403 });
    wrong.destroy();
    const unknown = sts('AKIAUNKNOWNKEY000000', t.secretAccessKey);
    assert.deepEqual(await failure(unknown.send(new GetCallerIdentityCommand({}))), { name: 'InvalidClientTokenId', status: 403 });
    unknown.destroy();
  });

  test('an unsigned request gets STS\'s XML error document, with a request id', async () => {
    const r = await fetch(`${t.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetCallerIdentity&Version=2011-06-15' });
    assert.equal(r.status, 403);
    assert.match(r.headers.get('content-type') ?? '', /^text\/xml/);
    const id = r.headers.get('x-amzn-requestid');
    assert.ok(id !== null && id !== '');
    const body = await r.text();
    assert.match(body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[^<]+<\/RequestId><\/ErrorResponse>\n$/);
  });
});
