import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS } from '../../types.ts';
import { extractFile, fileEntry, ids, LAYER } from './entry.fixture.ts';
import { findBuildInfo, goBinaryExtractor, stdlibVersion } from './go.ts';

const extractor = goBinaryExtractor(DEFAULT_SCAN_LIMITS.maxFileBytes);
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

function uvarint(value: number): Buffer {
  const bytes: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 0x80)) bytes.push((value % 0x80) | 0x80);
  bytes.push(value);
  return Buffer.from(bytes);
}

/** The .go.buildinfo blob of a Go 1.18+ binary: header, then the version and the sentinel-framed module text. */
function buildInfoBlob(goVersion: string, modinfo: string, flags = 2): Buffer {
  const header = Buffer.alloc(32);
  MAGIC.copy(header);
  header[14] = 8; // pointer size
  header[15] = flags;
  const framed = Buffer.concat([Buffer.alloc(16, 0x30), Buffer.from(modinfo), Buffer.alloc(16, 0xf9)]);
  const version = Buffer.from(goVersion);
  return Buffer.concat([header, uvarint(version.length), version, uvarint(framed.length), framed]);
}

/** A stand-in executable: ELF magic, filler, then `blobs` each at a 16-byte aligned offset, then more filler. */
function binary(...blobs: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(64 * 1024 - 7, 0x90)];
  for (const blob of blobs) {
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    parts.push(Buffer.alloc((16 - (length % 16)) % 16), blob);
  }
  parts.push(Buffer.alloc(4096, 0xcc));
  return Buffer.concat(parts);
}

const modinfo = [
  'path\tgithub.com/acme/tool/cmd/tool',
  'mod\tgithub.com/acme/tool\tv1.4.0\th1:abc=',
  'dep\tgithub.com/spf13/cobra\tv1.8.0\th1:7aJaZx1B85qltLMc546zn58BxxfZdR/W22ej9CFoEf0=',
  'dep\tgolang.org/x/net\tv0.17.0\th1:pVaXccu2rh2k0Cg3CkAIdTUr4=',
  '=>\tgolang.org/x/net\tv0.19.0\th1:zTwKpTd2XuCqf8huc7=',
  'dep\tgithub.com/Azure/go-autorest\tv14.2.0+incompatible\th1:V5VMDjClD3GiElqLWO7mz2MxNAK/vTfRHdAubSIPRgs=',
  'dep\tgithub.com/acme/internal\tv0.0.0-00010101000000-000000000000\t',
  '=>\t../internal\t\t',
  'dep\tgopkg.in/yaml.v3\tv3.0.1\th1:fxVm/GzAzEWqLHuvctI91KS9hhNmmWOoWu0XTYJS7CA=',
  'build\t-buildmode=exe',
  'build\t-compiler=gc',
  'build\tCGO_ENABLED=0',
  'build\tvcs.revision=0123456789abcdef',
  '',
].join('\n');

test('a Go 1.18+ binary: main module, dependencies, replacements and the toolchain as stdlib', async () => {
  const path = 'usr/local/bin/tool';
  const packages = await extractFile(extractor, path, binary(buildInfoBlob('go1.21.4 X:boringcrypto', modinfo)), { mode: 0o755 });
  assert.deepEqual(ids(packages), [
    'github.com/Azure/go-autorest@14.2.0+incompatible',
    'github.com/acme/tool@1.4.0',
    'github.com/spf13/cobra@1.8.0',
    'golang.org/x/net@0.19.0',
    'gopkg.in/yaml.v3@3.0.1',
    'stdlib@1.21.4',
  ]);
  assert.deepEqual(
    packages.find((p) => p.name === 'stdlib'),
    { name: 'stdlib', version: '1.21.4', ecosystem: 'Go', kind: 'lang', layerDigest: LAYER, path, purl: 'pkg:golang/stdlib@1.21.4' },
  );
  const purls = Object.fromEntries(packages.map((p) => [p.name, p.purl]));
  assert.equal(purls['github.com/spf13/cobra'], 'pkg:golang/github.com/spf13/cobra@v1.8.0');
  assert.equal(purls['github.com/Azure/go-autorest'], 'pkg:golang/github.com/azure/go-autorest@v14.2.0%2Bincompatible');
  assert.equal(purls['gopkg.in/yaml.v3'], 'pkg:golang/gopkg.in/yaml.v3@v3.0.1');
});

