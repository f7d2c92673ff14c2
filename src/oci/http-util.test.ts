import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { RegistryError } from '../core/errors.ts';
import { parseContentLength, parseContentRange, parsePageSize, parseRangeHeader, readBody } from './http-util.ts';

function unsatisfiable(size: number): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `a RegistryError, got ${String(e)}`);
    assert.equal(e.code, 'RangeNotSatisfiable');
    assert.equal(e.status, 416);
    assert.deepEqual(e.headers, { 'Content-Range': `bytes */${size}` });
    assert.match(e.message, new RegExp(`the blob has ${size} bytes`));
    return true;
  };
}

function code(c: string, message?: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `a RegistryError, got ${String(e)}`);
    assert.equal(e.code, c);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  };
}

describe('parseRangeHeader (RFC 9110 14.1.2, 14.2)', () => {
  test('no header: the whole entity', () => {
    assert.equal(parseRangeHeader(undefined, 10), null);
  });

  test('bytes=0-0 is the first byte', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-0', 10), { start: 0, end: 0 });
  });

  test('bytes=first-last', () => {
    assert.deepEqual(parseRangeHeader('bytes=2-5', 10), { start: 2, end: 5 });
    assert.deepEqual(parseRangeHeader('bytes=9-9', 10), { start: 9, end: 9 });
  });

  test('bytes=5- is from 5 to the end', () => {
    assert.deepEqual(parseRangeHeader('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=0-', 10), { start: 0, end: 9 });
  });

  test('bytes=-3 is the last 3 bytes; a suffix longer than the entity is the whole entity', () => {
    assert.deepEqual(parseRangeHeader('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-10', 10), { start: 0, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-20', 10), { start: 0, end: 9 });
  });

  test('a last position beyond the end is the end', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-100', 10), { start: 0, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=8-99999999999999999999', 10), { start: 8, end: 9 });
  });

  test('a first position at or beyond the end: 416 with Content-Range: bytes */size', () => {
    assert.throws(() => parseRangeHeader('bytes=10-', 10), unsatisfiable(10));
    assert.throws(() => parseRangeHeader('bytes=10-20', 10), unsatisfiable(10));
    assert.throws(() => parseRangeHeader('bytes=11-11', 10), unsatisfiable(10));
    assert.throws(() => parseRangeHeader('bytes=99999999999999999999-', 10), unsatisfiable(10));
  });

  test('a zero-length suffix is unsatisfiable: 416', () => {
    assert.throws(() => parseRangeHeader('bytes=-0', 10), unsatisfiable(10));
  });

  test('an empty entity: any first-pos range is unsatisfiable (416)', () => {
    assert.throws(() => parseRangeHeader('bytes=0-', 0), unsatisfiable(0));
    assert.throws(() => parseRangeHeader('bytes=0-0', 0), unsatisfiable(0));
  });

  test('an empty entity: a non-zero suffix range is satisfiable (RFC 9110 14.1.1), so it is not a 416', () => {
    // "When a selected representation has zero length, the only satisfiable form of range in a GET
    // request is a suffix-range with a non-zero suffix-length." The server may ignore the header and
    // send the (empty) whole; it must not answer 416.
    assert.equal(parseRangeHeader('bytes=-5', 0), null);
  });

  test('multiple ranges are ignored (the whole entity is served)', () => {
    assert.equal(parseRangeHeader('bytes=0-1,3-4', 10), null);
    assert.equal(parseRangeHeader('bytes=0-1, 5-', 10), null);
    assert.equal(parseRangeHeader('bytes=-1,0-0', 10), null);
  });

  test('malformed headers are ignored', () => {
    for (const h of ['', 'bytes', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1-a', 'bytes 0-1', 'items=0-1', '0-1', 'bytes=0x1-2', 'bytes=1.5-2', 'bytes=--1']) {
      assert.equal(parseRangeHeader(h, 10), null, JSON.stringify(h));
    }
  });

  test('an invalid range (last before first) is ignored', () => {
    assert.equal(parseRangeHeader('bytes=5-2', 10), null);
  });
});

