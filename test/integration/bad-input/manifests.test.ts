// Bad manifests pushed to PUT /v2/<name>/manifests/<reference>: each is refused with the exact OCI
// error, stores nothing (no manifest, tag, reference, event or repository) and loses nothing (the
// image pushed before is still pullable byte for byte).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import {
  MT,
  assertPullable,
  call,
  countRows,
  expectOciError,
  expectRefused,
  imageManifest,
  pushManifest,
  pushImage,
  rawCall,
  sha256,
  sha512,
  snapshot,
  assertUnchanged,
  type Descriptor,
  type Image,
  type Reply,
} from './helpers.ts';

const REPO = 'bad-input/manifests';
const FOUR_MIB = 4 * 1024 * 1024;

let t: TestApp;
let image: Image;

before(async () => {
  t = await startTestApp();
  image = await pushImage(t, REPO, 'v1');
});
after(async () => {
  await t.close();
});

function put(body: string | Buffer, contentType: string | null = MT.ociManifest, reference = 'next', repo = REPO): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (contentType !== null) headers['content-type'] = contentType;
  return call(t, 'PUT', `/v2/${repo}/manifests/${reference}`, { body, headers });
}

function json(v: unknown): string {
  return JSON.stringify(v);
}

/** The image's own manifest with `patch` applied: every other field valid. */
function variant(patch: (m: Record<string, unknown>) => void): string {
  const m = imageManifest(structuredClone(image.config), structuredClone(image.layers));
  patch(m);
  return json(m);
}

function layer0(m: Record<string, unknown>): Descriptor {
  return (m.layers as Descriptor[])[0] as Descriptor;
}

async function refusedInvalid(body: string | Buffer, message: RegExp, contentType: string | null = MT.ociManifest): Promise<void> {
  await expectRefused(t, { send: () => put(body, contentType), error: { status: 400, code: 'MANIFEST_INVALID', message }, keep: [image], what: 'a bad manifest push' });
}

/** A valid image manifest padded with an annotation to exactly `size` bytes. */
function paddedManifest(size: number): Buffer {
  const base = imageManifest(image.config, image.layers, { annotations: { pad: '' } });
  const empty = Buffer.byteLength(json(base));
  const padded = imageManifest(image.config, image.layers, { annotations: { pad: 'x'.repeat(size - empty) } });
  const b = Buffer.from(json(padded));
  assert.equal(b.length, size);
  return b;
}

