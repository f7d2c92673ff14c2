// Layer download tokens (what GetDownloadUrlForLayer puts in a URL of berth itself when the store
// cannot presign): signed with the deployment's keyring, they name one blob of one repository of one
// account and an expiry, so any process can honour them on /v2/ without credentials or a database
// lookup. They grant nothing else: another blob, another repository, or after the expiry, no.
import { RegistryError } from '../core/errors.ts';
import type { Keyring } from './crypto.ts';

/** The query parameter of /v2/<name>/blobs/<digest> that carries a download token. */
export const DOWNLOAD_TOKEN_PARAM = 'X-Berth-Download';

export interface DownloadGrant {
  accountId: string;
  repository: string;
  digest: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** ARN of the principal the URL was issued to (for the access log). */
  issuedTo: string;
}

export function issueDownloadToken(keyring: Keyring, g: DownloadGrant): string {
  return keyring.sign({ t: 'download', v: 1, a: g.accountId, r: g.repository, d: g.digest, exp: g.expiresAt, p: g.issuedTo });
}

/**
 * The grant a download token carries, checked against the blob the request asks for: Unauthorized
 * (401) for anything this keyring did not sign, TokenExpired (401) after the expiry, Denied (403)
 * for a genuine token of another blob or repository. The account is the token's.
 */
export function readDownloadToken(keyring: Keyring, token: string, now: number, want: { repository: string; digest: string }): DownloadGrant {
  const v = keyring.verify(token);
  if (v === null || v.t !== 'download' || v.v !== 1) throw new RegistryError('Unauthorized', 'invalid download token: get a new URL with GetDownloadUrlForLayer');
  const { a, r, d, exp, p } = v;
  if (typeof a !== 'string' || typeof r !== 'string' || typeof d !== 'string' || typeof exp !== 'number' || typeof p !== 'string') {
    throw new RegistryError('Unauthorized', 'invalid download token');
  }
  if (exp <= now) throw new RegistryError('TokenExpired', 'the download URL has expired: get a new one with GetDownloadUrlForLayer');
  if (r !== want.repository || d !== want.digest) {
    throw new RegistryError('Denied', `the download token grants ${d} of repository ${r}, not ${want.digest.slice(0, 140)} of ${want.repository}`);
  }
  return { accountId: a, repository: r, digest: d, expiresAt: exp, issuedTo: p };
}
