import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GENERATED } from './gen-docs.ts';
import { ERROR_CATALOG } from '../src/core/errors.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

for (const [file, gen] of Object.entries(GENERATED)) {
  test(`${file} matches its source (run node scripts/gen-docs.ts after changing it)`, () => {
    assert.equal(readFileSync(`${root}${file}`, 'utf8'), gen());
  });
}

test('docs/errors.md lists every error code', () => {
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  for (const code of Object.keys(ERROR_CATALOG)) assert.match(doc, new RegExp(`\\| \`${code}\` \\|`));
});
