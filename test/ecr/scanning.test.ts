// Vulnerability scanning through the ECR API (AWS SDK) with the shared OSV corpus: images pushed
// through /v2/ with a Debian 11 dpkg database, an npm lock file and a Python package are scanned
// on push (ENHANCED: OS and language packages; BASIC: OS packages only), and the findings are
// exactly the advisories that apply, checked against the real `dpkg --compare-versions` for the
// Debian ones; a patched image has none; a data update finds a newly published advisory in a stored
// inventory without reading a layer; bad requests and hostile layers leave the registry healthy.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import {
  BatchGetRepositoryScanningConfigurationCommand,
  CreateRepositoryCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  GetRegistryScanningConfigurationCommand,
  PutRegistryScanningConfigurationCommand,
  StartImageScanCommand,
  UpdateImageStorageClassCommand,
  type DescribeImageScanFindingsCommandOutput,
} from '@aws-sdk/client-ecr';
import { main } from '../../src/cli/main.ts';
import { importAdvisories } from '../../src/scan/vulndb.ts';
import { blobKey } from '../../src/storage/index.ts';
import { VULNDATA, vulndataMissing } from '../helpers/vulndata.ts';
import { refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644 }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\nID=debian\n';

function dpkgStatus(pkgs: Array<{ name: string; version: string; source?: string }>): string {
  return pkgs
    .map((p) => `Package: ${p.name}\nStatus: install ok installed\nArchitecture: amd64\n${p.source !== undefined ? `Source: ${p.source}\n` : ''}Version: ${p.version}\nDescription: test package\n`)
    .join('\n');
}

function packageLock(deps: Record<string, string>): string {
  const packages: Record<string, unknown> = { '': { name: 'app', version: '1.0.0' } };
  for (const [n, v] of Object.entries(deps)) packages[`node_modules/${n}`] = { version: v };
  return JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, packages });
}

/** Debian:11 advisories naming `source`, with their fixed versions (from the corpus, read directly). */
function debianAdvisories(source: string): Array<{ id: string; fixed: string }> {
  const out: Array<{ id: string; fixed: string }> = [];
  const dir = join(VULNDATA, 'osv', 'Debian');
  for (const f of readdirSync(dir)) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; affected?: Array<{ package?: { ecosystem: string; name: string }; ranges?: Array<{ events: Array<Record<string, string>> }> }> };
    for (const a of r.affected ?? []) {
      if (a.package?.ecosystem !== 'Debian:11' || a.package.name !== source) continue;
      for (const range of a.ranges ?? []) for (const e of range.events) if (e.fixed !== undefined) out.push({ id: r.id, fixed: e.fixed });
    }
  }
  return out;
}

/** The real dpkg's order. */
function dpkgLess(a: string, b: string): boolean {
  try {
    execFileSync('dpkg', ['--compare-versions', a, 'lt', b]);
    return true;
  } catch {
    return false;
  }
}

