// Maven packages (OSV ecosystem `Maven`, named `groupId:artifactId`) in Java archives (.jar, .war,
// .ear, Jenkins' .jpi and .hpi), read from memory with yauzl: every
// `META-INF/maven/<groupId>/<artifactId>/pom.properties` that Maven's archiver writes, and the
// archives nested inside (WEB-INF/lib, BOOT-INF/lib, an ear's modules: any entry with one of those
// extensions), whose packages get the path `outer.war!/WEB-INF/lib/inner.jar`. An archive without
// pom.properties is named from its manifest (https://docs.oracle.com/en/java/javase/21/docs/specs/jar/jar.html#jar-manifest)
// only when that is certain: a Jenkins plugin's Group-Id, Short-Name and Plugin-Version, which
// maven-hpi-plugin copies from the POM. Other manifests do not give the groupId reliably
// (Implementation-Vendor-Id is `org.apache` in Apache Commons jars; a Bundle-SymbolicName is the
// groupId in `com.google.guava` but groupId.artifactId in `com.fasterxml.jackson.core.jackson-databind`),
// nor does a file name, and OSV matches Maven names exactly: such archives give no package.
//
// Bounds (ScanFailure 'limit'): more than limits.maxArchiveEntries entries in one archive, nesting
// deeper than limits.maxArchiveDepth, a nested archive declaring more than limits.maxFileBytes, more
// than maxFileBytes per allowed nesting level inflated out of one image file. pom.properties and
// manifests over 1 MiB are skipped. yauzl fails an entry that inflates to more than it declares, so
// declared sizes bound memory. Unreadable archives and entries give no packages.
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { ScanFailure, type Extractor, type FileEntry, type Package, type ScanLimits } from '../../types.ts';
import { checkFileSize, PackageList, purl } from './common.ts';

const ARCHIVE = /\.(?:jar|war|ear|jpi|hpi)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/([^/]+)\/([^/]+)\/pom\.properties$/;
const MANIFEST = 'META-INF/MANIFEST.MF';
const MAX_METADATA_BYTES = 1024 * 1024;
/** The end-of-central-directory record alone takes 22 bytes. */
const MIN_ZIP_BYTES = 22;

function mavenPurl(name: string, version: string): string {
  const colon = name.indexOf(':');
  return purl('maven', name.slice(0, colon), name.slice(colon + 1), version);
}

/** `key=value`, `key: value` or `key value` lines of a Java properties file; the first value of a key wins. */
function parseProperties(source: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const raw of source.split(/\r\n|\n|\r/)) {
    const line = raw.trim();
    const property = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!property || line.startsWith('#') || line.startsWith('!')) continue;
    const [, key = '', value = ''] = property;
    if (!properties.has(key)) properties.set(key, value.trim());
  }
  return properties;
}

/** The main section of a manifest (up to its first empty line), names lower-cased; continuation lines start with a space. */
function parseManifest(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  let last: string | undefined;
  for (const line of source.split(/\r\n|\n|\r/)) {
    if (line === '') break;
    if (line.startsWith(' ')) {
      if (last !== undefined) attributes.set(last, `${attributes.get(last) ?? ''}${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(': ');
    const name = line.slice(0, colon).toLowerCase();
    last = colon > 0 && !attributes.has(name) ? name : undefined;
    if (last !== undefined) attributes.set(last, line.slice(colon + 2));
  }
  return attributes;
}

interface Coordinates {
  groupId: string;
  artifactId: string;
  version: string;
}

/** A Jenkins plugin's coordinates from its manifest. */
function jenkinsPluginCoordinates(manifest: Map<string, string>): Coordinates | undefined {
  const groupId = manifest.get('group-id')?.trim();
  const artifactId = manifest.get('short-name')?.trim();
  const version = manifest.get('plugin-version')?.trim().split(' ')[0]; // `1.0-SNAPSHOT (private-...)`
  return groupId && artifactId && version ? { groupId, artifactId, version } : undefined;
}

/** One image file's walk through its archives: where packages go and how much was inflated. */
interface Walk {
  entry: FileEntry;
  limits: ScanLimits;
  list: PackageList;
  inflated: number;
}

/** The entry's bytes, counted against the walk's inflation budget; undefined when it cannot be read. */
async function inflate(walk: Walk, zip: ZipFile, item: Entry): Promise<Buffer | undefined> {
  walk.inflated += item.uncompressedSize;
  const budget = walk.limits.maxFileBytes * walk.limits.maxArchiveDepth;
  if (walk.inflated > budget) {
    throw new ScanFailure('limit', `${walk.entry.path} inflates to more than ${budget} bytes of nested archives and metadata`);
  }
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(item)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  }
}

async function readArchive(walk: Walk, data: Buffer, path: string, depth: number): Promise<void> {
  const { limits } = walk;
  let zip: ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(data, { lazyEntries: true, validateEntrySizes: true });
  } catch {
    return;
  }
  if (zip.entryCount > limits.maxArchiveEntries) {
    throw new ScanFailure('limit', `${path} has ${zip.entryCount} entries, over the limit of ${limits.maxArchiveEntries} for one archive`);
  }
  let foundPom = false;
  let manifest: Buffer | undefined;
  try {
    for await (const item of zip.eachEntry()) {
      const name = item.fileName;
      const pom = POM_PROPERTIES.exec(name);
      const metadata = pom !== null || name.toUpperCase() === MANIFEST;
      if (metadata && item.uncompressedSize <= MAX_METADATA_BYTES) {
        const content = await inflate(walk, zip, item);
        if (pom && content) {
          const properties = parseProperties(content.toString('utf8'));
          const groupId = properties.get('groupId') || pom[1];
          const artifactId = properties.get('artifactId') || pom[2];
          walk.list.add(`${groupId}:${artifactId}`, properties.get('version'), path);
          foundPom = true;
        } else if (!pom) {
          manifest = content;
        }
      } else if (ARCHIVE.test(name)) {
        const nestedPath = `${path}!/${name}`;
        if (depth + 1 > limits.maxArchiveDepth) {
          throw new ScanFailure('limit', `${nestedPath} is nested ${depth + 1} archives deep, over the limit of ${limits.maxArchiveDepth}`);
        }
        if (item.uncompressedSize > limits.maxFileBytes) {
          throw new ScanFailure('limit', `${nestedPath} is ${item.uncompressedSize} bytes, over the limit of ${limits.maxFileBytes} bytes for one file`);
        }
        const nested = await inflate(walk, zip, item);
        if (nested) await readArchive(walk, nested, nestedPath, depth + 1);
      }
    }
  } catch (error) {
    if (error instanceof ScanFailure) throw error;
    // a broken central directory keeps what was read before it
  }
  const coordinates = foundPom || !manifest ? undefined : jenkinsPluginCoordinates(parseManifest(manifest.toString('utf8')));
  if (coordinates) walk.list.add(`${coordinates.groupId}:${coordinates.artifactId}`, coordinates.version, path);
}

export const javaArchiveExtractor: Extractor = {
  name: 'maven/archive',
  wants: (entry) => ARCHIVE.test(entry.path) && entry.size >= MIN_ZIP_BYTES,
  async extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Promise<Package[]> {
    checkFileSize(entry, content, limits);
    const walk: Walk = { entry, limits, list: new PackageList(entry, 'Maven', mavenPurl), inflated: 0 };
    await readArchive(walk, content, entry.path, 1);
    return walk.list.packages;
  },
};
