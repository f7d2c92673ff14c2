// Vulnerability scanning end to end with the AWS CLI v2 and skopeo against a berth server, on the
// shared OSV corpus (loaded with `berth vulndb import`): the registry is set to ENHANCED scanning on
// push, skopeo pushes the Debian bookworm fixture and two images built over it (an extra gzip layer
// with an npm lock file and a Python distribution, vulnerable and patched), `aws ecr wait
// image-scan-complete` waits for each scan and `describe-image-scan-findings` shows the findings:
// lodash's and urllib3's advisories, none for the Debian packages (the corpus has no Debian:12
// data), none for the patched image. `berth sbom` shows the dpkg packages were inventoried all the
// same. A manual `start-image-scan` of a scanned image scans it again; `describe-images` carries the
// scan status and the findings summary. The derived images follow the OCI image layout spec
// (image-layout.md, config.md: rootfs.diff_ids is the sha256 of each uncompressed layer).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { main } from '../../src/cli/main.ts';
import type { Fixture } from '../fixtures/build.ts';
import { blobPath, initLayout, MT, REF_NAME_ANNOTATION, writeIndex, writeJsonBlob, type Descriptor } from '../fixtures/oci.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { VULNDATA, vulndataMissing } from '../helpers/vulndata.ts';
import { assertOk, awsCliEnv, Cleanup, fixtureBlobPath, loadFixtures, makeTempDir, missingTools, run, sha256Hex, skopeo, type RunResult, type Skopeo } from './support.ts';

const AWS = '/usr/bin/aws';
const REPO = 'e2e/app';

interface EnhancedFinding {
  findingArn: string;
  severity: string;
  packageVulnerabilityDetails: {
    vulnerabilityId: string;
    relatedVulnerabilities?: string[];
    vulnerablePackages: Array<{ name: string; version: string; packageManager: string; filePath?: string; sourceLayerHash?: string }>;
  };
}
interface ScanFindings {
  imageId: { imageDigest: string };
  imageScanStatus: { status: string; description?: string };
  imageScanFindings?: { imageScanCompletedAt?: number; findingSeverityCounts?: Record<string, number>; findings?: unknown[]; enhancedFindings?: EnhancedFinding[] };
}
interface CycloneDx {
  metadata: { component: { type: string; name: string; version: string } };
  components: Array<{ type: string; name: string; version?: string; purl?: string }>;
}
interface Spdx {
  spdxVersion: string;
  packages: Array<{ SPDXID: string; name: string; versionInfo?: string; primaryPackagePurpose: string; externalRefs?: Array<{ referenceLocator: string }> }>;
  relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
}

/** A gzip tar layer of `files` (tar-stream + node:zlib), with its digest and diff_id. */
async function gzipLayer(files: Record<string, string>): Promise<{ blob: Buffer; digest: string; diffId: string }> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const tar = Buffer.concat(chunks);
  const blob = gzipSync(tar);
  return { blob, digest: `sha256:${sha256Hex(blob)}`, diffId: `sha256:${sha256Hex(tar)}` };
}

function appFiles(lodash: string, urllib3: string): Record<string, string> {
  const lock = { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'app', version: '1.0.0', dependencies: { lodash: `^${lodash}` } }, 'node_modules/lodash': { version: lodash, resolved: `https://registry.npmjs.org/lodash/-/lodash-${lodash}.tgz`, license: 'MIT' } } };
  return {
    'app/package-lock.json': JSON.stringify(lock, null, 2),
    [`usr/lib/python3/dist-packages/urllib3-${urllib3}.dist-info/METADATA`]: `Metadata-Version: 2.1\nName: urllib3\nVersion: ${urllib3}\nSummary: HTTP library with thread-safe connection pooling\nLicense: MIT\n\n`,
  };
}

/**
 * An OCI image layout at `layout` holding the fixture's image with one more layer per tag: the
 * fixture's blobs copied, each new layer and config and manifest written, index.json naming the tags.
 */
