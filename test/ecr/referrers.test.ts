// ListImageReferrers through @aws-sdk/client-ecr: the referrers a /v2/ push gave an image (what the
// OCI referrers API lists), filtered by artifact type and status, paged; refusals change nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateRepositoryCommand, ListImageReferrersCommand, type ImageReferrer, type ListImageReferrersCommandInput } from '@aws-sdk/client-ecr';
import { sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const REPO = 'referrers/app';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';


async function pushBlob(t: EcrTestApp, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const r = await t.fetch(`/v2/${REPO}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return digest;
}

/** Pushes a manifest through /v2/ by digest (or tag) and returns its digest and size. */
async function pushManifest(t: EcrTestApp, body: Record<string, unknown>, tag?: string): Promise<{ digest: string; size: number }> {
  const text = JSON.stringify(body);
  const digest = sha256(text);
  const r = await t.fetch(`/v2/${REPO}/manifests/${tag ?? digest}`, { method: 'PUT', body: text, headers: { 'content-type': MANIFEST } });
  assert.equal(r.status, 201, await r.text());
  return { digest, size: Buffer.byteLength(text) };
}

describe('ListImageReferrers', () => {
  let t: EcrTestApp;
  let subject: { digest: string; size: number };
  const sigs: Array<{ digest: string; size: number }> = [];
  let sbom: { digest: string; size: number };
  const list = async (input: Partial<ListImageReferrersCommandInput> = {}): Promise<{ referrers: ImageReferrer[]; nextToken: string | undefined }> => {
    const r = await t.ecr.send(new ListImageReferrersCommand({ repositoryName: REPO, subjectId: { imageDigest: subject.digest }, ...input }));
    return { referrers: r.referrers ?? [], nextToken: r.nextToken };
  };

  before(async () => {
    t = await startEcrApp();
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const configDigest = await pushBlob(t, config);
    subject = await pushManifest(t, { schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [] }, 'v1');
    const empty = Buffer.from('{}');
    const emptyDigest = await pushBlob(t, empty);
    const referrer = (artifactType: string, n: number): Record<string, unknown> => ({
      schemaVersion: 2,
      mediaType: MANIFEST,
      artifactType,
      config: { mediaType: EMPTY, digest: emptyDigest, size: empty.length },
      layers: [{ mediaType: EMPTY, digest: emptyDigest, size: empty.length }],
      subject: { mediaType: MANIFEST, digest: subject.digest, size: subject.size },
      annotations: { 'org.example.n': String(n) },
    });
    for (let i = 0; i < 5; i++) sigs.push(await pushManifest(t, referrer(SIG, i)));
    sbom = await pushManifest(t, referrer(SBOM, 99));
  });
  after(async () => {
    await t.close();
  });

  test('lists every referrer of the subject with digest, media type, artifact type, size, annotations and status, in digest order', async () => {
    const { referrers, nextToken } = await list();
    assert.equal(nextToken, undefined);
    const expected = [...sigs, sbom].map((m) => m.digest).sort();
    assert.deepEqual(referrers.map((r) => r.digest), expected);
    const s = referrers.find((r) => r.digest === sbom.digest);
    assert.deepEqual(s, { digest: sbom.digest, mediaType: MANIFEST, artifactType: SBOM, size: sbom.size, annotations: { 'org.example.n': '99' }, artifactStatus: 'ACTIVE' });
    // The same set as the OCI referrers API on /v2/.
    const oci = (await (await t.fetch(`/v2/${REPO}/referrers/${subject.digest}`)).json()) as { manifests: Array<{ digest: string }> };
    assert.deepEqual(oci.manifests.map((m) => m.digest).sort(), expected);
  });

  test('filters by artifact type and by status', async () => {
    assert.deepEqual((await list({ filter: { artifactTypes: [SBOM] } })).referrers.map((r) => r.digest), [sbom.digest]);
    assert.equal((await list({ filter: { artifactTypes: [SIG, SBOM] } })).referrers.length, 6);
    assert.equal((await list({ filter: { artifactTypes: ['application/x-none'] } })).referrers.length, 0);
    assert.equal((await list({ filter: { artifactStatus: 'ANY' } })).referrers.length, 6);
    assert.equal((await list({ filter: { artifactStatus: 'ACTIVE' } })).referrers.length, 6);
    assert.equal((await list({ filter: { artifactStatus: 'ARCHIVED' } })).referrers.length, 0, 'berth archives nothing');
  });

  test('pages of maxResults follow one another without gaps or repeats', async () => {
    const all = (await list()).referrers.map((r) => r.digest);
    for (const size of [1, 2, 4]) {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await list({ maxResults: size, ...(token !== undefined ? { nextToken: token } : {}) });
        assert.ok(page.referrers.length <= size);
        seen.push(...page.referrers.map((r) => r.digest ?? ''));
        token = page.nextToken;
        pages++;
      } while (token !== undefined);
      assert.deepEqual(seen, all, `pages of ${size}`);
      assert.equal(pages, Math.ceil(all.length / size));
    }
  });

  test('a subject without referrers, or not in the repository, has none', async () => {
    assert.deepEqual((await list({ subjectId: { imageDigest: sigs[0]?.digest ?? '' } })).referrers, []);
    assert.deepEqual((await list({ subjectId: { imageDigest: sha256('absent') } })).referrers, []);
  });

  test('refusals: a subject that is not a digest, a bad token, maxResults over 50, an unknown repository', async () => {
    const fails = async (input: Partial<ListImageReferrersCommandInput>, name: string): Promise<void> => {
      await assert.rejects(list(input), (e: Error) => {
        assert.equal(e.name, name, e.message);
        return true;
      });
    };
    await fails({ subjectId: { imageDigest: 'sha256:zz' } }, 'InvalidParameterException');
    await fails({ nextToken: 'not-a-token' }, 'InvalidParameterException');
    await fails({ maxResults: 51 }, 'InvalidParameterException');
    await fails({ repositoryName: 'referrers/absent' }, 'RepositoryNotFoundException');
  });
});
