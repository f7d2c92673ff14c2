import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import type { LayerSource } from '../layers.ts';
import { DEFAULT_SCAN_LIMITS, ScanFailure, type Package } from '../types.ts';
import { buildInventory } from './index.ts';
import { defaultOsExtractors, dpkgExtractor } from './os/index.ts';

type TarEntry = Partial<Header> & { name: string; content?: string };

async function tar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  for (const { content, ...header } of entries) p.entry(header, content ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Layers from tar entries, alternately gzip, zstd and plain; `opened` lists the digests in the order they were opened. */
async function image(...layers: TarEntry[][]): Promise<{ layers: LayerSource[]; opened: string[] }> {
  const opened: string[] = [];
  const compress = [gzipSync, zstdCompressSync, (b: Buffer) => b];
  const sources = await Promise.all(
    layers.map(async (entries, i) => {
      const bytes = (compress[i % 3] ?? gzipSync)(await tar(entries));
      const digest = `sha256:layer${i + 1}`;
      return {
        digest,
        async open() {
          opened.push(digest);
          return Readable.from([bytes]);
        },
      };
    }),
  );
  return { layers: sources, opened };
}

function status(...packages: [name: string, version: string, source?: string][]): string {
  return packages.map(([name, version, source]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n${source ? `Source: ${source}\n` : ''}`).join('\n');
}

const DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';
const PLATFORM = { os: 'linux', architecture: 'amd64' };
const STATUS = 'var/lib/dpkg/status';

function summary(packages: Package[]): string[] {
  return packages.map((p) => `${p.ecosystem} ${p.name} ${p.version} ${p.path} ${p.layerDigest}`);
}

test('a Debian image: os-release through the etc -> usr/lib symlink, release ecosystems and package URLs', async () => {
  const { layers } = await image([
    { name: './etc/', type: 'directory' },
    { name: './etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    { name: './usr/lib/os-release', content: DEBIAN_12 },
    { name: `./${STATUS}`, content: status(['zlib1g', '1:1.2.13.dfsg-1+b1', 'zlib (1:1.2.13.dfsg-1)'], ['bash', '5.2.15-2+b2', 'bash (5.2.15-2)']) },
  ]);
  const inventory = await buildInventory(layers, { ...PLATFORM, architecture: 'arm64', variant: 'v8' }, defaultOsExtractors());
  assert.deepEqual(inventory.os, { id: 'debian', versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
  assert.deepEqual(inventory.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(inventory.packages, [
    {
      name: 'bash',
      version: '5.2.15-2+b2',
      ecosystem: 'Debian:12',
      kind: 'os',
      sourceName: 'bash',
      sourceVersion: '5.2.15-2',
      layerDigest: 'sha256:layer1',
      path: STATUS,
      purl: 'pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12',
      arch: 'amd64',
    },
    {
      name: 'zlib1g',
      version: '1:1.2.13.dfsg-1+b1',
      ecosystem: 'Debian:12',
      kind: 'os',
      sourceName: 'zlib',
      sourceVersion: '1:1.2.13.dfsg-1',
      layerDigest: 'sha256:layer1',
      path: STATUS,
      purl: 'pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1%2Bb1?arch=amd64&distro=debian-12',
      arch: 'amd64',
    },
  ]);
});

test('Ubuntu and Alpine releases name the ecosystem and purl namespace', async () => {
  const ubuntu = await image([
    { name: 'etc/os-release', content: 'ID=ubuntu\nVERSION_ID="22.04"\n' },
    { name: STATUS, content: status(['libc6', '2.35-0ubuntu3.6', 'glibc']) },
  ]);
  const [libc] = (await buildInventory(ubuntu.layers, PLATFORM, defaultOsExtractors())).packages;
  assert.equal(libc?.ecosystem, 'Ubuntu:22.04');
  assert.equal(libc?.purl, 'pkg:deb/ubuntu/libc6@2.35-0ubuntu3.6?arch=amd64&distro=ubuntu-22.04');

  const alpine = await image([
    { name: 'etc/os-release', content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n' },
    { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n' },
  ]);
  const [musl] = (await buildInventory(alpine.layers, PLATFORM, defaultOsExtractors())).packages;
  assert.equal(musl?.ecosystem, 'Alpine:v3.19');
  assert.equal(musl?.purl, 'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1');
});

test('without os-release the extractor family stays and os is absent', async () => {
  const { layers } = await image([{ name: STATUS, content: status(['bash', '5.2.15-2']) }]);
  const inventory = await buildInventory(layers, PLATFORM, defaultOsExtractors());
  assert.equal(inventory.os, undefined);
  assert.deepEqual(inventory.platform, PLATFORM);
  assert.deepEqual(
    inventory.packages.map((p) => [p.ecosystem, p.purl]),
    [['Debian', 'pkg:deb/debian/bash@5.2.15-2?arch=amd64']],
  );
});

test('layers are opened once each, in order; a later layer replaces a path, whatever it puts there', async () => {
  const { layers, opened } = await image(
    [
      { name: STATUS, content: status(['a', '1']) },
      { name: 'etc/os-release', content: DEBIAN_12 },
    ],
    [{ name: 'unrelated', content: 'x' }],
    [{ name: STATUS, content: status(['a', '2'], ['b', '1']) }],
  );
  async function* iterate(): AsyncGenerator<LayerSource> {
    yield* layers;
  }
  const inventory = await buildInventory(iterate(), PLATFORM, defaultOsExtractors());
  assert.deepEqual(opened, ['sha256:layer1', 'sha256:layer2', 'sha256:layer3']);
  assert.deepEqual(summary(inventory.packages), [`Debian:12 a 2 ${STATUS} sha256:layer3`, `Debian:12 b 1 ${STATUS} sha256:layer3`]);

  for (const replacement of [
    { name: STATUS, content: 'not a status file' },
    { name: STATUS, type: 'symlink' as const, linkname: '/dev/null' },
    { name: STATUS, type: 'directory' as const },
  ]) {
    const again = await image([{ name: STATUS, content: status(['a', '1']) }], [replacement]);
    assert.deepEqual((await buildInventory(again.layers, PLATFORM, defaultOsExtractors())).packages, [], replacement.type ?? 'file');
  }
});

test('whiteouts remove a file or a whole directory of lower layers', async () => {
  const lower = [
    { name: STATUS, content: status(['a', '1']) },
    { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.4-r4\n' },
  ];
  const file = await image(lower, [{ name: 'var/lib/dpkg/.wh.status' }]);
  assert.deepEqual(
    (await buildInventory(file.layers, PLATFORM, defaultOsExtractors())).packages.map((p) => p.name),
    ['musl'],
  );
  const dir = await image(lower, [{ name: 'lib/.wh.apk' }]);
  assert.deepEqual(
    (await buildInventory(dir.layers, PLATFORM, defaultOsExtractors())).packages.map((p) => p.name),
    ['a'],
  );
  const root = await image(lower, [{ name: '.wh..wh..opq' }, { name: 'lib/apk/db/installed', content: 'P:busybox\nV:1.36.1-r15\n' }]);
  assert.deepEqual(
    (await buildInventory(root.layers, PLATFORM, defaultOsExtractors())).packages.map((p) => p.name),
    ['busybox'],
  );
  // A whiteout acts on lower layers only: a file its own layer adds back stays.
  const readded = await image(lower, [{ name: 'var/lib/dpkg/.wh.status' }, { name: STATUS, content: status(['c', '1']) }], [{ name: 'other', content: '' }]);
  assert.deepEqual(
    (await buildInventory(readded.layers, PLATFORM, defaultOsExtractors())).packages.map((p) => p.name),
    ['musl', 'c'], // Alpine sorts before Debian
  );
});

test('an opaque directory hides what lower layers put in it, not what its own layer adds', async () => {
  const { layers } = await image(
    [
      { name: 'var/lib/dpkg/status.d/libc6', content: 'Package: libc6\nVersion: 2.36-9\nSource: glibc\n' },
      { name: 'var/lib/dpkg/status.d/zlib1g', content: 'Package: zlib1g\nVersion: 1:1.2.13-1\nSource: zlib\n' },
      { name: 'var/lib/dpkg/statusX', content: status(['unrelated', '1']) },
    ],
    [
      { name: 'var/lib/dpkg/status.d/openssl', content: 'Package: libssl3\nVersion: 3.0.11-1\nSource: openssl\n' },
      { name: 'var/lib/dpkg/status.d/.wh..wh..opq' },
    ],
  );
  const inventory = await buildInventory(layers, PLATFORM, defaultOsExtractors());
  assert.deepEqual(
    inventory.packages.map((p) => p.name),
    ['libssl3'],
  );
});

test('distroless: one stanza per status.d file, md5sums skipped, os-release a plain file', async () => {
  const { layers } = await image(
    [
      { name: 'etc/os-release', content: 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\nVERSION="Debian GNU/Linux 12 (bookworm)"\n' },
      { name: 'var/lib/dpkg/status.d/base-files', content: 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n' },
      { name: 'var/lib/dpkg/status.d/libc6', content: 'Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n' },
      { name: 'var/lib/dpkg/status.d/libc6.md5sums', content: 'Package: not-a-package\nVersion: 1\n' },
    ],
    [{ name: 'app/main', content: 'binary' }],
  );
  const inventory = await buildInventory(layers, PLATFORM, defaultOsExtractors());
  assert.equal(inventory.os?.prettyName, 'Distroless');
  assert.deepEqual(
    inventory.packages.map((p) => [p.ecosystem, p.name, p.sourceName, p.path]),
    [
      ['Debian:12', 'base-files', 'base-files', 'var/lib/dpkg/status.d/base-files'],
      ['Debian:12', 'libc6', 'glibc', 'var/lib/dpkg/status.d/libc6'],
    ],
  );
});

test('a hard link to a wanted file gets its results when the link is wanted too', async () => {
  const { layers } = await image([
    { name: 'var/lib/dpkg/status.d/libc6', content: 'Package: libc6\nVersion: 2.36-9\n' },
    { name: 'var/lib/dpkg/status.d/copy', type: 'link', linkname: 'var/lib/dpkg/status.d/libc6' },
    { name: 'var/lib/dpkg/status-old', type: 'link', linkname: 'var/lib/dpkg/status.d/libc6' },
  ]);
  const inventory = await buildInventory(layers, PLATFORM, defaultOsExtractors());
  assert.deepEqual(summary(inventory.packages), [
    'Debian libc6 2.36-9 var/lib/dpkg/status.d/copy sha256:layer1',
    'Debian libc6 2.36-9 var/lib/dpkg/status.d/libc6 sha256:layer1',
  ]);
});

test('packages are de-duplicated by ecosystem, name, version and path, and sorted', async () => {
  const { layers } = await image([
    { name: STATUS, content: status(['zz', '1'], ['aa', '2'], ['aa', '1'], ['aa', '1']) },
    { name: 'var/lib/dpkg/status.d/aa', content: 'Package: aa\nVersion: 1\n' },
  ]);
  const inventory = await buildInventory(layers, PLATFORM, [dpkgExtractor, dpkgExtractor]);
  assert.deepEqual(
    inventory.packages.map((p) => `${p.name} ${p.version} ${p.path}`),
    [`aa 1 ${STATUS}`, 'aa 1 var/lib/dpkg/status.d/aa', `aa 2 ${STATUS}`, `zz 1 ${STATUS}`],
  );
});

test('limits and corrupt layers fail the inventory', async () => {
  const { layers } = await image([{ name: STATUS, content: status(['a', '1']) }], [{ name: 'b', content: 'b' }, { name: 'c', content: 'c' }]);
  await assert.rejects(buildInventory(layers, PLATFORM, defaultOsExtractors(), { ...DEFAULT_SCAN_LIMITS, maxFiles: 2 }), (err) => {
    assert.ok(err instanceof ScanFailure);
    assert.equal(err.reason, 'limit');
    assert.match(err.message, /sha256:layer2/);
    return true;
  });
  await assert.rejects(buildInventory(layers, PLATFORM, defaultOsExtractors(), { ...DEFAULT_SCAN_LIMITS, maxFileBytes: 10 }), /maxFileBytes/);
  const corrupt: LayerSource = { digest: 'sha256:bad', open: async () => Readable.from([Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3])]) };
  await assert.rejects(buildInventory([corrupt], PLATFORM, defaultOsExtractors()), (err) => err instanceof ScanFailure && err.reason === 'corrupt');
});

test('a directory entry merges with the lower directory; a non-directory replaces it with its contents', async () => {
  const lower = [{ name: 'var/lib/dpkg/status.d/libc6', content: 'Package: libc6\nVersion: 2.36-9\n' }];
  const merged = await image(lower, [{ name: 'var/lib/dpkg/', type: 'directory' }, { name: 'var/lib/dpkg/status.d/', type: 'directory' }]);
  assert.deepEqual(
    (await buildInventory(merged.layers, PLATFORM, defaultOsExtractors())).packages.map((p) => p.name),
    ['libc6'],
  );
  const replaced = await image(lower, [{ name: 'var/lib/dpkg', type: 'symlink', linkname: '/elsewhere' }]);
  assert.deepEqual((await buildInventory(replaced.layers, PLATFORM, defaultOsExtractors())).packages, []);
});
