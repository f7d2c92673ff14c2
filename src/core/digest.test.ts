import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, isDigest, newHash, parseDigest, tryParseDigest } from './digest.ts';
import { RegistryError } from './errors.ts';

const HEX64 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HEX128 = 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';

function digestInvalid(message: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `a RegistryError, got ${String(e)}`);
    assert.equal(e.code, 'DigestInvalid');
    assert.equal(e.status, 400);
    assert.equal(e.ociCode, 'DIGEST_INVALID');
    assert.match(e.message, message);
    return true;
  };
}

describe('tryParseDigest / isDigest', () => {
  test('accepts sha256 with 64 and sha512 with 128 lowercase hex characters', () => {
    assert.deepEqual(tryParseDigest(`sha256:${HEX64}`), { algorithm: 'sha256', hex: HEX64, digest: `sha256:${HEX64}` });
    assert.deepEqual(tryParseDigest(`sha512:${HEX128}`), { algorithm: 'sha512', hex: HEX128, digest: `sha512:${HEX128}` });
    assert.equal(isDigest(`sha256:${HEX64}`), true);
    assert.equal(isDigest(`sha512:${HEX128}`), true);
  });

  const invalid: ReadonlyArray<[string, string]> = [
    ['sha256 with 63 hex characters', `sha256:${HEX64.slice(1)}`],
    ['sha256 with 65 hex characters', `sha256:${HEX64}0`],
    ['sha256 with uppercase hex', `sha256:${HEX64.toUpperCase()}`],
    ['sha256 with one uppercase character', `sha256:${HEX64.slice(0, 63)}F`],
    ['sha256 with non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['sha256 with base64 characters', `sha256:${'A-_='.repeat(16)}`],
    ['sha512 with 64 hex characters', `sha512:${HEX64}`],
    ['sha512 with 127 hex characters', `sha512:${HEX128.slice(1)}`],
    ['sha256 with 128 hex characters', `sha256:${HEX128}`],
    ['an unsupported algorithm (md5)', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    ['an unsupported algorithm (sha384)', `sha384:${'a'.repeat(96)}`],
    ['a registered-looking algorithm with a suffix', `sha256+b64u:${HEX64}`],
    ['an uppercase algorithm', `SHA256:${HEX64}`],
    ['no algorithm', `:${HEX64}`],
    ['no encoded part', 'sha256:'],
    ['no colon', `sha256${HEX64}`],
    ['two colons', `sha256:${HEX64}:x`],
    ['the empty string', ''],
    ['a trailing newline', `sha256:${HEX64}\n`],
    ['a leading space', ` sha256:${HEX64}`],
    ['a tag', 'latest'],
  ];
  for (const [what, d] of invalid) {
    test(`refuses ${what}`, () => {
      assert.equal(tryParseDigest(d), null);
      assert.equal(isDigest(d), false);
    });
  }
});

describe('parseDigest', () => {
  test('returns the parsed digest', () => {
    assert.deepEqual(parseDigest(`sha256:${HEX64}`), { algorithm: 'sha256', hex: HEX64, digest: `sha256:${HEX64}` });
  });

  test('an unsupported algorithm is named in the message (DIGEST_INVALID, 400)', () => {
    assert.throws(() => parseDigest('md5:d41d8cd98f00b204e9800998ecf8427e'), digestInvalid(/^unsupported digest algorithm "md5" in digest: berth supports sha256 and sha512$/));
    assert.throws(() => parseDigest(`sha256+b64u:${HEX64}`), digestInvalid(/unsupported digest algorithm "sha256\+b64u"/));
  });

  test('a malformed digest says what is expected, naming the context', () => {
    assert.throws(() => parseDigest(`sha256:${HEX64.toUpperCase()}`), digestInvalid(/^invalid digest "sha256:E3B0.*": expected sha256:<64 hex> or sha512:<128 hex>$/));
    assert.throws(() => parseDigest('latest', 'manifest reference'), digestInvalid(/^invalid manifest reference "latest"/));
    assert.throws(() => parseDigest(`sha512:${HEX64}`), digestInvalid(/^invalid digest/));
    assert.throws(() => parseDigest(''), digestInvalid(/^invalid digest ""/));
  });

  test('the detail carries the digest, and very long input is truncated in message and detail', () => {
    const long = `sha256:${'a'.repeat(5000)}`;
    try {
      parseDigest(long);
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegistryError);
      assert.ok(e.message.length < 400, `message of ${e.message.length} characters`);
      assert.deepEqual(e.detail, { digest: `${long.slice(0, 200)}...` });
    }
    try {
      parseDigest('md5:abc');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegistryError);
      assert.deepEqual(e.detail, { digest: 'md5:abc' });
    }
  });
});

describe('digestOf and newHash', () => {
  test('known vectors: sha256 of "", sha512 of "abc"', () => {
    assert.equal(digestOf(''), `sha256:${HEX64}`);
    assert.equal(digestOf(new Uint8Array(0), 'sha256'), `sha256:${HEX64}`);
    assert.equal(digestOf('abc', 'sha512'), 'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f');
  });

  test('every digest it produces parses', () => {
    for (const alg of ['sha256', 'sha512'] as const) assert.equal(isDigest(digestOf('x', alg)), true);
  });

  test('newHash hashes incrementally to the same digest', () => {
    const h = newHash('sha256');
    h.update('a');
    h.update('bc');
    assert.equal(`sha256:${h.digest('hex')}`, digestOf('abc'));
    assert.equal(`sha512:${newHash('sha512').update('abc').digest('hex')}`, digestOf('abc', 'sha512'));
  });
});
