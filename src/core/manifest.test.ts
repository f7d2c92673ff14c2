import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from './errors.ts';
import { digestOf } from './digest.ts';
import { MAX_MANIFEST_BYTES, parseDescriptor, parseManifest, type Descriptor } from './manifest.ts';
import { MT } from './media-types.ts';

const CONFIG_DATA = Buffer.from('{"architecture":"amd64","os":"linux"}');
const LAYER_DATA = Buffer.from('layer bytes');
const config: Descriptor = { mediaType: MT.ociConfig, digest: digestOf(CONFIG_DATA), size: CONFIG_DATA.length };
const layer: Descriptor = { mediaType: MT.ociLayerGzip, digest: digestOf(LAYER_DATA), size: LAYER_DATA.length };
const child: Descriptor = { mediaType: MT.ociManifest, digest: digestOf('child'), size: 5 };

/** parseDescriptor on any value (it validates JSON of unknown shape). */
function pd(v: unknown): Descriptor {
  return parseDescriptor(v as Parameters<typeof parseDescriptor>[0], 'd');
}

function body(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc));
}

function image(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MT.ociManifest, config, layers: [layer], ...extra };
}

function index(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [child], ...extra };
}

function invalid(message: RegExp, code: 'ManifestInvalid' | 'ManifestTooLarge' = 'ManifestInvalid'): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, `a RegistryError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.ociCode, 'MANIFEST_INVALID');
    assert.equal(e.status, code === 'ManifestTooLarge' ? 413 : 400);
    assert.match(e.message, message);
    return true;
  };
}

function refuses(doc: unknown, contentType: string | undefined, message: RegExp): void {
  const b = Buffer.isBuffer(doc) ? doc : typeof doc === 'string' ? Buffer.from(doc) : body(doc);
  assert.throws(() => parseManifest(b, contentType), invalid(message));
}

/** A valid image manifest padded with an annotation to exactly `size` bytes. */
function padded(size: number): Buffer {
  const empty = body(image({ annotations: { pad: '' } })).length;
  const b = body(image({ annotations: { pad: 'x'.repeat(size - empty) } }));
  assert.equal(b.length, size);
  return b;
}

describe('parseManifest: size, JSON and shape', () => {
  test('more than 4 MiB: ManifestTooLarge (413), exactly 4 MiB parses', () => {
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
    assert.throws(() => parseManifest(padded(MAX_MANIFEST_BYTES + 1), MT.ociManifest), invalid(/^manifest is 4194305 bytes; the limit is 4194304 bytes$/, 'ManifestTooLarge'));
    assert.equal(parseManifest(padded(MAX_MANIFEST_BYTES), MT.ociManifest).size, MAX_MANIFEST_BYTES);
  });

  test('not JSON: "not valid JSON" with the parser message', () => {
    refuses('{', MT.ociManifest, /^manifest is not valid JSON: /);
    refuses('', MT.ociManifest, /^manifest is not valid JSON/);
    refuses('{"a":1}{', MT.ociManifest, /not valid JSON/);
  });

  test('JSON that is not an object', () => {
    for (const doc of ['[]', '1', '"x"', 'null', 'true']) refuses(doc, MT.ociManifest, /^manifest must be a JSON object$/);
  });

  test('a mediaType that is not a media type string', () => {
    refuses(image({ mediaType: 1 }), undefined, /^manifest mediaType must be a media type string$/);
    refuses(image({ mediaType: 'nonsense' }), undefined, /^manifest mediaType must be a media type string$/);
    refuses(image({ mediaType: null }), undefined, /^manifest mediaType must be a media type string$/);
  });
});

describe('parseManifest: Content-Type and mediaType', () => {
  test('a Content-Type contradicting the body mediaType is refused, naming both', () => {
    refuses(image(), MT.ociIndex, /^Content-Type "application\/vnd\.oci\.image\.index\.v1\+json" does not match the manifest's mediaType "application\/vnd\.oci\.image\.manifest\.v1\+json"$/);
    refuses(image(), `${MT.dockerManifest}; charset=utf-8`, /Content-Type "application\/vnd\.docker\.distribution\.manifest\.v2\+json" does not match/);
  });

  test('a generic Content-Type, parameters and case do not contradict', () => {
    for (const ct of ['application/octet-stream', 'application/json', `${MT.ociManifest}; charset=utf-8`, MT.ociManifest.toUpperCase(), undefined, '']) {
      const m = parseManifest(body(image()), ct);
      assert.equal(m.mediaType, MT.ociManifest, String(ct));
    }
  });

  test('without a mediaType the Content-Type decides; without either, an index is recognised by "manifests"', () => {
    const docker = { schemaVersion: 2, config: { ...config, mediaType: MT.dockerConfig }, layers: [{ ...layer, mediaType: MT.dockerLayer }] };
    assert.equal(parseManifest(body(docker), MT.dockerManifest).mediaType, MT.dockerManifest);
    assert.equal(parseManifest(body(docker), MT.dockerManifest).kind, 'image');
    const noType = { schemaVersion: 2, config, layers: [layer] };
    assert.equal(parseManifest(body(noType), undefined).mediaType, MT.ociManifest);
    assert.equal(parseManifest(body(noType), 'application/octet-stream').mediaType, MT.ociManifest);
    assert.equal(parseManifest(body(noType), 'application/json').mediaType, MT.ociManifest);
    const noTypeIndex = { schemaVersion: 2, manifests: [child] };
    assert.equal(parseManifest(body(noTypeIndex), undefined).mediaType, MT.ociIndex);
    assert.equal(parseManifest(body(noTypeIndex), undefined).kind, 'index');
  });

  test('Docker schema 1 is refused, by media type or by schemaVersion 1', () => {
    const schema1 = { schemaVersion: 1, name: 'a/b', tag: 'v1', fsLayers: [], history: [] };
    refuses(schema1, MT.dockerSchema1, /schema 1 is deprecated and not supported/);
    refuses(schema1, MT.dockerSchema1Signed, /schema 1 is deprecated and not supported/);
    refuses(schema1, undefined, /schema 1 is deprecated and not supported/);
    refuses({ ...schema1, schemaVersion: 2, mediaType: MT.dockerSchema1Signed }, undefined, /schema 1/);
  });
});

describe('parseManifest: image manifests', () => {
  test('a valid OCI image manifest', () => {
    const b = body(image({ annotations: { a: 'b' } }));
    const m = parseManifest(b, MT.ociManifest);
    assert.equal(m.kind, 'image');
    assert.equal(m.mediaType, MT.ociManifest);
    assert.equal(m.digest, digestOf(b));
    assert.equal(m.size, b.length);
    assert.deepEqual(m.config, config);
    assert.deepEqual(m.layers, [layer]);
    assert.deepEqual(m.manifests, []);
    assert.deepEqual(m.annotations, { a: 'b' });
    assert.equal(m.artifactType, MT.ociConfig, 'artifactType defaults to the config media type');
    assert.deepEqual(m.requiredBlobs, [config, layer]);
    assert.equal(m.subject, undefined);
  });

  test('the digest uses the requested algorithm', () => {
    const b = body(image());
    assert.equal(parseManifest(b, MT.ociManifest, 'sha512').digest, digestOf(b, 'sha512'));
  });

  test('schemaVersion must be 2', () => {
    for (const v of [3, '2', 0, null]) refuses(image({ schemaVersion: v }), MT.ociManifest, /^schemaVersion must be 2 for application\/vnd\.oci\.image\.manifest\.v1\+json$/);
    const { schemaVersion: _s, ...rest } = image();
    refuses(rest, MT.ociManifest, /^schemaVersion must be 2/);
  });

  test('config is required and must be a descriptor', () => {
    const { config: _c, ...rest } = image();
    refuses(rest, MT.ociManifest, /^config must be a descriptor object$/);
    refuses(image({ config: [] }), MT.ociManifest, /^config must be a descriptor object$/);
  });

  test('layers are optional for OCI, required for Docker, and must be an array', () => {
    const { layers: _l, ...rest } = image();
    assert.deepEqual(parseManifest(body(rest), MT.ociManifest).layers, []);
    assert.deepEqual(parseManifest(body(image({ layers: null })), MT.ociManifest).layers, []);
    refuses(image({ layers: {} }), MT.ociManifest, /^layers must be an array$/);
    const docker = { schemaVersion: 2, mediaType: MT.dockerManifest, config: { ...config, mediaType: MT.dockerConfig } };
    refuses(docker, MT.dockerManifest, /^layers is required$/);
  });

  test('an image manifest has no manifests list; a Docker manifest has no artifactType', () => {
    refuses(image({ manifests: [] }), MT.ociManifest, /^an image manifest has no manifests list$/);
    const docker = { schemaVersion: 2, mediaType: MT.dockerManifest, config: { ...config, mediaType: MT.dockerConfig }, layers: [], artifactType: 'application/vnd.example' };
    refuses(docker, MT.dockerManifest, /^a Docker manifest has no artifactType$/);
  });

  test('an explicit artifactType is kept; an invalid one is refused', () => {
    assert.equal(parseManifest(body(image({ artifactType: 'application/vnd.example.sbom' })), MT.ociManifest).artifactType, 'application/vnd.example.sbom');
    refuses(image({ artifactType: 'not a type' }), MT.ociManifest, /^artifactType must be a media type$/);
    refuses(image({ artifactType: 5 }), MT.ociManifest, /^artifactType must be a media type$/);
  });

  test('annotations must be an object of strings', () => {
    refuses(image({ annotations: [] }), MT.ociManifest, /^annotations must be an object of strings$/);
    refuses(image({ annotations: 'x' }), MT.ociManifest, /^annotations must be an object of strings$/);
    refuses(image({ annotations: { k: 1 } }), MT.ociManifest, /^annotations\["k"\] must be a string$/);
  });

  test('a subject is parsed as a descriptor', () => {
    const m = parseManifest(body(image({ subject: child })), MT.ociManifest);
    assert.deepEqual(m.subject, child);
    refuses(image({ subject: 'sha256:abc' }), MT.ociManifest, /^subject must be a descriptor object$/);
  });

  test('foreign layers with urls are not required blobs; without urls they are', () => {
    const foreign: Descriptor = { mediaType: MT.dockerForeignLayer, digest: digestOf('f'), size: 1, urls: ['https://example.com/f'] };
    const nondist: Descriptor = { mediaType: MT.ociLayerNondistributableGzip, digest: digestOf('n'), size: 1, urls: ['https://example.com/n'] };
    const noUrls: Descriptor = { mediaType: MT.ociLayerNondistributable, digest: digestOf('u'), size: 1 };
    const emptyUrls: Descriptor = { mediaType: MT.dockerForeignLayer, digest: digestOf('e'), size: 1, urls: [] };
    const m = parseManifest(body(image({ layers: [layer, foreign, nondist, noUrls, emptyUrls] })), MT.ociManifest);
    assert.deepEqual(m.layers.length, 5);
    assert.deepEqual(
      m.requiredBlobs.map((d) => d.digest),
      [config.digest, layer.digest, noUrls.digest, emptyUrls.digest],
    );
  });
});

describe('parseManifest: indexes', () => {
  test('a valid OCI index and a Docker manifest list', () => {
    const m = parseManifest(body(index()), MT.ociIndex);
    assert.equal(m.kind, 'index');
    assert.deepEqual(m.manifests, [child]);
    assert.deepEqual(m.layers, []);
    assert.equal(m.config, undefined);
    assert.deepEqual(m.requiredBlobs, []);
    assert.equal(m.artifactType, undefined);
    const list = { schemaVersion: 2, mediaType: MT.dockerManifestList, manifests: [{ ...child, mediaType: MT.dockerManifest, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }] };
    const l = parseManifest(body(list), MT.dockerManifestList);
    assert.equal(l.kind, 'index');
    assert.deepEqual(l.manifests[0]?.platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
  });

  test('an index needs schemaVersion 2 and a manifests array', () => {
    refuses(index({ schemaVersion: 1 }), MT.ociIndex, /schema 1|schemaVersion must be 2/);
    refuses(index({ schemaVersion: 3 }), MT.ociIndex, /^schemaVersion must be 2 for application\/vnd\.oci\.image\.index\.v1\+json$/);
    const { manifests: _m, ...rest } = index();
    refuses(rest, MT.ociIndex, /^manifests is required$/);
    refuses(index({ manifests: null }), MT.ociIndex, /^manifests is required$/);
    refuses(index({ manifests: 'x' }), MT.ociIndex, /^manifests must be an array$/);
    refuses(index({ manifests: [{}] }), MT.ociIndex, /^manifests\[0\]\.mediaType must be a media type/);
  });

  test('an index has no config or layers', () => {
    refuses(index({ config }), MT.ociIndex, /^an index has no config or layers$/);
    refuses(index({ layers: [layer] }), MT.ociIndex, /^an index has no config or layers$/);
    refuses(index({ layers: [] }), MT.ociIndex, /^an index has no config or layers$/);
  });

  test('an index may have an artifactType and a subject', () => {
    const m = parseManifest(body(index({ artifactType: 'application/vnd.example', subject: child })), MT.ociIndex);
    assert.equal(m.artifactType, 'application/vnd.example');
    assert.deepEqual(m.subject, child);
  });
});

describe('parseManifest: other (artifact) media types', () => {
  const type = 'application/vnd.example.artifact.v1+json';
  test('stored as given, with config, layers or blobs and manifests checked', () => {
    const m = parseManifest(body({ mediaType: type, config, layers: [layer] }), type);
    assert.equal(m.kind, 'other');
    assert.equal(m.mediaType, type);
    assert.equal(m.artifactType, MT.ociConfig);
    assert.deepEqual(m.requiredBlobs, [config, layer]);
    const blobs = parseManifest(body({ mediaType: type, blobs: [layer], manifests: [child] }), type);
    assert.deepEqual(blobs.layers, [layer]);
    assert.deepEqual(blobs.manifests, [child]);
    assert.equal(blobs.config, undefined);
    assert.equal(blobs.artifactType, undefined);
    assert.deepEqual(parseManifest(body({ mediaType: type }), type).requiredBlobs, []);
  });

  test('no schemaVersion is required, but descriptors are validated', () => {
    refuses({ mediaType: type, config: { ...config, size: -1 } }, type, /^config\.size must be a non-negative integer$/);
    refuses({ mediaType: type, blobs: [{ ...layer, digest: 'x' }] }, type, /^blobs\[0\]\.digest is not a valid sha256 or sha512 digest/);
    refuses({ mediaType: type, layers: [{ ...layer, digest: 'x' }] }, type, /^layers\[0\]\.digest/);
    refuses({ mediaType: type, manifests: 5 }, type, /^manifests must be an array$/);
  });
});

describe('parseDescriptor', () => {
  test('a minimal and a full descriptor', () => {
    assert.deepEqual(pd({ mediaType: MT.ociConfig, digest: config.digest, size: 3 }), { mediaType: MT.ociConfig, digest: config.digest, size: 3 });
    const full = {
      mediaType: MT.ociManifest,
      digest: child.digest,
      size: 0,
      urls: ['https://example.com/x'],
      annotations: { k: 'v' },
      artifactType: 'application/vnd.example',
      platform: { architecture: 'arm', os: 'linux', 'os.version': '1', 'os.features': ['f'], variant: 'v7', features: ['sse4'] },
    };
    assert.deepEqual(pd(full), full);
  });

  test('unknown platform fields of the wrong type are dropped, not stored', () => {
    const d = pd({ ...child, platform: { architecture: 'amd64', os: 'linux', 'os.version': 1, variant: null } });
    assert.deepEqual(d.platform, { architecture: 'amd64', os: 'linux' });
  });

  const bad: ReadonlyArray<[string, unknown, RegExp]> = [
    ['not an object', 'x', /^d must be a descriptor object$/],
    ['null', null, /^d must be a descriptor object$/],
    ['an array', [], /^d must be a descriptor object$/],
    ['no mediaType', { digest: child.digest, size: 1 }, /^d\.mediaType must be a media type, got null$/],
    ['a bad mediaType', { mediaType: 'x', digest: child.digest, size: 1 }, /^d\.mediaType must be a media type, got "x"$/],
    ['no digest', { mediaType: MT.ociConfig, size: 1 }, /^d\.digest is not a valid sha256 or sha512 digest: null$/],
    ['an md5 digest', { mediaType: MT.ociConfig, digest: 'md5:abc', size: 1 }, /^d\.digest is not a valid/],
    ['an uppercase digest', { mediaType: MT.ociConfig, digest: child.digest.toUpperCase(), size: 1 }, /^d\.digest is not a valid/],
    ['a negative size', { mediaType: MT.ociConfig, digest: child.digest, size: -1 }, /^d\.size must be a non-negative integer$/],
    ['a fractional size', { mediaType: MT.ociConfig, digest: child.digest, size: 0.5 }, /^d\.size must be a non-negative integer$/],
    ['a string size', { mediaType: MT.ociConfig, digest: child.digest, size: '1' }, /^d\.size must be a non-negative integer$/],
    ['an unsafe size', { mediaType: MT.ociConfig, digest: child.digest, size: 2 ** 53 }, /^d\.size must be a non-negative integer$/],
    ['urls not an array', { ...child, urls: 'x' }, /^d\.urls must be an array of strings$/],
    ['urls with a number', { ...child, urls: [1] }, /^d\.urls must be an array of strings$/],
    ['annotations with a number', { ...child, annotations: { a: 1 } }, /^d\.annotations\["a"\] must be a string$/],
    ['a bad artifactType', { ...child, artifactType: 'x' }, /^d\.artifactType must be a media type$/],
    ['a platform without os', { ...child, platform: { architecture: 'amd64' } }, /^d\.platform must have string "architecture" and "os"$/],
    ['a platform that is a string', { ...child, platform: 'linux/amd64' }, /^d\.platform must have string "architecture" and "os"$/],
    ['platform features not strings', { ...child, platform: { architecture: 'amd64', os: 'linux', features: [1] } }, /^d\.platform\.features must be an array of strings$/],
    ['platform os.features not strings', { ...child, platform: { architecture: 'amd64', os: 'linux', 'os.features': 'x' } }, /^d\.platform\["os\.features"\] must be an array of strings$/],
  ];
  for (const [what, v, message] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(() => pd(v), invalid(message));
    });
  }

  test('embedded data must be base64 of exactly the described bytes (sha256 and sha512)', () => {
    const data = CONFIG_DATA.toString('base64');
    assert.equal(pd({ ...config, data }).digest, config.digest);
    const c512 = { ...config, digest: digestOf(CONFIG_DATA, 'sha512') };
    pd({ ...c512, data });
    assert.throws(() => pd({ ...config, data: Buffer.from('other').toString('base64') }), invalid(/^d\.data does not match its digest and size$/));
    assert.throws(() => pd({ ...config, size: config.size + 1, data }), invalid(/^d\.data does not match its digest and size$/));
    assert.throws(() => pd({ ...c512, data: Buffer.from('other').toString('base64') }), invalid(/^d\.data does not match/));
    assert.throws(() => pd({ ...config, data: 'not base64!' }), invalid(/^d\.data must be base64$/));
    assert.throws(() => pd({ ...config, data: 5 }), invalid(/^d\.data must be base64$/));
  });
});
