// The whole conformance port again, with the metadata on PostgreSQL (when BERTH_TEST_POSTGRES_URL
// is set): the same registry code must behave the same on both dialects.
import { test } from 'node:test';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL } from '../helpers/postgres.ts';

if (POSTGRES_TEST_URL === undefined) {
  test('conformance on PostgreSQL', { skip: POSTGRES_SKIP_REASON }, () => undefined);
} else {
  process.env.BERTH_TEST_APP_DATABASE = 'postgres';
  await import('./pull.test.ts');
  await import('./push.test.ts');
  await import('./discovery.test.ts');
  await import('./management.test.ts');
}