async function deriveImages(base: Fixture, layout: string, tags: Record<string, Record<string, string>>): Promise<Record<string, { fixture: Fixture; layer: string }>> {
  await initLayout(layout);
  for (const d of base.blobs) await copyFile(fixtureBlobPath(base, d), blobPath(layout, d));
  const manifest = JSON.parse(await readFile(fixtureBlobPath(base, base.manifestDigest), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
  const config = JSON.parse(await readFile(fixtureBlobPath(base, manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] }; history?: unknown[] };
  const out: Record<string, { fixture: Fixture; layer: string }> = {};
  const index: Descriptor[] = [];
  for (const [tag, files] of Object.entries(tags)) {
    const layer = await gzipLayer(files);
    await writeFile(blobPath(layout, layer.digest), layer.blob);
    const cfg = await writeJsonBlob(layout, MT.ociConfig, {
      ...config,
      rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, layer.diffId] },
      history: [...(config.history ?? []), { created: '2026-01-01T00:00:00Z', created_by: `COPY app files (${tag})` }],
    });
    const layers = [...manifest.layers, { mediaType: MT.ociLayerGzip, digest: layer.digest, size: layer.blob.length }];
    const m = await writeJsonBlob(layout, MT.ociManifest, { schemaVersion: 2, mediaType: MT.ociManifest, config: cfg, layers });
    index.push({ ...m, annotations: { [REF_NAME_ANNOTATION]: tag } });
    const fixture: Fixture = {
      name: `${base.name}+${tag}`,
      layout,
      ref: tag,
      transport: 'oci',
      source: `oci:${layout}:${tag}`,
      manifestDigest: m.digest,
      mediaType: MT.ociManifest,
      blobs: [m.digest, cfg.digest, ...layers.map((l) => l.digest)],
    };
    out[tag] = { fixture, layer: layer.digest };
  }
  await writeIndex(layout, index);
  return out;
}

function pkgOf(f: EnhancedFinding): EnhancedFinding['packageVulnerabilityDetails']['vulnerablePackages'][number] {
  const p = f.packageVulnerabilityDetails.vulnerablePackages[0];
  assert.ok(p !== undefined, `finding ${f.findingArn} names no package`);
  return p;
}

function idsOf(f: EnhancedFinding): string[] {
  return [f.packageVulnerabilityDetails.vulnerabilityId, ...(f.packageVulnerabilityDetails.relatedVulnerabilities ?? [])];
}

