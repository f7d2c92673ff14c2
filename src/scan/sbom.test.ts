import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Inventory, Package } from './types.ts';
import { imagePurl, spdxExpression, toCycloneDx, toSpdx, type SbomImage } from './sbom.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const LAYER_1 = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';
const LAYER_2 = 'sha256:2222222222222222222222222222222222222222222222222222222222222222';
const NOW = new Date('2024-05-01T10:20:30.456Z');
const SERIAL = '3e671687-395b-41f5-a30f-a58921a69b79';
const NAMESPACE = 'https://berth.example/spdx/team/app/1';
const IMAGE: SbomImage = { repository: 'team/App', digest: DIGEST, registryUrl: 'https://registry.example:5000/', tags: ['latest', 'v1'] };

const lodash = (path: string): Package => ({
  name: 'lodash',
  version: '4.17.20',
  ecosystem: 'npm',
  kind: 'lang',
  layerDigest: LAYER_2,
  path,
  purl: 'pkg:npm/lodash@4.17.20',
  licenses: ['MIT'],
});

const INVENTORY: Inventory = {
  os: { id: 'debian', versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  packages: [
    {
      name: 'libssl3',
      version: '3.0.11-1~deb12u2',
      ecosystem: 'Debian:12',
      kind: 'os',
      sourceName: 'openssl',
      sourceVersion: '3.0.11-1~deb12u2',
      layerDigest: LAYER_1,
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=arm64&distro=debian-12',
      licenses: ['Apache-2.0'],
      arch: 'arm64',
    },
    lodash('app/node_modules/lodash/package.json'),
    lodash('app/node_modules/other/node_modules/lodash/package.json'),
    // The same package read twice from the same place: still two identifiers.
    lodash('app/node_modules/lodash/package.json'),
    { name: '@scope/odd name_ü!', version: '1.0.0+build/7', ecosystem: 'npm', kind: 'lang', layerDigest: LAYER_2, path: 'odd/package.json', licenses: ['MIT', 'Apache-2.0 OR BSD-3-Clause'] },
    { name: 'zlib', version: '1.2.13', ecosystem: 'Debian:12', kind: 'os', layerDigest: LAYER_1, path: 'var/lib/dpkg/status', licenses: ['see the copyright file'] },
  ],
};

describe('toCycloneDx', () => {
  const bom = toCycloneDx(IMAGE, INVENTORY, { now: NOW, serial: SERIAL });

  test('has the required top-level fields of CycloneDX 1.5', () => {
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.5');
    assert.equal(bom.serialNumber, `urn:uuid:${SERIAL}`);
    assert.equal(bom.version, 1);
    assert.equal(bom.metadata.timestamp, '2024-05-01T10:20:30.456Z');
    assert.deepEqual(bom.metadata.tools, { components: [{ type: 'application', name: 'berth', version: VERSION }] });
  });

  test('describes the image as a container component with its oci purl, tags and platform', () => {
    assert.deepEqual(bom.metadata.component, {
      type: 'container',
      'bom-ref': 'image',
      name: 'team/App',
      version: DIGEST,
      purl: `pkg:oci/app@sha256%3A${DIGEST.slice(7)}?repository_url=registry.example:5000/team/App`,
      properties: [
        { name: 'berth:image:platform', value: 'linux/arm64/v8' },
        { name: 'berth:image:tag', value: 'latest' },
        { name: 'berth:image:tag', value: 'v1' },
      ],
    });
  });

  test('lists the distribution and every package, with where berth found it', () => {
    assert.deepEqual(bom.components[0], { type: 'operating-system', 'bom-ref': 'operating-system', name: 'debian', version: '12', description: 'Debian GNU/Linux 12 (bookworm)' });
    assert.equal(bom.components.length, 1 + INVENTORY.packages.length);
    const libssl = bom.components[1]!;
    assert.equal(libssl.type, 'library');
    assert.equal(libssl.name, 'libssl3');
    assert.equal(libssl.version, '3.0.11-1~deb12u2');
    assert.equal(libssl.purl, INVENTORY.packages[0]!.purl);
    assert.deepEqual(libssl.licenses, [{ expression: 'Apache-2.0' }]);
    assert.deepEqual(libssl.properties, [
      { name: 'berth:package:ecosystem', value: 'Debian:12' },
      { name: 'berth:layer_digest', value: LAYER_1 },
      { name: 'berth:package:path', value: 'var/lib/dpkg/status' },
      { name: 'berth:package:arch', value: 'arm64' },
      { name: 'berth:package:source_name', value: 'openssl' },
      { name: 'berth:package:source_version', value: '3.0.11-1~deb12u2' },
    ]);
    const odd = bom.components[5]!;
    assert.equal(odd.name, '@scope/odd name_ü!');
    assert.equal('purl' in odd, false);
    assert.deepEqual(odd.licenses, [{ expression: 'MIT AND (Apache-2.0 OR BSD-3-Clause)' }]);
    assert.deepEqual(bom.components[6]!.licenses, [{ license: { name: 'see the copyright file' } }]);
  });

  test('gives every component its own bom-ref, also to copies of one package at different paths or at the same', () => {
    const refs = [bom.metadata.component, ...bom.components].map((c) => c['bom-ref']);
    assert.equal(new Set(refs).size, refs.length);
    const lodashRefs = bom.components.filter((c) => c.name === 'lodash').map((c) => c['bom-ref']);
    assert.equal(lodashRefs.length, 3);
    assert.equal(lodashRefs[2], `${lodashRefs[0]}-2`);
    for (const ref of refs) assert.match(ref, /^[A-Za-z0-9.-]+$/);
  });

  test('is the same for the same input, time and serial, and survives a JSON round trip unchanged', () => {
    assert.deepEqual(toCycloneDx(IMAGE, INVENTORY, { now: NOW, serial: SERIAL }), bom);
    assert.deepEqual(JSON.parse(JSON.stringify(bom)), bom);
  });

  test('a fresh random serial and the current time when none are given', () => {
    const a = toCycloneDx(IMAGE, INVENTORY);
    const b = toCycloneDx(IMAGE, INVENTORY);
    assert.match(a.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.ok(!Number.isNaN(Date.parse(a.metadata.timestamp)));
  });

  test('refuses a serial that is not a UUID', () => {
    assert.throws(() => toCycloneDx(IMAGE, INVENTORY, { serial: 'not-a-uuid' }), /serial must be a lowercase UUID/);
  });

  test('an image without a known distribution has no operating-system component', () => {
    const bare = toCycloneDx({ repository: 'x', digest: DIGEST }, { platform: { os: 'linux', architecture: 'amd64' }, packages: [] }, { now: NOW, serial: SERIAL });
    assert.deepEqual(bare.components, []);
    assert.deepEqual(bare.metadata.component.properties, [{ name: 'berth:image:platform', value: 'linux/amd64' }]);
  });
});

describe('toSpdx', () => {
  const doc = toSpdx(IMAGE, INVENTORY, { now: NOW, namespace: NAMESPACE });

  test('has the required document fields of SPDX 2.3', () => {
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    assert.equal(doc.dataLicense, 'CC0-1.0');
    assert.equal(doc.SPDXID, 'SPDXRef-DOCUMENT');
    assert.equal(doc.name, `team/App@${DIGEST}`);
    assert.equal(doc.documentNamespace, NAMESPACE);
    assert.deepEqual(doc.creationInfo, { created: '2024-05-01T10:20:30Z', creators: [`Tool: berth-${VERSION}`] });
  });

  test('the image, the distribution and every package, each with a unique SPDXID of valid characters only', () => {
    assert.equal(doc.packages.length, 2 + INVENTORY.packages.length);
    const ids = doc.packages.map((p) => p.SPDXID);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^SPDXRef-[A-Za-z0-9.-]+$/);
    assert.match(ids[6]!, /^SPDXRef-Package-npm-scope-odd-name-1\.0\.0-build-7-[0-9a-f]{12}$/);
    for (const p of doc.packages) {
      assert.equal(p.downloadLocation, 'NOASSERTION');
      assert.equal(p.filesAnalyzed, false);
      assert.equal(p.licenseConcluded, 'NOASSERTION');
    }
  });

  test('describes the image, which contains everything else', () => {
    const [image, ...rest] = doc.packages;
    assert.deepEqual(image, {
      SPDXID: 'SPDXRef-Image',
      name: 'team/App',
      versionInfo: DIGEST,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      copyrightText: 'NOASSERTION',
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      primaryPackagePurpose: 'CONTAINER',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(IMAGE) }],
    });
    assert.deepEqual(doc.relationships, [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' },
      ...rest.map((p) => ({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    ]);
  });

  test('packages carry version, purl, declared license expression and where they were found', () => {
    const os = doc.packages[1]!;
    assert.equal(os.SPDXID, 'SPDXRef-OperatingSystem');
    assert.equal(os.primaryPackagePurpose, 'OPERATING_SYSTEM');
    assert.equal(os.versionInfo, '12');
    const libssl = doc.packages[2]!;
    assert.equal(libssl.name, 'libssl3');
    assert.equal(libssl.versionInfo, '3.0.11-1~deb12u2');
    assert.equal(libssl.licenseDeclared, 'Apache-2.0');
    assert.equal(libssl.sourceInfo, `found in var/lib/dpkg/status of layer ${LAYER_1}; source package openssl 3.0.11-1~deb12u2`);
    assert.deepEqual(libssl.externalRefs, [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: INVENTORY.packages[0]!.purl }]);
    assert.equal(doc.packages[6]!.licenseDeclared, 'MIT AND (Apache-2.0 OR BSD-3-Clause)');
    assert.equal('externalRefs' in doc.packages[6]!, false);
    assert.equal(doc.packages[7]!.licenseDeclared, 'NOASSERTION');
  });

  test('is the same for the same input, time and namespace, and survives a JSON round trip unchanged', () => {
    assert.deepEqual(toSpdx(IMAGE, INVENTORY, { now: NOW, namespace: NAMESPACE }), doc);
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  });

  test('a fresh unique namespace URI when none is given', () => {
    const a = toSpdx(IMAGE, INVENTORY).documentNamespace;
    const b = toSpdx(IMAGE, INVENTORY).documentNamespace;
    assert.notEqual(a, b);
    assert.ok(URL.canParse(a), a);
    assert.equal(a.includes('#'), false);
  });
});

describe('imagePurl', () => {
  test('names the repository by its last segment, lower-cased, and the digest as version', () => {
    assert.equal(imagePurl({ repository: 'library/Debian', digest: DIGEST }), `pkg:oci/debian@sha256%3A${DIGEST.slice(7)}`);
    assert.equal(imagePurl({ repository: 'app', digest: DIGEST, registryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com' }), `pkg:oci/app@sha256%3A${DIGEST.slice(7)}?repository_url=123456789012.dkr.ecr.us-east-1.amazonaws.com/app`);
    assert.equal(imagePurl({ repository: 'a/b', digest: DIGEST, registryUrl: 'http://localhost:5000' }), `pkg:oci/b@sha256%3A${DIGEST.slice(7)}?repository_url=localhost:5000/a/b`);
  });
});

describe('spdxExpression', () => {
  test('joins well-formed expressions with AND, once each', () => {
    assert.equal(spdxExpression(['MIT']), 'MIT');
    assert.equal(spdxExpression(['MIT', ' MIT ', 'ISC']), 'MIT AND ISC');
    assert.equal(spdxExpression(['GPL-2.0-only WITH Classpath-exception-2.0']), 'GPL-2.0-only WITH Classpath-exception-2.0');
    assert.equal(spdxExpression(['(MIT OR Apache-2.0) AND LicenseRef-Custom', 'GPL-2.0+']), '((MIT OR Apache-2.0) AND LicenseRef-Custom) AND GPL-2.0+');
    assert.equal(spdxExpression(['DocumentRef-other:LicenseRef-x']), 'DocumentRef-other:LicenseRef-x');
  });

  test('gives nothing when any is not a well-formed expression', () => {
    for (const bad of ['', 'MIT OR', 'AND MIT', '(MIT', 'MIT)', 'MIT WITH', 'MIT WITH AND', 'public domain', 'MIT/X11', 'GPL v2', 'MIT or Apache-2.0', '((('.repeat(400)]) {
      assert.equal(spdxExpression([bad]), undefined, bad);
      assert.equal(spdxExpression(['MIT', bad]), undefined, bad);
    }
    assert.equal(spdxExpression([]), undefined);
    assert.equal(spdxExpression(undefined), undefined);
  });
});
