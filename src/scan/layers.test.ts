import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { readLayer, type ImageTally, type LayerEntry, type LayerSource } from './layers.ts';
import { DEFAULT_SCAN_LIMITS, ScanFailure, type ScanLimits } from './types.ts';

type TarEntry = Partial<Header> & { name: string; content?: string | Buffer };

async function tar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  for (const { content, ...header } of entries) p.entry(header, content ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A layer over `bytes`, served in chunks; `read` counts the bytes handed out, `destroyed` whether the stream was closed. */
function layer(bytes: Buffer, options: { mediaType?: string; chunkSize?: number; digest?: string } = {}) {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const state = { read: 0, destroyed: false };
  const source: LayerSource = {
    digest: options.digest ?? 'sha256:aaaa',
    ...(options.mediaType === undefined ? {} : { mediaType: options.mediaType }),
    async open() {
      let offset = 0;
      const stream = new Readable({
        read() {
          if (offset >= bytes.length) return void this.push(null);
          const chunk = bytes.subarray(offset, offset + chunkSize);
          offset += chunk.length;
          state.read += chunk.length;
          this.push(chunk);
        },
      });
      stream.once('close', () => (state.destroyed = true));
      return stream;
    },
  };
  return { source, state };
}

async function entriesOf(source: LayerSource, options: Parameters<typeof readLayer>[1] = {}): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const entry of readLayer(source, options)) out.push(entry);
  return out;
}

function limits(overrides: Partial<ScanLimits>): ScanLimits {
  return { ...DEFAULT_SCAN_LIMITS, ...overrides };
}

async function rejectsWith(promise: Promise<unknown>, reason: ScanFailure['reason'], message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ScanFailure, `expected a ScanFailure, got ${String(err)}`);
    assert.equal(err.reason, reason);
    assert.match(err.message, message);
    return true;
  });
}

const SAMPLE: TarEntry[] = [
  { name: './etc/', type: 'directory' },
  { name: './etc/wanted', content: 'wanted content' },
  { name: './etc/other', content: 'x'.repeat(5000) },
];
const wantsWanted = (f: { path: string }): boolean => f.path === 'etc/wanted';

