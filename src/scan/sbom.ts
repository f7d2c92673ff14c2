// An image's inventory as a software bill of materials: CycloneDX 1.5 JSON
// (https://cyclonedx.org/docs/1.5/json/) and SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/).
// The image is the BOM's subject (a `container` component; an SPDX package that the document
// DESCRIBES and that CONTAINS every other), with its distribution as an operating-system component
// and each package as a library with its purl. Where berth found a package (layer digest, path) and
// its source package go into CycloneDX properties (berth:*) and SPDX `sourceInfo`. Identifiers
// (bom-ref, SPDXID) are derived from the package and where it was found, so two copies of one
// package at different paths stay distinct and the output is the same for the same input, time
// and serial/namespace. The image's purl follows the purl spec's `oci` type. Licenses are written
// as an SPDX expression when every declared one is a well-formed expression, else as names
// (CycloneDX) or NOASSERTION (SPDX); the check is syntactic (SPDX 2.3 Annex D), the identifiers are
// not looked up in the SPDX License List.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Inventory, Package } from './types.ts';

const BERTH_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The image a BOM describes. `registryUrl` (host[:port], with or without scheme) completes the image's purl. */
export interface SbomImage {
  repository: string;
  digest: string;
  registryUrl?: string;
  tags?: string[];
}

export interface CycloneDxProperty {
  name: string;
  value: string;
}

export type CycloneDxLicense = { expression: string } | { license: { name: string } };

export interface CycloneDxComponent {
  type: 'container' | 'operating-system' | 'library';
  'bom-ref': string;
  name: string;
  version?: string;
  description?: string;
  purl?: string;
  licenses?: CycloneDxLicense[];
  properties?: CycloneDxProperty[];
}