test('a (devel) main module is left out', async () => {
  const info = 'path\texample.com/x\nmod\texample.com/x\t(devel)\t\ndep\texample.com/y\tv1.0.0\th1:x=\n';
  assert.deepEqual(ids(await extractFile(extractor, 'x', binary(buildInfoBlob('go1.22.0', info)), { mode: 0o755 })), ['example.com/y@1.0.0', 'stdlib@1.22.0']);
});

test('the Go version as osv.dev names stdlib versions', () => {
  assert.equal(stdlibVersion('go1.21.4'), '1.21.4');
  assert.equal(stdlibVersion('go1.20'), '1.20.0');
  assert.equal(stdlibVersion('go1.22rc1'), '1.22.0-rc.1');
  assert.equal(stdlibVersion('go1.18beta2'), '1.18.0-beta.2');
  assert.equal(stdlibVersion('go1.21.4 X:boringcrypto'), '1.21.4');
  assert.equal(stdlibVersion('devel go1.22-a813be86df Mon Jan 1'), undefined);
  assert.equal(stdlibVersion('gopher'), undefined);
});

test('only a 16-byte aligned magic with a valid header counts; decoys are passed over', () => {
  const unaligned = Buffer.concat([Buffer.alloc(3), buildInfoBlob('go1.9.9', 'mod\tdecoy\tv1.0.0\t\n')]);
  const notGo = buildInfoBlob('python3', 'dep\tdecoy\tv1.0.0\t\n');
  const real = buildInfoBlob('go1.21.0', modinfo);
  const info = findBuildInfo(binary(unaligned, notGo, real));
  assert.equal(info?.goVersion, 'go1.21.0');
  assert.ok(info?.modinfo.startsWith('path\tgithub.com/acme/tool/cmd/tool\n'));
});

test('the pre-1.18 pointer format, truncation and garbage give no packages', async () => {
  const read = (content: Buffer) => extractFile(extractor, 'bin/x', content, { mode: 0o755 });
  assert.deepEqual(await read(binary(buildInfoBlob('go1.17', modinfo, 0))), [], 'pointer format');
  const whole = binary(buildInfoBlob('go1.21.4', modinfo));
  const blobAt = whole.indexOf(MAGIC);
  assert.deepEqual(await read(whole.subarray(0, blobAt + 60)), [], 'modinfo cut off');
  assert.deepEqual(await read(whole.subarray(0, blobAt + 20)), [], 'header cut off');
  const hugeLength = Buffer.concat([whole.subarray(0, blobAt + 32), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])]);
  assert.deepEqual(await read(hugeLength), [], 'a varint past the end');
  assert.deepEqual(await read(Buffer.alloc(70_000, 0xff)), []);
});

test('executables of a plausible size are wanted', () => {
  const small = goBinaryExtractor(1024 * 1024);
  const entry = (size: number, mode: number) => ({ ...fileEntry('usr/bin/x'), size, mode });
  assert.ok(small.wants(entry(500_000, 0o755)));
  assert.ok(small.wants(entry(500_000, 0o700)));
  assert.ok(!small.wants(entry(500_000, 0o644)), 'not executable');
  assert.ok(!small.wants(entry(1000, 0o755)), 'too small for a Go program');
  assert.ok(!small.wants(entry(2 * 1024 * 1024, 0o755)), 'bigger than the reader may read');
});

const skopeo = '/usr/bin/skopeo';
test('a real Go program on this machine: /usr/bin/skopeo', { skip: existsSync(skopeo) ? false : `${skopeo} is not installed` }, async () => {
  // Debian builds skopeo in GOPATH mode: its build information has a `path` line but no modules.
  const content = readFileSync(skopeo);
  const packages = await extractor.extract(fileEntry(skopeo.slice(1), content, 0o755), content, DEFAULT_SCAN_LIMITS);
  const stdlib = packages.find((p) => p.name === 'stdlib');
  assert.match(stdlib?.version ?? '', /^1\.\d+\.\d+$/);
  assert.match(findBuildInfo(content)?.modinfo ?? '', /^path\tgithub\.com\/containers\/skopeo\/cmd\/skopeo$/m);
});
