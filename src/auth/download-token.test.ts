import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRegistryError } from '../core/errors.ts';
import { Keyring } from './crypto.ts';
import { issueDownloadToken, readDownloadToken } from './download-token.ts';
import { issueLoginToken } from './login-token.ts';

const keyring = new Keyring(Buffer.alloc(32, 1));
const digest = `sha256:${'a'.repeat(64)}`;
const grant = { accountId: '123456789012', repository: 'team/app', digest, expiresAt: 10_000, issuedTo: 'arn:aws:iam::123456789012:root' };

function refused(code: string, re: RegExp): (e: unknown) => boolean {
  return (e) => isRegistryError(e) && e.code === code && re.test(e.message);
}

test('a download token grants its one blob until it expires', () => {
  const token = issueDownloadToken(keyring, grant);
  assert.deepEqual(readDownloadToken(keyring, token, 9_999, { repository: 'team/app', digest }), grant);
  assert.throws(() => readDownloadToken(keyring, token, 10_000, { repository: 'team/app', digest }), refused('TokenExpired', /has expired/));
  assert.throws(() => readDownloadToken(keyring, token, 0, { repository: 'team/other', digest }), refused('Denied', /grants .* of repository team\/app, not .* of team\/other/));
  assert.throws(() => readDownloadToken(keyring, token, 0, { repository: 'team/app', digest: `sha256:${'b'.repeat(64)}` }), refused('Denied', /not sha256:b+ of team\/app/));
});

test('tokens of another keyring, tampered tokens and login tokens are not download tokens', () => {
  const want = { repository: 'team/app', digest };
  assert.throws(() => readDownloadToken(keyring, issueDownloadToken(new Keyring(Buffer.alloc(32, 2)), grant), 0, want), refused('Unauthorized', /invalid download token/));
  const token = issueDownloadToken(keyring, grant);
  assert.throws(() => readDownloadToken(keyring, `x${token}`, 0, want), refused('Unauthorized', /invalid download token/));
  const login = issueLoginToken(keyring, { accountId: grant.accountId, arn: grant.issuedTo, userName: 'root', accessKeyId: 'AKIAEXAMPLE', kind: 'root' }, 10_000, 0);
  assert.throws(() => readDownloadToken(keyring, login, 0, want), refused('Unauthorized', /invalid download token/));
  assert.throws(() => readDownloadToken(keyring, keyring.sign({ t: 'download', v: 1, a: 1, r: 'team/app', d: digest, exp: 10_000, p: 'x' }), 0, want), refused('Unauthorized', /invalid download token$/));
});
