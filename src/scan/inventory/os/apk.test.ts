import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS, type FileEntry } from '../../types.ts';
import { apkExtractor } from './apk.ts';

const ENTRY: FileEntry = { path: 'lib/apk/db/installed', size: 0, mode: 0o644, layerDigest: 'sha256:l1' };

const INSTALLED = `C:Q1Z3Kt5q2n8yU1a8Cw8p2C3xG1Hkw=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407447
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1705857016
c:9e2b14b1b3d9d5e4c2a0e9d0d0a8c3fd3a4ac2a1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1yG7S5MJHNaP1ZB8x9h5Cgc5Hrzk=
R:libc.musl-x86_64.so.1

P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
F:usr/lib
R:libcrypto.so.3

P:no-origin
V:1.0-r0

V:2.0-r0
A:x86_64

P:broken version
V:1.0-r0
`;

test('reads name, version, origin, arch and license per stanza; malformed ones are skipped', async () => {
  assert.equal(apkExtractor.wants(ENTRY), true);
  assert.equal(apkExtractor.wants({ ...ENTRY, path: 'lib/apk/db/installed.old' }), false);
  const packages = await apkExtractor.extract(ENTRY, Buffer.from(INSTALLED), DEFAULT_SCAN_LIMITS);
  assert.deepEqual(packages, [
    {
      name: 'musl',
      version: '1.2.4_git20230717-r4',
      ecosystem: 'Alpine',
      kind: 'os',
      sourceName: 'musl',
      layerDigest: 'sha256:l1',
      path: 'lib/apk/db/installed',
      purl: 'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64',
      arch: 'x86_64',
      licenses: ['MIT'],
    },
    {
      name: 'libcrypto3',
      version: '3.1.4-r5',
      ecosystem: 'Alpine',
      kind: 'os',
      sourceName: 'openssl',
      layerDigest: 'sha256:l1',
      path: 'lib/apk/db/installed',
      purl: 'pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64',
      arch: 'x86_64',
      licenses: ['Apache-2.0'],
    },
    {
      name: 'no-origin',
      version: '1.0-r0',
      ecosystem: 'Alpine',
      kind: 'os',
      sourceName: 'no-origin',
      layerDigest: 'sha256:l1',
      path: 'lib/apk/db/installed',
      purl: 'pkg:apk/alpine/no-origin@1.0-r0',
    },
  ]);
  assert.deepEqual(await apkExtractor.extract(ENTRY, Buffer.from('\n\n\u0000garbage:\n'), DEFAULT_SCAN_LIMITS), []);
});