describe('vulnerability scanning with the AWS CLI and skopeo: scan on push, findings, SBOMs, manual rescans', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let sk: Skopeo;
  let debian: Fixture;
  let derived: Record<'vulnerable' | 'patched', { fixture: Fixture; layer: string }>;
  let awsEnv: Record<string, string>;
  const findingsOf = new Map<string, ScanFindings>();

  before(async () => {
    const noData = vulndataMissing();
    if (noData !== false) {
      skip = `SKIP: ${noData}`;
      return;
    }
    if (!existsSync(AWS)) {
      skip = `SKIP: ${AWS} not found (install the Debian package 'awscli', the AWS CLI v2)`;
      return;
    }
    skip = missingTools([['skopeo', 'skopeo']]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<'debian'>(['debian']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    debian = loaded.fixtures.debian;
    const work = await makeTempDir('scanning');
    cleanup.dir(work);
    derived = await deriveImages(debian, join(work, 'derived'), { vulnerable: appFiles('4.17.11', '1.26.4'), patched: appFiles('4.17.21', '2.2.2') });
    server = await startServer({ env: { BERTH_STRICT_ERRORS: '1' } });
    cleanup.server(server);
    awsEnv = await awsCliEnv(work, server);
    sk = skopeo(server, join(work, 'skopeo-home'));
    // The advisories, loaded beside the running server as an operator would.
    for (const ecosystem of ['Debian', 'npm', 'PyPI']) {
      const r = await berth(['vulndb', 'import', join(VULNDATA, 'osv', ecosystem)]);
      assert.equal(r.code, 0, r.out.join('\n'));
      assert.match(r.out.join('\n'), /[1-9]\d* advisories read, [1-9]\d* new or changed, 0 errors/);
    }
  });
  after(async () => {
    await cleanup.run();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }

  async function aws(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return await run(AWS, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: awsEnv, timeoutMs });
  }
  async function awsJson<T>(args: string[], timeoutMs?: number): Promise<T> {
    const r = assertOk(await aws(args, timeoutMs), server);
    const text = r.stdout.toString('utf8').trim();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }
  async function berth(args: string[]): Promise<{ code: number; out: string[] }> {
    const out: string[] = [];
    const code = await main([...args, '--data-dir', server.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, BERTH_LOG_LEVEL: 'silent' } });
    return { code, out };
  }
  async function sbom<T>(tag: string, format: 'cyclonedx' | 'spdx'): Promise<T> {
    const r = await berth(['sbom', `${REPO}:${tag}`, '--format', format]);
    assert.equal(r.code, 0, r.out.join('\n'));
    return JSON.parse(r.out.join('\n')) as T;
  }
  /** `aws ecr wait image-scan-complete` (polls every 5 s; fails on FAILED), then the findings, every page. */
  async function waitForFindings(tag: string): Promise<ScanFindings> {
    const imageId = ['--repository-name', REPO, '--image-id', `imageTag=${tag}`];
    assertOk(await aws(['ecr', 'wait', 'image-scan-complete', ...imageId], 360_000), server);
    const r = await awsJson<ScanFindings>(['ecr', 'describe-image-scan-findings', ...imageId]);
    findingsOf.set(tag, r);
    return r;
  }

  test('the registry scans e2e/* on push with ENHANCED scanning', async (c) => {
    if (skipped(c)) return;
    const rules = [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'e2e/*', filterType: 'WILDCARD' }] }];
    const put = await awsJson<{ registryScanningConfiguration: unknown }>(['ecr', 'put-registry-scanning-configuration', '--scan-type', 'ENHANCED', '--rules', JSON.stringify(rules)]);
    assert.deepEqual(put.registryScanningConfiguration, { scanType: 'ENHANCED', rules });
    const got = await awsJson<{ scanningConfiguration: unknown }>(['ecr', 'get-registry-scanning-configuration']);
    assert.deepEqual(got.scanningConfiguration, { scanType: 'ENHANCED', rules });
    await awsJson(['ecr', 'create-repository', '--repository-name', REPO]);
    const repo = await awsJson<{ scanningConfigurations: Array<{ repositoryName: string; scanOnPush: boolean; scanFrequency: string }> }>(['ecr', 'batch-get-repository-scanning-configuration', '--repository-names', REPO]);
    assert.deepEqual(
      repo.scanningConfigurations.map((s) => [s.repositoryName, s.scanOnPush, s.scanFrequency]),
      [[REPO, true, 'SCAN_ON_PUSH']],
    );
    const status = await berth(['vulndb', 'status']);
    assert.equal(status.code, 0, status.out.join('\n'));
    for (const source of ['Debian', 'npm', 'PyPI']) assert.match(status.out.join('\n'), new RegExp(`^source\\t${source}\\t[1-9]\\d* records\\t0 errors`, 'm'));
  });

  test('the Debian bookworm image: scanned on push, no findings (the corpus has no Debian:12 data), its dpkg packages in the SBOM', async (c) => {
    if (skipped(c)) return;
    await sk.push(debian, `${REPO}:bookworm`);
    const r = await waitForFindings('bookworm');
    assert.equal(r.imageScanStatus.status, 'COMPLETE', r.imageScanStatus.description);
    assert.equal(r.imageId.imageDigest, debian.manifestDigest);
    assert.deepEqual(r.imageScanFindings?.enhancedFindings ?? [], []);
    assert.deepEqual(r.imageScanFindings?.findingSeverityCounts ?? {}, {});

    const bom = await sbom<CycloneDx>('bookworm', 'cyclonedx');
    assert.deepEqual([bom.metadata.component.type, bom.metadata.component.name, bom.metadata.component.version], ['container', REPO, debian.manifestDigest]);
    const os = bom.components.find((x) => x.type === 'operating-system');
    assert.deepEqual([os?.name, os?.version], ['debian', '12']);
    const debs = bom.components.filter((x) => x.purl?.startsWith('pkg:deb/debian/'));
    assert.ok(debs.length >= 50, `${debs.length} dpkg packages inventoried`);
    for (const name of ['libc6', 'bash', 'coreutils', 'dpkg']) assert.ok(debs.some((x) => x.name === name), `${name} is in the SBOM`);
    assert.ok(!bom.components.some((x) => x.name === 'lodash'));
  });

  test('an app layer over it: lodash and urllib3 findings (npm, PyPI), no finding for the Debian packages, SBOMs in both formats', async (c) => {
    if (skipped(c)) return;
    const { fixture, layer } = derived.vulnerable;
    await sk.push(fixture, `${REPO}:vulnerable`);
    const r = await waitForFindings('vulnerable');
    assert.equal(r.imageScanStatus.status, 'COMPLETE', r.imageScanStatus.description);
    assert.equal(r.imageId.imageDigest, fixture.manifestDigest);
    assert.equal(r.imageScanFindings?.findings, undefined, 'ENHANCED scans report enhancedFindings');
    const enhanced = r.imageScanFindings?.enhancedFindings ?? [];

    const lodash = enhanced.find((f) => pkgOf(f).name === 'lodash' && idsOf(f).includes('CVE-2019-10744'));
    assert.ok(lodash !== undefined, `lodash 4.17.11 is affected by CVE-2019-10744: ${JSON.stringify(enhanced.map((f) => [pkgOf(f).name, idsOf(f)]))}`);
    assert.deepEqual(pkgOf(lodash), { name: 'lodash', version: '4.17.11', packageManager: 'NPM', filePath: 'app/package-lock.json', sourceLayerHash: layer });
    const urllib3 = enhanced.filter((f) => pkgOf(f).name === 'urllib3');
    assert.ok(urllib3.length > 0, 'urllib3 1.26.4 has advisories');
    for (const f of urllib3) assert.deepEqual([pkgOf(f).version, pkgOf(f).packageManager], ['1.26.4', 'PYTHONPKG']);
    assert.deepEqual([...new Set(enhanced.map((f) => pkgOf(f).name))].sort(), ['lodash', 'urllib3'], 'no finding for the Debian packages');
    const counts = r.imageScanFindings?.findingSeverityCounts ?? {};
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), enhanced.length, 'the severity counts add up to the findings (all pages)');

    // The dpkg packages were read all the same, along with the app's.
    const bom = await sbom<CycloneDx>('vulnerable', 'cyclonedx');
    assert.equal(bom.metadata.component.version, fixture.manifestDigest);
    const byName = new Map(bom.components.map((x) => [x.name, x]));
    for (const name of ['libc6', 'bash']) assert.match(byName.get(name)?.purl ?? '', new RegExp(`^pkg:deb/debian/${name}@.*distro=debian-12`));
    assert.equal(byName.get('lodash')?.purl, 'pkg:npm/lodash@4.17.11');
    assert.equal(byName.get('urllib3')?.purl, 'pkg:pypi/urllib3@1.26.4');
    const base = await sbom<CycloneDx>('bookworm', 'cyclonedx');
    const debs = (b: CycloneDx): string[] => b.components.flatMap((x) => (x.purl?.startsWith('pkg:deb/') === true ? [x.purl] : [])).sort();
    assert.deepEqual(debs(bom), debs(base), 'the same dpkg packages as the base image');

    const spdx = await sbom<Spdx>('vulnerable', 'spdx');
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    const image = spdx.packages.find((p) => p.primaryPackagePurpose === 'CONTAINER');
    assert.deepEqual([image?.name, image?.versionInfo], [REPO, fixture.manifestDigest]);
    assert.ok(spdx.relationships.some((x) => x.relationshipType === 'DESCRIBES' && x.relatedSpdxElement === image?.SPDXID));
    const spdxNames = new Map(spdx.packages.map((p) => [p.name, p]));
    for (const name of ['libc6', 'bash', 'lodash', 'urllib3']) {
      const p = spdxNames.get(name);
      assert.ok(p !== undefined, `${name} is in the SPDX document`);
      assert.ok(spdx.relationships.some((x) => x.spdxElementId === image?.SPDXID && x.relationshipType === 'CONTAINS' && x.relatedSpdxElement === p.SPDXID), `the image CONTAINS ${name}`);
    }
    assert.equal(spdxNames.get('lodash')?.externalRefs?.[0]?.referenceLocator, 'pkg:npm/lodash@4.17.11');
    assert.equal(spdx.packages.length, bom.components.length + 1, 'the same packages as the CycloneDX BOM (and the image)');
  });

  test('the patched image (lodash 4.17.21, urllib3 2.2.2): no findings', async (c) => {
    if (skipped(c)) return;
    await sk.push(derived.patched.fixture, `${REPO}:patched`);
    const r = await waitForFindings('patched');
    assert.equal(r.imageScanStatus.status, 'COMPLETE', r.imageScanStatus.description);
    assert.deepEqual((r.imageScanFindings?.enhancedFindings ?? []).map((f) => `${pkgOf(f).name} ${pkgOf(f).version} ${idsOf(f).join(',')}`), []);
    const bom = await sbom<CycloneDx>('patched', 'cyclonedx');
    assert.equal(bom.components.find((x) => x.name === 'lodash')?.version, '4.17.21', 'lodash was inventoried');
    assert.equal(bom.components.find((x) => x.name === 'urllib3')?.version, '2.2.2', 'urllib3 was inventoried');
  });

  test('start-image-scan on an already scanned image scans it again: IN_PROGRESS, then the same findings', async (c) => {
    if (skipped(c)) return;
    const first = findingsOf.get('vulnerable');
    assert.ok(first !== undefined, 'the vulnerable image was scanned');
    const started = await awsJson<{ imageId: { imageDigest: string }; imageScanStatus: { status: string } }>(['ecr', 'start-image-scan', '--repository-name', REPO, '--image-id', 'imageTag=vulnerable']);
    assert.equal(started.imageScanStatus.status, 'IN_PROGRESS');
    assert.equal(started.imageId.imageDigest, derived.vulnerable.fixture.manifestDigest);
    const again = await waitForFindings('vulnerable');
    assert.equal(again.imageScanStatus.status, 'COMPLETE');
    const key = (r: ScanFindings): string[] => (r.imageScanFindings?.enhancedFindings ?? []).map((f) => `${pkgOf(f).name} ${f.packageVulnerabilityDetails.vulnerabilityId} ${f.severity}`).sort();
    assert.deepEqual(key(again), key(first));
    assert.ok((again.imageScanFindings?.imageScanCompletedAt ?? 0) >= (first.imageScanFindings?.imageScanCompletedAt ?? Infinity), 'a new scan completed');
  });

  test('describe-images shows each image scan status and findings summary', async (c) => {
    if (skipped(c)) return;
    type Details = { imageDetails: Array<{ imageTags?: string[]; imageScanStatus?: { status: string }; imageScanFindingsSummary?: { imageScanCompletedAt?: number; findingSeverityCounts?: Record<string, number> } }> };
    const images = await awsJson<Details>(['ecr', 'describe-images', '--repository-name', REPO]);
    const byTag = new Map(images.imageDetails.flatMap((d) => (d.imageTags ?? []).map((t) => [t, d] as const)));
    assert.deepEqual([...byTag.keys()].sort(), ['bookworm', 'patched', 'vulnerable']);
    for (const [tag, d] of byTag) {
      assert.equal(d.imageScanStatus?.status, 'COMPLETE', tag);
      assert.ok(d.imageScanFindingsSummary?.imageScanCompletedAt !== undefined, `${tag}: completed at`);
      assert.deepEqual(d.imageScanFindingsSummary.findingSeverityCounts ?? {}, findingsOf.get(tag)?.imageScanFindings?.findingSeverityCounts ?? {}, `${tag}: the counts DescribeImageScanFindings gave`);
    }
    assert.ok(Object.keys(byTag.get('vulnerable')?.imageScanFindingsSummary?.findingSeverityCounts ?? {}).length > 0);
  });
});