export interface CycloneDxBom {
  $schema: string;
  bomFormat: 'CycloneDX';
  specVersion: '1.5';
  serialNumber: string;
  version: number;
  metadata: {
    timestamp: string;
    tools: { components: { type: 'application'; name: string; version: string }[] };
    component: CycloneDxComponent;
  };
  components: CycloneDxComponent[];
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  description?: string;
  downloadLocation: 'NOASSERTION';
  filesAnalyzed: false;
  licenseConcluded: string;
  licenseDeclared: string;
  copyrightText: 'NOASSERTION';
  primaryPackagePurpose: 'CONTAINER' | 'OPERATING_SYSTEM' | 'LIBRARY';
  sourceInfo?: string;
  externalRefs?: { referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }[];
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  relationships: { spdxElementId: string; relationshipType: 'DESCRIBES' | 'CONTAINS'; relatedSpdxElement: string }[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IMAGE_REF = 'image';
const OS_REF = 'operating-system';

/** The inventory as a CycloneDX 1.5 BOM. `serial` is the BOM's UUID (random when unset). */
export function toCycloneDx(image: SbomImage, inventory: Inventory, opts: { now?: Date; serial?: string } = {}): CycloneDxBom {
  const serial = opts.serial ?? randomUUID();
  if (!UUID.test(serial)) throw new TypeError(`serial must be a lowercase UUID, not ${serial}`);
  const ids = packageIds(inventory.packages);
  const { os, platform } = inventory;
  const imageProperties = [
    { name: 'berth:image:platform', value: [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined).join('/') },
    ...(image.tags ?? []).map((tag) => ({ name: 'berth:image:tag', value: tag })),
  ];
  const osComponent: CycloneDxComponent[] =
    os === undefined ? [] : [{ type: 'operating-system', 'bom-ref': OS_REF, name: os.id, version: os.versionId, description: os.prettyName }];
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${serial}`,
    version: 1,
    metadata: {
      timestamp: (opts.now ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: 'berth', version: BERTH_VERSION }] },
      component: { type: 'container', 'bom-ref': IMAGE_REF, name: image.repository, version: image.digest, purl: imagePurl(image), properties: imageProperties },
    },
    components: [
      ...osComponent,
      ...inventory.packages.map((p, i): CycloneDxComponent => ({
        type: 'library',
        'bom-ref': `package-${ids[i]}`,
        name: p.name,
        version: p.version,
        purl: p.purl,
        licenses: cycloneDxLicenses(p.licenses),
        properties: packageProperties(p),
      })),
    ].map(withoutUndefined),
  };
}

/** The inventory as an SPDX 2.3 document. `namespace` is its documentNamespace (unique per document; a random URI when unset). */
export function toSpdx(image: SbomImage, inventory: Inventory, opts: { now?: Date; namespace?: string } = {}): SpdxDocument {
  const ids = packageIds(inventory.packages);
  const { os } = inventory;
  const imageId = 'SPDXRef-Image';
  const noLicense = { licenseConcluded: 'NOASSERTION', licenseDeclared: 'NOASSERTION' };
  const common = { downloadLocation: 'NOASSERTION', filesAnalyzed: false, copyrightText: 'NOASSERTION' } as const;
  const packages: SpdxPackage[] = [
    {
      SPDXID: imageId,
      name: image.repository,
      versionInfo: image.digest,
      ...common,
      ...noLicense,
      primaryPackagePurpose: 'CONTAINER',
      externalRefs: [purlRef(imagePurl(image))],
    },
  ];
  if (os !== undefined) {
    packages.push({ SPDXID: 'SPDXRef-OperatingSystem', name: os.id, versionInfo: os.versionId, description: os.prettyName, ...common, ...noLicense, primaryPackagePurpose: 'OPERATING_SYSTEM' });
  }
  inventory.packages.forEach((p, i) => {
    packages.push({
      SPDXID: `SPDXRef-Package-${ids[i]}`,
      name: p.name,
      versionInfo: p.version,
      ...common,
      // berth reads what a package declares and concludes nothing of its own.
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: spdxExpression(p.licenses) ?? 'NOASSERTION',
      primaryPackagePurpose: 'LIBRARY',
      sourceInfo: sourceInfo(p),
      externalRefs: p.purl === undefined ? undefined : [purlRef(p.purl)],
    });
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${image.repository}@${image.digest}`,
    documentNamespace: opts.namespace ?? `https://berth.invalid/spdx/${image.repository}/${image.digest}/${randomUUID()}`,
    creationInfo: {
      // SPDX wants whole seconds: YYYY-MM-DDThh:mm:ssZ.
      created: (opts.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      creators: [`Tool: berth-${BERTH_VERSION}`],
    },
    packages: packages.map(withoutUndefined),
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
      ...packages.slice(1).map((p) => ({ spdxElementId: imageId, relationshipType: 'CONTAINS' as const, relatedSpdxElement: p.SPDXID })),
    ],
  };
}

/**
 * The image's purl (purl spec, type `oci`): the repository's last segment as name, the digest as
 * version, and where the repository lives as `repository_url` when the registry is known.
 */
export function imagePurl(image: SbomImage): string {
  const name = image.repository.split('/').pop()!.toLowerCase();
  const base = `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(image.digest)}`;
  if (image.registryUrl === undefined) return base;
  const host = image.registryUrl.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
  // Qualifier values are percent-encoded; `/` and `:` may stay as they are (as in the spec's examples).
  return `${base}?repository_url=${encodeURIComponent(`${host}/${image.repository}`).replace(/%2F/g, '/').replace(/%3A/g, ':')}`;
}

/**
 * One identifier per package, made of characters both formats allow (letters, digits, `.`, `-`):
 * ecosystem, name and version for a reader, a hash of where it was found for uniqueness, and a
 * counter for packages that are identical in every respect.
 */
function packageIds(packages: Package[]): string[] {
  const seen = new Map<string, number>();
  return packages.map((p) => {
    const where = createHash('sha256').update(JSON.stringify([p.ecosystem, p.name, p.version, p.layerDigest, p.path, p.arch ?? null])).digest('hex');
    const readable = `${p.ecosystem}-${p.name}-${p.version}`
      .replace(/[^A-Za-z0-9.-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .slice(0, 100)
      .replace(/^-|-$/g, '');
    const id = `${readable}-${where.slice(0, 12)}`;
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    return n === 1 ? id : `${id}-${n}`;
  });
}

function packageProperties(p: Package): CycloneDxProperty[] {
  const properties: [string, string | undefined][] = [
    ['berth:package:ecosystem', p.ecosystem],
    ['berth:layer_digest', p.layerDigest],
    ['berth:package:path', p.path],
    ['berth:package:arch', p.arch],
    ['berth:package:source_name', p.sourceName],
    ['berth:package:source_version', p.sourceVersion],
  ];
  return properties.filter((e): e is [string, string] => e[1] !== undefined).map(([name, value]) => ({ name, value }));
}

function sourceInfo(p: Package): string {
  const source = p.sourceName === undefined ? '' : `; source package ${p.sourceName}${p.sourceVersion === undefined ? '' : ` ${p.sourceVersion}`}`;
  return `found in ${p.path} of layer ${p.layerDigest}${source}`;
}

function purlRef(purl: string) {
  return { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl } as const;
}

function cycloneDxLicenses(licenses: string[] | undefined): CycloneDxLicense[] | undefined {
  if (licenses === undefined || licenses.length === 0) return undefined;
  const expression = spdxExpression(licenses);
  // CycloneDX: either one expression or a list of licenses, never both.
  return expression === undefined ? licenses.map((name) => ({ license: { name } })) : [{ expression }];
}

/** The declared licenses as one SPDX expression (joined with AND), or undefined when one of them is not a well-formed expression. */
export function spdxExpression(licenses: string[] | undefined): string | undefined {
  const distinct = [...new Set((licenses ?? []).map((l) => l.trim()))];
  if (distinct.length === 0 || !distinct.every(isSpdxExpression)) return undefined;
  return distinct.length === 1 ? distinct[0] : distinct.map((l) => (/\s/.test(l) ? `(${l})` : l)).join(' AND ');
}

const LICENSE_ID = /^(?:(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9.-]+\+?)$/;
const EXCEPTION_ID = /^[A-Za-z0-9.-]+$/;
const OPERATORS = new Set(['AND', 'OR', 'WITH']);

/** Whether `text` follows the SPDX license expression grammar (SPDX 2.3 Annex D), with upper-case operators. */
function isSpdxExpression(text: string): boolean {
  // The length bound also bounds the parser's recursion on nested parentheses.
  if (text.length > 1000) return false;
  const tokens = text.match(/[()]|[^\s()]+/g) ?? [];
  let i = 0;
  const accept = (test: (token: string) => boolean): boolean => {
    const token = tokens[i];
    if (token === undefined || !test(token)) return false;
    i++;
    return true;
  };
  const term = (): boolean => {
    if (accept((t) => t === '(')) return expression() && accept((t) => t === ')');
    if (!accept((t) => !OPERATORS.has(t) && LICENSE_ID.test(t))) return false;
    return !accept((t) => t === 'WITH') || accept((t) => !OPERATORS.has(t) && EXCEPTION_ID.test(t));
  };
  const expression = (): boolean => {
    if (!term()) return false;
    while (accept((t) => t === 'AND' || t === 'OR')) if (!term()) return false;
    return true;
  };
  return tokens.length > 0 && expression() && i === tokens.length;
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