test('the compression is read from the bytes, whatever the media type says', async () => {
  const plain = await tar(SAMPLE);
  const cases: [string, Buffer, string][] = [
    ['gzip', gzipSync(plain), 'application/vnd.oci.image.layer.v1.tar+zstd'],
    ['zstd', zstdCompressSync(plain), 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['none', plain, 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
  ];
  for (const [name, bytes, mediaType] of cases) {
    const entries = await entriesOf(layer(bytes, { mediaType, chunkSize: 100 }).source, { wants: wantsWanted });
    assert.deepEqual(
      entries.map((e) => [e.type, e.path]),
      [
        ['directory', 'etc'],
        ['file', 'etc/wanted'],
        ['file', 'etc/other'],
      ],
      name,
    );
    const [, wanted, other] = entries;
    assert.ok(wanted?.type === 'file' && other?.type === 'file');
    assert.equal(wanted.content?.toString(), 'wanted content', name);
    assert.deepEqual(wanted.file, { path: 'etc/wanted', size: 14, mode: 0o644, layerDigest: 'sha256:aaaa' });
    assert.equal(other.content, undefined, `${name}: unwanted files are drained, not buffered`);
    assert.equal(other.file.size, 5000);
  }
});

test('paths are normalised and entries escaping the root are skipped', async () => {
  const bytes = await tar([
    { name: './', type: 'directory' },
    { name: '/abs/file', content: 'a' },
    { name: './a/./b//c', content: 'b' },
    { name: 'x/../y', content: 'c' },
    { name: 'dir/', type: 'directory' },
    { name: '../etc/passwd', content: 'evil' },
    { name: 'a/../../escape', content: 'evil' },
    { name: './..', type: 'directory' },
  ]);
  const entries = await entriesOf(layer(bytes).source);
  assert.deepEqual(
    entries.map((e) => e.path),
    ['abs/file', 'a/b/c', 'y', 'dir'],
  );
});

test('links are recorded, never followed; hard links to outside the root are skipped', async () => {
  const bytes = await tar([
    { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    { name: 'bin/sh', type: 'symlink', linkname: '/usr/bin/busybox' },
    { name: 'escape', type: 'symlink', linkname: '../../../../etc/shadow' },
    { name: 'usr/bin/b', content: 'x' },
    { name: 'usr/bin/a', type: 'link', linkname: './usr/bin/b' },
    { name: 'usr/bin/evil', type: 'link', linkname: '../../etc/shadow' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
  ]);
  const entries = await entriesOf(layer(bytes).source);
  assert.deepEqual(entries, [
    { type: 'symlink', path: 'etc/os-release', target: '../usr/lib/os-release' },
    { type: 'symlink', path: 'bin/sh', target: '/usr/bin/busybox' },
    { type: 'symlink', path: 'escape', target: '../../../../etc/shadow' },
    { type: 'file', path: 'usr/bin/b', file: { path: 'usr/bin/b', size: 1, mode: 0o644, layerDigest: 'sha256:aaaa' } },
    { type: 'hardlink', path: 'usr/bin/a', target: 'usr/bin/b' },
    { type: 'other', path: 'dev/null' },
  ]);
});

test('whiteouts and opaque directories are recognised', async () => {
  const bytes = await tar([
    { name: '.wh.top' },
    { name: './usr/share/.wh.doc' },
    { name: 'var/cache/.wh..wh..opq' },
    { name: '.wh..wh..opq' },
    { name: 'x/.wh..wh.plnk', type: 'directory' },
    { name: 'x/.wh..' },
  ]);
  const entries = await entriesOf(layer(bytes).source);
  assert.deepEqual(entries, [
    { type: 'whiteout', path: 'top' },
    { type: 'whiteout', path: 'usr/share/doc' },
    { type: 'opaque', path: 'var/cache' },
    { type: 'opaque', path: '' },
  ]);
});

test('maxLayerBytes: a layer decompressing past it fails, naming the layer', async () => {
  const bytes = gzipSync(await tar(SAMPLE));
  await rejectsWith(entriesOf(layer(bytes, { digest: 'sha256:big' }).source, { limits: limits({ maxLayerBytes: 4096 }) }), 'limit', /sha256:big.*maxLayerBytes/);
  assert.equal((await entriesOf(layer(bytes).source, { limits: limits({ maxLayerBytes: 10_240 }) })).length, 3);
});

test('maxImageBytes and maxFiles count over all layers of the image', async () => {
  const bytes = await tar(SAMPLE); // 3 entries, 7,680 bytes
  const tally: ImageTally = { bytes: 0, entries: 0 };
  const bytesLimit = limits({ maxImageBytes: 12_000 });
  await entriesOf(layer(bytes).source, { limits: bytesLimit, tally });
  assert.equal(tally.bytes, bytes.length);
  await rejectsWith(entriesOf(layer(bytes, { digest: 'sha256:second' }).source, { limits: bytesLimit, tally }), 'limit', /maxImageBytes.*sha256:second/);

  const counted: ImageTally = { bytes: 0, entries: 0 };
  const filesLimit = limits({ maxFiles: 5 });
  await entriesOf(layer(bytes).source, { limits: filesLimit, tally: counted });
  assert.equal(counted.entries, 3);
  await rejectsWith(entriesOf(layer(bytes, { digest: 'sha256:more' }).source, { limits: filesLimit, tally: counted }), 'limit', /more than 5 entries.*sha256:more/);
});

test('maxPathLength applies to entry names and link targets', async () => {
  const long = `a/${'b'.repeat(300)}`; // written with a pax header
  await rejectsWith(entriesOf(layer(await tar([{ name: long, content: '' }])).source, { limits: limits({ maxPathLength: 200 }) }), 'limit', /302 characters.*maxPathLength/);
  await rejectsWith(
    entriesOf(layer(await tar([{ name: 'l', type: 'symlink', linkname: long }])).source, { limits: limits({ maxPathLength: 200 }) }),
    'limit',
    /maxPathLength/,
  );
  assert.equal((await entriesOf(layer(await tar([{ name: long, content: '' }])).source, { limits: limits({ maxPathLength: 302 }) })).length, 1);
});

test('maxFileBytes: a wanted file over it fails the scan, an unwanted one is drained', async () => {
  const bytes = await tar(SAMPLE);
  const small = limits({ maxFileBytes: 1000 });
  const entries = await entriesOf(layer(bytes).source, { limits: small, wants: wantsWanted });
  assert.equal(entries.length, 3); // etc/other is 5000 bytes but nobody wants it
  await rejectsWith(
    entriesOf(layer(bytes, { digest: 'sha256:f' }).source, { limits: small, wants: (f) => f.path === 'etc/other' }),
    'limit',
    /sha256:f: etc\/other is 5000 bytes.*maxFileBytes/,
  );
});

/** A tar header for a file of `size` bytes: a one-byte file's header with the size field and checksum rewritten. */
async function tarHeader(name: string, size: number): Promise<Buffer> {
  const header = Buffer.from((await tar([{ name, content: 'x' }])).subarray(0, 512));
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.fill(' ', 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}

test('a decompression bomb stops at the limit without reading the whole layer', async () => {
  // 1,024 gzip members of 1 MiB of zeros each: about 1 MB that inflates to 1 GiB.
  const member = gzipSync(Buffer.alloc(1024 * 1024));
  const bomb = Buffer.concat([gzipSync(await tarHeader('zeros', 1024 ** 3)), ...Array.from({ length: 1024 }, () => member)]);
  const maxLayerBytes = 1024 * 1024;
  // Drained as unwanted, and buffered as wanted (with a file limit above the layer limit).
  for (const [wants, maxFileBytes] of [[() => false, 1024], [() => true, 2 * 1024 ** 3]] as const) {
    const { source, state } = layer(bomb, { chunkSize: 1024 });
    const tally: ImageTally = { bytes: 0, entries: 0 };
    await rejectsWith(entriesOf(source, { limits: limits({ maxLayerBytes, maxFileBytes }), wants, tally }), 'limit', /maxLayerBytes/);
    assert.ok(tally.bytes <= maxLayerBytes + 64 * 1024, `inflated ${tally.bytes} bytes`);
    assert.ok(state.read < bomb.length / 4, `read ${state.read} of ${bomb.length} compressed bytes`);
    assert.ok(state.destroyed);
  }
});

test('corrupt or truncated layers fail as corrupt', async () => {
  const plain = await tar(SAMPLE);
  const gz = gzipSync(plain);
  const zst = zstdCompressSync(plain);
  const flipped = (b: Buffer, at: number): Buffer => {
    const copy = Buffer.from(b);
    for (let i = at; i < at + 8; i++) copy[i] = (copy[i] ?? 0) ^ 0x5a;
    return copy;
  };
  const cases: [string, Buffer, RegExp][] = [
    ['corrupt gzip', flipped(gz, 20), /gzip-compressed tar/],
    ['truncated gzip', gz.subarray(0, gz.length - 30), /gzip-compressed tar.*unexpected end/],
    ['corrupt zstd', flipped(zst, 12), /zstd-compressed tar/],
    ['truncated zstd', zst.subarray(0, zst.length - 10), /zstd-compressed tar/],
    ['truncated tar', plain.subarray(0, 700), /\(tar.*Unexpected end of data/],
    ['not a tar', Buffer.alloc(2048, 7), /\(tar.*Invalid tar header/],
  ];
  for (const [name, bytes, message] of cases) {
    await rejectsWith(entriesOf(layer(bytes, { digest: 'sha256:bad' }).source), 'corrupt', new RegExp(`sha256:bad.*${message.source}`));
    assert.ok(true, name);
  }
});

test('multi-frame zstd layers are read to the end, skippable frames ignored', async () => {
  const plain = await tar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, content: `file ${i} `.repeat(i * 50) })));
  const skippable = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
  const frames: Buffer[] = [skippable];
  for (let at = 0; at < plain.length; at += 1000) frames.push(zstdCompressSync(plain.subarray(at, at + 1000)));
  frames.push(skippable);
  const bytes = Buffer.concat(frames);
  for (const chunkSize of [1, 7, 4096, bytes.length]) {
    const entries = await entriesOf(layer(bytes, { chunkSize }).source, { wants: () => true });
    assert.equal(entries.length, 20, `chunks of ${chunkSize}`);
    const last = entries[19];
    assert.equal(last?.type === 'file' ? last.content?.toString() : undefined, 'file 19 '.repeat(950));
  }
  await rejectsWith(entriesOf(layer(Buffer.concat([bytes, Buffer.from('trailing garbage')])).source), 'corrupt', /zstd.*not a zstd frame/);
});

test('errors of the layer stream itself are passed through', async () => {
  const failure = new Error('storage read failed');
  const source: LayerSource = {
    digest: 'sha256:io',
    async open() {
      return new Readable({
        read() {
          this.destroy(failure);
        },
      });
    },
  };
  await assert.rejects(entriesOf(source), (err) => err === failure);
});

test('encrypted layers are unsupported', async () => {
  const { source } = layer(await tar(SAMPLE), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted' });
  await rejectsWith(entriesOf(source), 'unsupported', /encrypted/);
});

test('stopping early closes the layer stream', async () => {
  const { source, state } = layer(gzipSync(await tar(SAMPLE)), { chunkSize: 50 });
  for await (const entry of readLayer(source)) {
    assert.equal(entry.path, 'etc');
    break;
  }
  assert.ok(state.destroyed);
});

test("a failing wants callback is the caller's error, not a corrupt layer", async () => {
  const bug = new TypeError('extractor bug');
  await assert.rejects(
    entriesOf(layer(gzipSync(await tar(SAMPLE))).source, {
      wants: () => {
        throw bug;
      },
    }),
    (err) => err === bug,
  );
});