describe('malformed manifest bodies', () => {
  test('malformed JSON: 400 MANIFEST_INVALID "not valid JSON"', async () => {
    await refusedInvalid('{"schemaVersion": 2, "mediaType": ', /not valid JSON/);
    await refusedInvalid('', /not valid JSON/);
    await refusedInvalid(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), /not valid JSON/);
  });

  test('JSON that is not an object: 400 MANIFEST_INVALID "must be a JSON object"', async () => {
    for (const body of ['[]', '"manifest"', '2', 'null', 'true', json([imageManifest(image.config, image.layers)])]) {
      await refusedInvalid(body, /must be a JSON object/);
    }
  });

  test('an image manifest without config: 400 MANIFEST_INVALID naming config', async () => {
    await refusedInvalid(
      variant((m) => delete m.config),
      /^config must be a descriptor object/,
    );
    await refusedInvalid(
      variant((m) => (m.config = null)),
      /^config must be a descriptor object/,
    );
    await refusedInvalid(
      variant((m) => (m.config = 'sha256:abc')),
      /^config must be a descriptor object/,
    );
  });

  test('a descriptor with a bad digest: 400 MANIFEST_INVALID naming the field', async () => {
    const bad = ['sha256:abc', `md5:${'a'.repeat(32)}`, `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(64)}`, '', 'sha256', 42];
    for (const digest of bad) {
      await refusedInvalid(
        variant((m) => (layer0(m).digest = digest as string)),
        /layers\[0\]\.digest is not a valid sha256 or sha512 digest/,
      );
    }
    await refusedInvalid(
      variant((m) => ((m.config as Descriptor).digest = 'sha256:xyz')),
      /^config\.digest is not a valid/,
    );
    await refusedInvalid(
      variant((m) => delete (m.config as Partial<Descriptor>).digest),
      /^config\.digest is not a valid/,
    );
  });

  test('a descriptor with a negative, fractional, non-numeric or unsafe size: 400 MANIFEST_INVALID', async () => {
    for (const size of [-1, 1.5, '1500', null, Number.MAX_SAFE_INTEGER + 1, 1e300]) {
      await refusedInvalid(
        variant((m) => (layer0(m).size = size as number)),
        /layers\[0\]\.size must be a non-negative integer/,
      );
    }
    await refusedInvalid(
      variant((m) => delete (m.config as Partial<Descriptor>).size),
      /^config\.size must be a non-negative integer/,
    );
  });

  test('a descriptor with a bad mediaType: 400 MANIFEST_INVALID', async () => {
    for (const mediaType of ['not a media type', 'application', '/json', 'application/', '', 7]) {
      await refusedInvalid(
        variant((m) => (layer0(m).mediaType = mediaType as string)),
        /layers\[0\]\.mediaType must be a media type/,
      );
    }
    await refusedInvalid(
      variant((m) => delete (m.config as Partial<Descriptor>).mediaType),
      /^config\.mediaType must be a media type/,
    );
  });

  test('a manifest mediaType that is not a media type: 400 MANIFEST_INVALID', async () => {
    await refusedInvalid(
      variant((m) => (m.mediaType = 42)),
      /mediaType must be a media type/,
    );
    await refusedInvalid(
      variant((m) => (m.mediaType = 'no media type')),
      /mediaType must be a media type/,
    );
  });

  test('schemaVersion other than 2: 400 MANIFEST_INVALID "schemaVersion must be 2"', async () => {
    for (const v of [3, 0, '2', null, 2.5]) {
      await refusedInvalid(
        variant((m) => (m.schemaVersion = v)),
        /schemaVersion must be 2/,
      );
    }
    await refusedInvalid(
      variant((m) => delete m.schemaVersion),
      /schemaVersion must be 2/,
    );
    const index = { schemaVersion: 3, mediaType: MT.ociIndex, manifests: [] };
    await refusedInvalid(json(index), /schemaVersion must be 2/, MT.ociIndex);
  });

  test('Docker image manifest schema 1 (signed and unsigned, by type or by schemaVersion): 400 MANIFEST_INVALID', async () => {
    const schema1 = {
      schemaVersion: 1,
      name: REPO,
      tag: 'next',
      architecture: 'amd64',
      fsLayers: [{ blobSum: image.layers[0]?.digest }],
      history: [{ v1Compatibility: '{}' }],
      signatures: [{ header: { alg: 'ES256' }, signature: 'AAAA', protected: 'AAAA' }],
    };
    await refusedInvalid(json(schema1), /schema 1 is deprecated and not supported/, MT.dockerSchema1Signed);
    await refusedInvalid(json(schema1), /schema 1 is deprecated and not supported/, MT.dockerSchema1);
    await refusedInvalid(json(schema1), /schema 1 is deprecated and not supported/, null);
    await refusedInvalid(json({ ...schema1, mediaType: MT.dockerSchema1Signed }), /schema 1 is deprecated and not supported/, 'application/octet-stream');
  });

  test('a Content-Type that contradicts the body mediaType: 400 MANIFEST_INVALID naming both', async () => {
    const body = variant(() => undefined);
    await refusedInvalid(body, /Content-Type "application\/vnd\.oci\.image\.index\.v1\+json" does not match the manifest's mediaType "application\/vnd\.oci\.image\.manifest\.v1\+json"/, MT.ociIndex);
    await refusedInvalid(body, /Content-Type "application\/vnd\.docker\.distribution\.manifest\.v2\+json" does not match/, MT.dockerManifest);
    await refusedInvalid(body, /Content-Type "text\/plain" does not match/, 'text/plain; charset=utf-8');
  });

  test('an index with config or layers: 400 MANIFEST_INVALID', async () => {
    const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: image.digest, size: image.body.length }] };
    await refusedInvalid(json({ ...index, config: image.config }), /an index has no config or layers/, MT.ociIndex);
    await refusedInvalid(json({ ...index, layers: image.layers }), /an index has no config or layers/, MT.ociIndex);
  });

  test('an index without manifests, or with manifests that are not an array: 400 MANIFEST_INVALID', async () => {
    await refusedInvalid(json({ schemaVersion: 2, mediaType: MT.ociIndex }), /manifests is required/, MT.ociIndex);
    await refusedInvalid(json({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: {} }), /manifests must be an array/, MT.ociIndex);
    await refusedInvalid(json({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ digest: image.digest }] }), /manifests\[0\]\.mediaType must be a media type/, MT.ociIndex);
  });

  test('an image manifest with a manifests list, or layers that are not an array: 400 MANIFEST_INVALID', async () => {
    await refusedInvalid(
      variant((m) => (m.manifests = [])),
      /an image manifest has no manifests list/,
    );
    await refusedInvalid(
      variant((m) => (m.layers = image.layers[0] ?? null)),
      /^layers must be an array/,
    );
  });

  test('a Docker schema 2 manifest without layers or with an artifactType: 400 MANIFEST_INVALID', async () => {
    const docker = { schemaVersion: 2, mediaType: MT.dockerManifest, config: { ...image.config, mediaType: 'application/vnd.docker.container.image.v1+json' } };
    await refusedInvalid(json(docker), /^layers is required/, MT.dockerManifest);
    await refusedInvalid(json({ ...docker, layers: [], artifactType: 'application/vnd.example+json' }), /a Docker manifest has no artifactType/, MT.dockerManifest);
  });

  test('annotations, urls, artifactType, platform and subject of the wrong shape: 400 MANIFEST_INVALID', async () => {
    await refusedInvalid(
      variant((m) => (m.annotations = { key: 1 })),
      /annotations\["key"\] must be a string/,
    );
    await refusedInvalid(
      variant((m) => (m.annotations = ['a'])),
      /annotations must be an object of strings/,
    );
    await refusedInvalid(
      variant((m) => (layer0(m).urls = 'https://example.com/layer')),
      /layers\[0\]\.urls must be an array of strings/,
    );
    await refusedInvalid(
      variant((m) => (m.artifactType = 'not/a type')),
      /artifactType must be a media type/,
    );
    await refusedInvalid(
      variant((m) => (layer0(m).platform = { os: 'linux' })),
      /layers\[0\]\.platform must have string "architecture" and "os"/,
    );
    await refusedInvalid(
      variant((m) => (m.subject = { mediaType: MT.ociManifest, digest: 'sha256:1', size: 1 })),
      /^subject\.digest is not a valid/,
    );
  });

  test('a descriptor whose embedded data does not match its digest or size: 400 MANIFEST_INVALID', async () => {
    const configData = image.blobs[0]?.data ?? Buffer.alloc(0);
    await refusedInvalid(
      variant((m) => ((m.config as Descriptor).data = Buffer.from('something else').toString('base64'))),
      /^config\.data does not match its digest and size/,
    );
    // Right bytes, wrong size declared is refused too (the size check is not skipped for data).
    await refusedInvalid(
      variant((m) => {
        const c = m.config as Descriptor;
        c.data = configData.subarray(0, configData.length - 1).toString('base64');
      }),
      /^config\.data does not match its digest and size/,
    );
    await refusedInvalid(
      variant((m) => ((m.config as Descriptor).data = 'not base64!')),
      /^config\.data must be base64/,
    );
    // sha512 descriptors are checked with sha512.
    await refusedInvalid(
      variant((m) => {
        const c = m.config as Descriptor;
        c.digest = sha512(configData);
        c.data = Buffer.from('other').toString('base64');
      }),
      /^config\.data does not match its digest and size/,
    );
  });
});

