import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureFixture, SkipError } from '../../../test/fixtures/build.ts';
import type { LayerSource } from '../layers.ts';
import { buildInventory } from './index.ts';
import { defaultOsExtractors } from './os/index.ts';

interface Descriptor {
  mediaType: string;
  digest: string;
}

function blob(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

async function json<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

test('the debootstrap bookworm fixture: Debian:12 and its dpkg packages with source names', async (t) => {
  let layout: string;
  let manifestDigest: string;
  try {
    ({ layout, manifestDigest } = await ensureFixture('debian'));
  } catch (err) {
    if (err instanceof SkipError) return t.skip(err.message);
    throw err;
  }
  const manifest = await json<{ config: Descriptor; layers: Descriptor[] }>(blob(layout, manifestDigest));
  const config = await json<{ os: string; architecture: string; variant?: string }>(blob(layout, manifest.config.digest));
  const layers: LayerSource[] = manifest.layers.map((d) => ({
    digest: d.digest,
    mediaType: d.mediaType,
    open: async () => createReadStream(blob(layout, d.digest)),
  }));

  const inventory = await buildInventory(layers, config, defaultOsExtractors());

  assert.equal(inventory.os?.id, 'debian');
  assert.equal(inventory.os?.versionId, '12');
  assert.equal(inventory.platform.os, 'linux');
  assert.ok(inventory.packages.length >= 50 && inventory.packages.length <= 400, `${inventory.packages.length} packages`);
  for (const pkg of inventory.packages) {
    assert.equal(pkg.ecosystem, 'Debian:12');
    assert.equal(pkg.kind, 'os');
    assert.equal(pkg.path, 'var/lib/dpkg/status');
    assert.equal(pkg.layerDigest, manifest.layers[0]?.digest);
    assert.match(pkg.purl ?? '', new RegExp(`^pkg:deb/debian/${pkg.name.replaceAll('+', '%2B')}@.*distro=debian-12`));
  }
  const byName = new Map(inventory.packages.map((p) => [p.name, p]));
  const sources: [string, string][] = [
    ['libc6', 'glibc'],
    ['libc-bin', 'glibc'],
    ['bash', 'bash'],
    ['coreutils', 'coreutils'],
    ['libgnutls30', 'gnutls28'],
    ['bsdutils', 'util-linux'],
    ['zlib1g', 'zlib'],
    ['dpkg', 'dpkg'],
  ];
  for (const [name, source] of sources) {
    const pkg = byName.get(name);
    assert.ok(pkg !== undefined, `${name} is installed`);
    assert.equal(pkg.sourceName, source, name);
    assert.match(pkg.version, /^[0-9]/);
  }
  // Debian binNMUs (`+bN`) carry the source version their binary was built from.
  for (const pkg of inventory.packages.filter((p) => /\+b\d+$/.test(p.version))) {
    assert.equal(pkg.sourceVersion, pkg.version.replace(/\+b\d+$/, ''), pkg.name);
  }
});
