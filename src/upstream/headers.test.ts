import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextLink, parseRetryAfter } from './headers.ts';

test('Retry-After in seconds or as an HTTP date', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('1', now), 1000);
  assert.equal(parseRetryAfter(' 120 ', now), 120_000);
  assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0, 'a date in the past means now');
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('-5', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

test('the rel="next" link, resolved against the request URL', () => {
  const req = 'https://r.example/v2/a/tags/list?n=2';
  assert.equal(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"', req), 'https://r.example/v2/a/tags/list?n=2&last=b');
  assert.equal(nextLink('<https://other/x>; rel=next', req), 'https://other/x');
  assert.equal(nextLink('</prev>; rel="prev", </next?a=1;b>; title="x"; rel="last next"', req), 'https://r.example/next?a=1;b');
  assert.equal(nextLink('</prev>; rel="prev"', req), undefined);
  assert.equal(nextLink(null, req), undefined);
});