describe('manifest size limit (4 MiB)', () => {
  test('a manifest of exactly 4 MiB + 1 byte: 413 MANIFEST_INVALID, nothing stored', async () => {
    const body = paddedManifest(FOUR_MIB + 1);
    await expectRefused(t, { send: () => put(body), error: { status: 413, code: 'MANIFEST_INVALID', message: /larger than the limit of 4194304 bytes|limit is 4194304 bytes/ }, keep: [image] });
  });

  test('a declared Content-Length over the limit is refused before the body is read: 413', async () => {
    const head = Buffer.from(variant(() => undefined));
    const err = await expectRefused(t, {
      send: () =>
        rawCall(t, 'PUT', `/v2/${REPO}/manifests/next`, {
          headers: { 'content-type': MT.ociManifest, 'content-length': String(FOUR_MIB * 4) },
          partialBody: head,
        }),
      error: { status: 413, code: 'MANIFEST_INVALID', message: /limit of 4194304 bytes/ },
      keep: [image],
    });
    assert.equal(err.code, 'MANIFEST_INVALID');
  });

  test('a chunked body (no Content-Length) growing over the limit: 413, nothing stored', async () => {
    const body = paddedManifest(FOUR_MIB + 1024);
    await expectRefused(t, {
      send: () => rawCall(t, 'PUT', `/v2/${REPO}/manifests/next`, { headers: { 'content-type': MT.ociManifest, 'transfer-encoding': 'chunked' }, body }),
      error: { status: 413, code: 'MANIFEST_INVALID', message: /limit of 4194304 bytes/ },
      keep: [image],
    });
  });

  test('a manifest of exactly 4 MiB is accepted (the limit is inclusive)', async () => {
    const body = paddedManifest(FOUR_MIB);
    const before = snapshot(t);
    const { digest } = await pushManifest(t, REPO, 'exactly-4mib', body, MT.ociManifest);
    assertUnchanged(t, before, { allow: ['manifests', 'manifest_references', 'tags', 'events'] });
    const r = await call(t, 'GET', `/v2/${REPO}/manifests/${digest}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(body));
    const d = await call(t, 'DELETE', `/v2/${REPO}/manifests/${digest}`);
    assert.equal(d.status, 202);
  });
});

describe('refused pushes to a repository that does not exist yet create no repository', () => {
  const cases: Array<{ name: string; repo: string; reference: string; body: () => string; code: string; status: number; message: RegExp }> = [
    { name: 'malformed JSON', repo: 'bad-input/fresh-a', reference: 'v1', body: () => '{', status: 400, code: 'MANIFEST_INVALID', message: /not valid JSON/ },
    { name: 'an invalid tag', repo: 'bad-input/fresh-b', reference: '-lead', body: () => variant(() => undefined), status: 400, code: 'MANIFEST_INVALID', message: /invalid tag "-lead"/ },
    { name: 'blobs the repository does not have', repo: 'bad-input/fresh-c', reference: 'v1', body: () => variant(() => undefined), status: 400, code: 'MANIFEST_BLOB_UNKNOWN', message: /references blobs that are not in repository/ },
    { name: 'a digest in the URL that does not match', repo: 'bad-input/fresh-d', reference: sha256('other'), body: () => variant(() => undefined), status: 400, code: 'DIGEST_INVALID', message: /not sha256:[0-9a-f]{64} as in the URL/ },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.status} ${c.code}, no repository row, no event`, async () => {
      await expectRefused(t, {
        send: () => put(c.body(), MT.ociManifest, c.reference, c.repo),
        error: { status: c.status, code: c.code, message: c.message },
        keep: [image],
        what: `PUT /v2/${c.repo}/manifests/${c.reference}`,
      });
      assert.equal(countRows(t, 'repositories', 'name = ?', c.repo), 0, `no repository ${c.repo}`);
      expectOciError(await call(t, 'GET', `/v2/${c.repo}/tags/list`), { status: 404, code: 'NAME_UNKNOWN', message: /does not exist/ });
    });
  }
});

describe('a refused push does not disturb an existing tag', () => {
  test('re-pushing an existing tag with a bad manifest leaves the tag on the old image', async () => {
    const body = json({ schemaVersion: 2, garbage: randomBytes(4).toString('hex') });
    await expectRefused(t, { send: () => put(body, MT.ociManifest, image.tag), error: { status: 400, code: 'MANIFEST_INVALID', message: /^config must be a descriptor object/ }, keep: [image] });
    await assertPullable(t, image);
  });
});
