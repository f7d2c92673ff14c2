// Every pair of the version-order vectors in the shared corpus (versions/README.md: `<a> <op> <b>`)
// must hold for the ecosystem's comparator, both ways round.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VULNDATA, vulndataMissing } from '../../../test/helpers/vulndata.ts';
import { comparatorFor } from './index.ts';

const FILES: [file: string, ecosystems: string[]][] = [
  ['debian-versions.txt', ['Debian:12', 'Ubuntu:22.04']],
  ['debian-versions-generated.txt', ['Debian:12']],
  ['alpine-versions.txt', ['Alpine:v3.19']],
  ['alpine-versions-generated.txt', ['Alpine:v3.19']],
  ['redhat-versions.txt', ['Red Hat', 'AlmaLinux:9', 'Rocky Linux:9']],
  ['semver-versions.txt', ['npm', 'crates.io', 'Go']],
  ['pypi-versions.txt', ['PyPI']],
  ['pypi-versions-generated.txt', ['PyPI']],
  ['maven-versions.txt', ['Maven']],
  ['maven-versions-generated.txt', ['Maven']],
  ['rubygems-versions.txt', ['RubyGems']],
  ['rubygems-versions-generated.txt', ['RubyGems']],
];

function pairs(file: string): [a: string, op: string, b: string][] {
  return readFileSync(join(VULNDATA, 'versions', file), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('# ') && !line.startsWith('// '))
    .map((line) => {
      const parts = line.split(' ');
      assert.ok(parts.length === 3 && ['<', '=', '>'].includes(parts[1]!), `malformed vector line: ${line}`);
      return parts as [string, string, string];
    });
}


for (const [file, ecosystems] of FILES) {
  for (const ecosystem of ecosystems) {
    test(`${file} holds for ${ecosystem}`, { skip: vulndataMissing() }, (t) => {
      const { compare } = comparatorFor(ecosystem)!;
      const vectors = pairs(file);
      const failures = vectors.filter(([a, op, b]) => {
        const sign = op === '<' ? -1 : op === '>' ? 1 : 0;
        return Math.sign(compare(a, b)) !== sign || Math.sign(compare(b, a)) !== -sign;
      });
      t.diagnostic(`${file} (${ecosystem}): ${vectors.length - failures.length} of ${vectors.length} pairs hold`);
      assert.ok(vectors.length > 0);
      assert.deepEqual(failures, []);
    });
  }
}
