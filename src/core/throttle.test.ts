import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECR_DEFAULT_RATES, parseRates, RateLimiter } from './throttle.ts';

test('a bucket holds one second of requests, refills at the rate, and is per account and action', () => {
  let now = 0;
  const l = new RateLimiter({ PutImage: 2, BatchGetImage: 4 }, () => now);
  assert.deepEqual(l.take('a', 'PutImage'), { ok: true });
  assert.deepEqual(l.take('a', 'PutImage'), { ok: true });
  assert.deepEqual(l.take('a', 'PutImage'), { ok: false, retryAfterSeconds: 1 });
  assert.deepEqual(l.take('b', 'PutImage'), { ok: true }, 'another account has its own bucket');
  assert.deepEqual(l.take('a', 'BatchGetImage'), { ok: true }, 'another action too');
  assert.deepEqual(l.take('a', 'DescribeImages'), { ok: true }, 'actions without a rate pass');
  now = 499;
  assert.equal(l.take('a', 'PutImage').ok, false, 'not yet one token');
  now = 500;
  assert.equal(l.take('a', 'PutImage').ok, true, 'half a second at 2/s is one token');
  assert.equal(l.take('a', 'PutImage').ok, false);
  now = 10_000;
  assert.equal(l.take('a', 'PutImage').ok, true);
  assert.equal(l.take('a', 'PutImage').ok, true);
  assert.equal(l.take('a', 'PutImage').ok, false, 'a long pause does not bank more than one second');
});

test('a rate under one per second still lets one request through, then tells how long to wait', () => {
  let now = 0;
  const l = new RateLimiter({ PutImage: 0.25 }, () => now);
  assert.deepEqual(l.take('a', 'PutImage'), { ok: true });
  assert.deepEqual(l.take('a', 'PutImage'), { ok: false, retryAfterSeconds: 4 });
  now = 1000;
  assert.deepEqual(l.take('a', 'PutImage'), { ok: false, retryAfterSeconds: 3 });
  now = 4000;
  assert.deepEqual(l.take('a', 'PutImage'), { ok: true });
});

test('rates: ECR defaults, overridden by Action=rate entries; bad entries name themselves', () => {
  assert.equal(parseRates(undefined).PutImage, 10);
  assert.deepEqual(parseRates('PutImage=20, BatchGetImage=0.5'), { ...ECR_DEFAULT_RATES, PutImage: 20, BatchGetImage: 0.5 });
  assert.throws(() => parseRates('PutImage'), /"PutImage" is not Action=requestsPerSecond/);
  assert.throws(() => parseRates('DescribeImages=5'), /only BatchCheckLayerAvailability/);
  assert.throws(() => parseRates('PutImage=0'), /above 0/);
});
