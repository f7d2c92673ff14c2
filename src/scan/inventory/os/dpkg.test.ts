import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS, type FileEntry } from '../../types.ts';
import { dpkgExtractor } from './dpkg.ts';

function entry(path: string): FileEntry {
  return { path, size: 0, mode: 0o644, layerDigest: 'sha256:l1' };
}

async function extract(path: string, text: string) {
  return await dpkgExtractor.extract(entry(path), Buffer.from(text), DEFAULT_SCAN_LIMITS);
}

test('wants the status file and status.d stanzas, not md5sums or nested files', () => {
  const wanted = ['var/lib/dpkg/status', 'var/lib/dpkg/status.d/libc6', 'var/lib/dpkg/status.d/base'];
  const unwanted = ['var/lib/dpkg/status-old', 'var/lib/dpkg/status.d/libc6.md5sums', 'var/lib/dpkg/status.d/', 'var/lib/dpkg/status.d/a/b', 'x/var/lib/dpkg/status'];
  for (const p of wanted) assert.equal(dpkgExtractor.wants(entry(p)), true, p);
  for (const p of unwanted) assert.equal(dpkgExtractor.wants(entry(p)), false, p);
});

const STATUS = `Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
 .
 Source: not-a-field (9.9)

Package: libcap2
Status: hold ok installed
Architecture: amd64
Source: libcap2 (1:2.66-4)
Version: 1:2.66-4

Package: rc-only
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: half
Status: install reinstreq half-installed
Version: 1.0-1

Package: zlib1g
status: install ok installed
ARCHITECTURE: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1

Package: mawk
Status: install ok installed
Architecture: amd64
Version: 1.3.4.20200120-3.1
`;

test('reads installed stanzas with source names, source versions and binNMUs', async () => {
  const packages = await extract('var/lib/dpkg/status', STATUS);
  assert.deepEqual(packages, [
    {
      name: 'libc6',
      version: '2.36-9+deb12u4',
      ecosystem: 'Debian',
      kind: 'os',
      sourceName: 'glibc',
      layerDigest: 'sha256:l1',
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64',
      arch: 'amd64',
    },
    {
      name: 'libcap2',
      version: '1:2.66-4',
      ecosystem: 'Debian',
      kind: 'os',
      sourceName: 'libcap2',
      layerDigest: 'sha256:l1',
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/libcap2@1:2.66-4?arch=amd64',
      arch: 'amd64',
    },
    {
      name: 'zlib1g',
      version: '1:1.2.13.dfsg-1+b1',
      ecosystem: 'Debian',
      kind: 'os',
      sourceName: 'zlib',
      sourceVersion: '1:1.2.13.dfsg-1',
      layerDigest: 'sha256:l1',
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1%2Bb1?arch=amd64',
      arch: 'amd64',
    },
    {
      name: 'mawk',
      version: '1.3.4.20200120-3.1',
      ecosystem: 'Debian',
      kind: 'os',
      sourceName: 'mawk',
      layerDigest: 'sha256:l1',
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/mawk@1.3.4.20200120-3.1?arch=amd64',
      arch: 'amd64',
    },
  ]);
});

test('distroless status.d files have no Status field and are accepted', async () => {
  const packages = await extract('var/lib/dpkg/status.d/libssl3', 'Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: arm64\nSource: openssl\n');
  assert.deepEqual(
    packages.map((p) => [p.name, p.version, p.sourceName, p.arch, p.path]),
    [['libssl3', '3.0.11-1~deb12u2', 'openssl', 'arm64', 'var/lib/dpkg/status.d/libssl3']],
  );
});

test('malformed stanzas are skipped, never thrown', async () => {
  const text = [
    'Version: 1.0\nStatus: install ok installed', // no Package
    'Package: noversion\nStatus: install ok installed',
    'Package: has space\nVersion: 1.0',
    'Package: ok\nVersion: 1 0',
    `Package: ${'x'.repeat(300)}\nVersion: 1`,
    'garbage without colon\n:\n: value',
    'Package: good\r\nVersion: 2.0\r\nSource: (broken\r\n',
    '\u0000\u0001\u0002',
  ].join('\n\n');
  const packages = await extract('var/lib/dpkg/status', text);
  assert.deepEqual(
    packages.map((p) => [p.name, p.version, p.sourceName]),
    [['good', '2.0', 'good']],
  );
  assert.deepEqual(await extract('var/lib/dpkg/status', ''), []);
  assert.deepEqual(await dpkgExtractor.extract(entry('var/lib/dpkg/status'), Buffer.from([0xff, 0xfe, 0x00, 0x0a]), DEFAULT_SCAN_LIMITS), []);
});