describe('vulnerability scanning', { skip: vulndataMissing() }, () => {
  let t: EcrTestApp;

  async function pushImage(repo: string, tag: string, layers: Buffer[], config: Record<string, unknown> = { architecture: 'amd64', os: 'linux' }): Promise<string> {
    const put = async (data: Buffer): Promise<{ digest: string; size: number }> => {
      const digest = sha256(data);
      const r = await t.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
      assert.equal(r.status, 201, await r.text());
      return { digest, size: data.length };
    };
    const layerDescs = [];
    for (const l of layers) layerDescs.push({ mediaType: LAYER, ...(await put(l)) });
    const cfg = await put(Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: [] } })));
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: CONFIG, ...cfg }, layers: layerDescs });
    const r = await t.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': MANIFEST } });
    assert.equal(r.status, 201, await r.text());
    return sha256(body);
  }

  async function findings(repositoryName: string, imageTag: string): Promise<DescribeImageScanFindingsCommandOutput> {
    for (let i = 0; ; i++) {
      const r = await t.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: { imageTag }, maxResults: 1000 })).catch((e: Error) => (e.name === 'ScanNotFoundException' ? undefined : Promise.reject(e)));
      if (r !== undefined && r.imageScanStatus?.status !== 'IN_PROGRESS') return r;
      assert.ok(i < 400, 'the scan completes');
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  const opensslVersion = '1.1.1k-1+deb11u1';
  let vulnerableLayers: Buffer[];
  let patchedLayers: Buffer[];

  before(async () => {
    t = await startEcrApp();
    for (const eco of ['Debian', 'npm', 'PyPI']) {
      const r = await importAdvisories(t.app.meta, join(VULNDATA, 'osv', eco));
      assert.equal(r.errors.length, 0, JSON.stringify(r.errors.slice(0, 3)));
    }
    const opensslFixes = debianAdvisories('openssl').map((a) => a.fixed);
    const latestFix = opensslFixes.reduce((a, b) => (dpkgLess(a, b) ? b : a));
    const osLayer = (openssl: string) =>
      tarGz({
        'etc/os-release': OS_RELEASE,
        'var/lib/dpkg/status': dpkgStatus([
          { name: 'openssl', version: openssl },
          { name: 'libssl1.1', version: openssl, source: 'openssl' },
          { name: 'base-files', version: '11.1+deb11u9' },
        ]),
      });
    const appLayer = (lodash: string, urllib3: string) =>
      tarGz({
        'app/package-lock.json': packageLock({ lodash }),
        [`usr/lib/python3/dist-packages/urllib3-${urllib3}.dist-info/METADATA`]: `Metadata-Version: 2.1\nName: urllib3\nVersion: ${urllib3}\n\nHTTP library\n`,
      });
    vulnerableLayers = [await osLayer(opensslVersion), await appLayer('4.17.11', '1.26.4')];
    patchedLayers = [await osLayer(latestFix), await appLayer('4.17.21', '2.2.2')];
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'scan/app' }));
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'basic/app', imageScanningConfiguration: { scanOnPush: true } }));
  });
  after(async () => {
    await t?.close();
  });

  test('registry configuration: ENHANCED with scan-on-push and continuous rules; invalid ones are refused and change nothing', async () => {
    const before = await t.ecr.send(new GetRegistryScanningConfigurationCommand({}));
    assert.deepEqual(before.scanningConfiguration, { scanType: 'BASIC', rules: [] });
    const bad = await refusal(t.ecr.send(new PutRegistryScanningConfigurationCommand({ scanType: 'BASIC', rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'scan/*', filterType: 'WILDCARD' }] }] })));
    assert.equal(bad.name, 'InvalidParameterException');
    assert.deepEqual((await t.ecr.send(new GetRegistryScanningConfigurationCommand({}))).scanningConfiguration, { scanType: 'BASIC', rules: [] });

    await t.ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'ENHANCED',
        rules: [
          { scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'scan/*', filterType: 'WILDCARD' }] },
          { scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'basic', filterType: 'WILDCARD' }] },
        ],
      }),
    );
    const got = await t.ecr.send(new BatchGetRepositoryScanningConfigurationCommand({ repositoryNames: ['scan/app', 'basic/app', 'scan/none'] }));
    const byName = new Map(got.scanningConfigurations?.map((c) => [c.repositoryName, c]));
    assert.equal(byName.get('scan/app')?.scanFrequency, 'CONTINUOUS_SCAN');
    assert.deepEqual(byName.get('scan/app')?.appliedScanFilters, [{ filter: 'scan/*', filterType: 'WILDCARD' }]);
    assert.equal(byName.get('basic/app')?.scanFrequency, 'SCAN_ON_PUSH', 'a filter without * matches names containing it');
    assert.deepEqual(got.failures, [{ repositoryName: 'scan/none', failureCode: 'REPOSITORY_NOT_FOUND', failureReason: 'REPOSITORY_NOT_FOUND' }]);
  });

  test('enhanced scan on push: OS findings are exactly the Debian advisories the real dpkg says apply; npm and PyPI findings too', async () => {
    const digest = await pushImage('scan/app', 'v1', vulnerableLayers);
    const r = await findings('scan/app', 'v1');
    assert.equal(r.imageScanStatus?.status, 'COMPLETE', r.imageScanStatus?.description);
    const enhanced = r.imageScanFindings?.enhancedFindings ?? [];
    assert.equal(r.imageScanFindings?.findings, undefined, 'enhanced scans report enhancedFindings');

    const idsOf = (pkg: string): Set<string> =>
      new Set(
        enhanced
          .filter((f) => f.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.name === pkg)
          .flatMap((f) => [f.packageVulnerabilityDetails?.vulnerabilityId ?? '', ...(f.packageVulnerabilityDetails?.relatedVulnerabilities ?? [])]),
      );
    const expected = new Set(debianAdvisories('openssl').filter((a) => dpkgLess(opensslVersion, a.fixed)).map((a) => a.id));
    assert.ok(expected.size > 3, `the corpus has openssl advisories after ${opensslVersion}`);
    for (const pkg of ['openssl', 'libssl1.1']) {
      const found = idsOf(pkg);
      for (const id of expected) assert.ok(found.has(id), `${pkg}: ${id} applies`);
      for (const id of found) if (/^D[SL]A-/.test(id)) assert.ok(expected.has(id), `${pkg}: ${id} does not apply`);
    }
    assert.equal(idsOf('base-files').size, 0);
    assert.ok(idsOf('lodash').has('CVE-2019-10744'), 'lodash 4.17.11 is affected by CVE-2019-10744 (fixed in 4.17.12)');
    assert.ok(idsOf('urllib3').size > 0, 'urllib3 1.26.4 has advisories');

    const lodash = enhanced.find((f) => f.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.name === 'lodash' && f.packageVulnerabilityDetails.vulnerabilityId === 'CVE-2019-10744');
    const pkg = lodash?.packageVulnerabilityDetails?.vulnerablePackages?.[0];
    assert.equal(pkg?.packageManager, 'NPM');
    assert.equal(pkg?.filePath, 'app/package-lock.json');
    assert.equal(pkg?.sourceLayerHash, sha256(vulnerableLayers[1] as Buffer));
    assert.ok(pkg?.fixedInVersion !== undefined);
    assert.equal(lodash?.resources?.[0]?.details?.awsEcrContainerImage?.imageHash, digest);

    // The counts add up, in DescribeImages too.
    const counts = r.imageScanFindings?.findingSeverityCounts ?? {};
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), enhanced.length);
    const d = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: 'scan/app', imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0];
    assert.equal(d?.imageScanStatus?.status, 'COMPLETE');
    assert.deepEqual(d?.imageScanFindingsSummary?.findingSeverityCounts, counts);

    const events = await t.app.meta.db.selectFrom('events').selectAll().where('type', '=', 'ECR Image Scan').where('digest', '=', digest).execute();
    assert.equal(events.length, 1);
    assert.equal((JSON.parse(events[0]?.detail ?? '{}') as { 'scan-status': string })['scan-status'], 'COMPLETE');
  });

  test('pages of findings', async () => {
    const all = (await findings('scan/app', 'v1')).imageScanFindings?.enhancedFindings ?? [];
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await t.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'v1' }, maxResults: 3, ...(token !== undefined ? { nextToken: token } : {}) }));
      seen.push(...(page.imageScanFindings?.enhancedFindings ?? []).map((f) => f.findingArn ?? ''));
      token = page.nextToken;
    } while (token !== undefined);
    assert.deepEqual(seen, all.map((f) => f.findingArn ?? ''));
  });

  test('a patched image has no findings', async () => {
    await pushImage('scan/app', 'patched', patchedLayers);
    const r = await findings('scan/app', 'patched');
    assert.equal(r.imageScanStatus?.status, 'COMPLETE');
    assert.deepEqual(
      (r.imageScanFindings?.enhancedFindings ?? []).map((f) => `${f.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.name} ${f.title}`),
      [],
    );
  });

  test('basic scanning (repository scanOnPush under a BASIC registry) reports OS packages only, as findings with attributes', async () => {
    await t.ecr.send(new PutRegistryScanningConfigurationCommand({ scanType: 'BASIC', rules: [] }));
    await pushImage('basic/app', 'v1', vulnerableLayers);
    const r = await findings('basic/app', 'v1');
    assert.equal(r.imageScanStatus?.status, 'COMPLETE');
    const basic = r.imageScanFindings?.findings ?? [];
    assert.ok(basic.length > 0);
    assert.equal(r.imageScanFindings?.enhancedFindings, undefined);
    const pkgs = new Set(basic.map((f) => f.attributes?.find((a) => a.key === 'package_name')?.value));
    assert.deepEqual([...pkgs].sort(), ['libssl1.1', 'openssl']);
  });

  test('a data update re-evaluates stored inventories of continuously scanned repositories, without reading a layer', async () => {
    await t.ecr.send(new PutRegistryScanningConfigurationCommand({ scanType: 'ENHANCED', rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'scan/*', filterType: 'WILDCARD' }] }] }));
    const before = await findings('scan/app', 'patched');
    assert.equal(before.imageScanFindings?.enhancedFindings?.length, 0);
    // The layers are gone from storage: a re-evaluation cannot read them.
    for (const l of patchedLayers) {
      await t.app.storage.delete(blobKey(sha256(l)));
      assert.equal(await t.app.storage.stat(blobKey(sha256(l))), null);
    }
    const dir = mkdtempSync(join(tmpdir(), 'berth-osv-'));
    try {
      writeFileSync(
        join(dir, 'BERTH-TEST-2026-1.json'),
        JSON.stringify({
          id: 'BERTH-TEST-2026-1',
          modified: '2026-12-01T00:00:00Z',
          published: '2026-12-01T00:00:00Z',
          aliases: ['CVE-2026-99999'],
          summary: 'a newly published lodash advisory (test data)',
          severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
          affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '4.17.20' }, { fixed: '4.17.22' }] }] }],
        }),
      );
      const imported = await importAdvisories(t.app.meta, dir, { name: 'berth-test' });
      assert.equal(imported.changed, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const r = await t.app.scans.rescan();
    assert.ok(r.evaluated >= 2, `both scan/app images were evaluated again (${JSON.stringify(r)})`);
    const after = await findings('scan/app', 'patched');
    const found = (after.imageScanFindings?.enhancedFindings ?? []).map((f) => [f.packageVulnerabilityDetails?.vulnerabilityId, f.severity, f.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.fixedInVersion]);
    assert.deepEqual(found, [['CVE-2026-99999', 'CRITICAL', '4.17.22']]);
    const basic = await findings('basic/app', 'v1');
    assert.ok(!(basic.imageScanFindings?.findings ?? []).some((f) => f.name === 'CVE-2026-99999'), 'a BASIC repository is not re-evaluated');
  });

  test("SBOMs: berth's endpoint and `berth sbom` give the scanned inventory as CycloneDX and SPDX; --attach stores it as a referrer", async () => {
    const cdx = await t.fetch('/v2/scan/app/_berth/sbom/v1');
    assert.equal(cdx.status, 200);
    assert.equal(cdx.headers.get('content-type'), 'application/vnd.cyclonedx+json');
    const bom = (await cdx.json()) as { bomFormat: string; specVersion: string; components: Array<{ name: string; version: string; purl?: string }> };
    assert.equal(bom.bomFormat, 'CycloneDX');
    const names = bom.components.map((c) => `${c.name}@${c.version}`);
    for (const want of [`openssl@${opensslVersion}`, `libssl1.1@${opensslVersion}`, 'lodash@4.17.11', 'urllib3@1.26.4']) assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
    const spdx = (await (await t.fetch('/v2/scan/app/_berth/sbom/v1?format=spdx')).json()) as { spdxVersion: string; packages: Array<{ name: string }> };
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    assert.ok(spdx.packages.some((p) => p.name === 'lodash'));
    assert.equal((await t.fetch('/v2/scan/app/_berth/sbom/v1?format=xml')).status, 400);
    assert.equal((await t.fetch('/v2/scan/app/_berth/sbom/nope')).status, 404);
    assert.equal((await t.fetch('/v2/scan/app/_berth/sbom/v1', { headers: { authorization: 'Basic bm86bm8=' } })).status, 401);

    const berth = async (args: string[]): Promise<{ code: number; out: string[] }> => {
      const out: string[] = [];
      const code = await main([...args, '--data-dir', t.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, BERTH_LOG_LEVEL: 'silent' } });
      return { code, out };
    };
    const printed = await berth(['sbom', 'scan/app:v1', '--format', 'spdx']);
    assert.equal(printed.code, 0, printed.out.join('\n'));
    assert.equal((JSON.parse(printed.out.join('\n')) as { spdxVersion: string }).spdxVersion, 'SPDX-2.3');
    assert.notEqual((await berth(['sbom', 'scan/app:nope'])).code, 0);
    assert.notEqual((await berth(['sbom', 'scan/app:v1', '--format', 'xml'])).code, 0);
    const attached = await berth(['sbom', 'scan/app:v1', '--attach']);
    assert.equal(attached.code, 0, attached.out.join('\n'));
    const digest = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: 'scan/app', imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0]?.imageDigest ?? '';
    const index = (await (await t.fetch(`/v2/scan/app/referrers/${digest}`)).json()) as { manifests: Array<{ artifactType: string; digest: string }> };
    const ref = index.manifests.find((m) => m.artifactType === 'application/vnd.cyclonedx+json');
    assert.ok(ref !== undefined, JSON.stringify(index));
    const manifest = (await (await t.fetch(`/v2/scan/app/manifests/${ref.digest}`, { headers: { accept: MANIFEST } })).json()) as { layers: Array<{ digest: string }> };
    const blob = (await (await t.fetch(`/v2/scan/app/blobs/${manifest.layers[0]?.digest ?? ''}`)).json()) as { bomFormat: string };
    assert.equal(blob.bomFormat, 'CycloneDX');
  });

  test('quarantine (beyond ECR): pulls of images with findings at the threshold are DENIED naming them, until exempted; repository overrides', async () => {
    const berth = async (args: string[]): Promise<{ code: number; out: string[] }> => {
      const out: string[] = [];
      const code = await main([...args, '--data-dir', t.dataDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: { ...process.env, BERTH_LOG_LEVEL: 'silent' } });
      t.app.quarantine.invalidate();
      return { code, out };
    };
    const pull = async (ref: string) => await t.fetch(`/v2/scan/app/manifests/${ref}`, { headers: { accept: MANIFEST } });
    assert.equal((await pull('v1')).status, 200, 'no quarantine by default');
    assert.equal((await berth(['quarantine', 'set', 'HIGH'])).code, 0);
    const denied = await pull('v1');
    assert.equal(denied.status, 403);
    const body = (await denied.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, 'DENIED');
    assert.match(body.errors[0]?.message ?? '', /quarantined: \d+ findings? at or above HIGH: CVE-/);
    assert.equal((await t.fetch('/v2/scan/app/manifests/v1', { method: 'HEAD', headers: { accept: MANIFEST } })).status, 403);
    await pushImage('scan/app', 'clean', [await tarGz({ 'etc/os-release': OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus([{ name: 'base-files', version: '11.1+deb11u9' }]) })]);
    assert.equal((await findings('scan/app', 'clean')).imageScanStatus?.status, 'COMPLETE');
    assert.equal((await pull('clean')).status, 200, 'an image without such findings pulls');
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'noscan/app' }));
    await pushImage('noscan/app', 'v1', vulnerableLayers);
    assert.equal((await t.fetch('/v2/noscan/app/manifests/v1', { headers: { accept: MANIFEST } })).status, 200, 'an image never scanned pulls');
    // A repository may turn it off; then on again.
    assert.equal((await berth(['quarantine', 'set', 'OFF', '--repository', 'scan/app'])).code, 0);
    assert.equal((await pull('v1')).status, 200);
    assert.equal((await berth(['quarantine', 'set', 'CRITICAL', '--repository', 'scan/app'])).code, 0);
    const digest = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: 'scan/app', imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0]?.imageDigest ?? '';
    const critical = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: 'scan/app', imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0]?.imageScanFindingsSummary?.findingSeverityCounts?.CRITICAL ?? 0;
    assert.equal((await pull('v1')).status, critical > 0 ? 403 : 200, 'CRITICAL and above only');
    assert.equal((await berth(['quarantine', 'set', 'LOW', '--repository', 'scan/app'])).code, 0);
    assert.equal((await pull('v1')).status, 403);
    assert.equal((await berth(['quarantine', 'exempt', `scan/app@${digest}`])).code, 0);
    assert.equal((await pull('v1')).status, 200, 'an exempted digest pulls');
    assert.equal((await berth(['quarantine', 'unexempt', `scan/app@${digest}`])).code, 0);
    assert.equal((await pull('v1')).status, 403);
    // Bad input changes nothing.
    assert.notEqual((await berth(['quarantine', 'set', 'SEVERE'])).code, 0);
    assert.notEqual((await berth(['quarantine', 'exempt', 'scan/none@sha256:00'])).code, 0);
    const shown = await berth(['quarantine', 'show']);
    assert.ok(shown.out.some((l) => l.includes('registry') && l.endsWith('HIGH')), shown.out.join('\n'));
    assert.equal((await berth(['quarantine', 'set', 'OFF'])).code, 0);
    assert.equal((await berth(['quarantine', 'set', 'OFF', '--repository', 'scan/app'])).code, 0);
    assert.equal((await pull('v1')).status, 200);
  });

  test('bad input: unknown images, artifacts, archived images, no scan yet, hostile layers', async () => {
    assert.equal((await refusal(t.ecr.send(new StartImageScanCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'nope' } })))).name, 'ImageNotFoundException');
    assert.equal((await refusal(t.ecr.send(new StartImageScanCommand({ repositoryName: 'scan/none', imageId: { imageTag: 'v1' } })))).name, 'RepositoryNotFoundException');
    const artifact = await pushImage('scan/app', 'artifact', [await tarGz({ 'x.txt': 'x' })], { architecture: 'amd64', os: 'linux' }).then(async () => {
      const cfg = Buffer.from('{}');
      await t.fetch(`/v2/scan/app/blobs/uploads/?digest=${sha256(cfg)}`, { method: 'POST', body: cfg });
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/vnd.example.sbom', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(cfg), size: 2 }, layers: [] });
      assert.equal((await t.fetch('/v2/scan/app/manifests/sbom', { method: 'PUT', body, headers: { 'content-type': MANIFEST } })).status, 201);
      return 'sbom';
    });
    assert.equal((await refusal(t.ecr.send(new StartImageScanCommand({ repositoryName: 'scan/app', imageId: { imageTag: artifact } })))).name, 'UnsupportedImageTypeException');
    const noScan = await refusal(t.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scan/app', imageId: { imageTag: artifact } })));
    assert.equal(noScan.name, 'ScanNotFoundException');

    await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'v1' }, targetStorageClass: 'ARCHIVE' }));
    assert.equal((await refusal(t.ecr.send(new StartImageScanCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'v1' } })))).name, 'ImageArchivedException');
    await t.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'v1' }, targetStorageClass: 'STANDARD' }));

    // Corrupt gzip, and a tar entry escaping the root: the scan fails or ignores it, the registry stays healthy.
    const corrupt = Buffer.concat([(await tarGz({ 'etc/os-release': OS_RELEASE })).subarray(0, 40), Buffer.from('not gzip any more')]);
    await pushImage('scan/app', 'corrupt', [corrupt]);
    const failed = await findings('scan/app', 'corrupt');
    assert.equal(failed.imageScanStatus?.status, 'FAILED');
    assert.match(failed.imageScanStatus?.description ?? '', /\S/);
    const escaping = await tarGz({ '../../etc/os-release': OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus([{ name: 'openssl', version: opensslVersion }]) });
    await pushImage('scan/app', 'escape', [escaping]);
    const esc = await findings('scan/app', 'escape');
    assert.equal(esc.imageScanStatus?.status, 'COMPLETE', 'the ../ entry is ignored, never followed');
    assert.equal((await t.fetch('/v2/scan/app/manifests/v1', { headers: { accept: MANIFEST } })).status, 200, 'the registry still serves');
    const again = await t.ecr.send(new StartImageScanCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'v1' } }));
    assert.equal(again.imageScanStatus?.status, 'IN_PROGRESS');
    assert.equal((await findings('scan/app', 'v1')).imageScanStatus?.status, 'COMPLETE');
  });
});