describe('parseContentRange', () => {
  test('absent: undefined', () => {
    assert.equal(parseContentRange(undefined), undefined);
  });
  test('<start>-<end>, with or without the "bytes" unit and a total', () => {
    assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('bytes 0-99/100'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('bytes=100-199'), { start: 100, end: 199 });
    assert.deepEqual(parseContentRange('bytes 5-5/*'), { start: 5, end: 5 });
    assert.deepEqual(parseContentRange(' 0-9 '), { start: 0, end: 9 });
  });
  test('malformed: BLOB_UPLOAD_INVALID naming the header', () => {
    for (const h of ['', 'abc', '5', '-5', '5-', '0-4-5', '1e3-2e3', 'bytes 0-4/3x', 'bytes=0-4,5-9', 'items 0-4']) {
      assert.throws(() => parseContentRange(h), code('BlobUploadInvalid', /^malformed Content-Range ".*": expected <start>-<end>$/), JSON.stringify(h));
    }
  });
  test('an end before the start: BLOB_UPLOAD_INVALID', () => {
    assert.throws(() => parseContentRange('10-5'), code('BlobUploadInvalid', /Content-Range 10-5 ends before it starts/));
  });
  test('a malformed header of any length is cut in the message', () => {
    try {
      parseContentRange('x'.repeat(10_000));
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegistryError);
      assert.ok(e.message.length < 200);
    }
  });
});

describe('parseContentLength', () => {
  test('absent: undefined; digits: the number', () => {
    assert.equal(parseContentLength(undefined), undefined);
    assert.equal(parseContentLength('0'), 0);
    assert.equal(parseContentLength('123456789'), 123456789);
  });
  test('anything else: 400', () => {
    for (const h of ['', '-1', '1.5', 'abc', '1e3', ' 1', '0x10']) {
      assert.throws(() => parseContentLength(h), code('BadRequest', /^malformed Content-Length/), JSON.stringify(h));
    }
  });
});

describe('parsePageSize', () => {
  test('absent or empty: the default; digits: the number, capped at the maximum', () => {
    assert.equal(parsePageSize(null, 100, 1000), 100);
    assert.equal(parsePageSize('', 100, 1000), 100);
    assert.equal(parsePageSize('0', 100, 1000), 0);
    assert.equal(parsePageSize('7', 100, 1000), 7);
    assert.equal(parsePageSize('5000', 100, 1000), 1000);
    assert.equal(parsePageSize('99999999999999999999999', 100, 1000), 1000);
  });
  test('anything else: 400 "invalid n"', () => {
    for (const v of ['-1', '1.5', 'abc', '1e3', ' 5', '+5', '0x10']) {
      assert.throws(() => parsePageSize(v, 100, 1000), code('BadRequest', /^invalid n ".*": expected a non-negative integer$/), JSON.stringify(v));
    }
  });
});

describe('readBody', () => {
  function request(chunks: Buffer[], headers: Record<string, string> = {}): IncomingMessage & { pulled: () => number } {
    let pulled = 0;
    const stream = Readable.from(
      (function* () {
        for (const c of chunks) {
          pulled++;
          yield c;
        }
      })(),
    );
    return Object.assign(stream, { headers, pulled: () => pulled }) as unknown as IncomingMessage & { pulled: () => number };
  }
  const tooLarge = (): RegistryError => new RegistryError('ManifestTooLarge', 'too large');

  test('reads everything up to and including the limit', async () => {
    const b = await readBody(request([Buffer.from('abc'), Buffer.from('de')]), 5, tooLarge);
    assert.equal(b.toString(), 'abcde');
    assert.equal((await readBody(request([]), 5, tooLarge)).length, 0);
  });

  test('a declared Content-Length over the limit is refused before reading', async () => {
    const req = request([Buffer.from('abc')], { 'content-length': '6' });
    await assert.rejects(readBody(req, 5, tooLarge), code('ManifestTooLarge'));
    assert.equal(req.pulled(), 0);
  });

  test('a body growing over the limit (no or a lying Content-Length) is refused', async () => {
    await assert.rejects(readBody(request([Buffer.from('abc'), Buffer.from('def')]), 5, tooLarge), code('ManifestTooLarge'));
    await assert.rejects(readBody(request([Buffer.from('abcdef')], { 'content-length': '2' }), 5, tooLarge), code('ManifestTooLarge'));
  });
});
