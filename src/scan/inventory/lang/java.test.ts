import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCAN_LIMITS, ScanFailure, type ScanLimits } from '../../types.ts';
import { extractFile, fileEntry, ids, LAYER } from './entry.fixture.ts';
import { javaArchiveExtractor } from './java.ts';
import { makeZip as zip, type ZipFixtureEntry } from '../../../../test/helpers/zip.ts';

function pomProperties(groupId: string, artifactId: string, version: string): ZipFixtureEntry {
  return {
    name: `META-INF/maven/${groupId}/${artifactId}/pom.properties`,
    data: `#Created by Apache Maven 3.9.5\r\nversion=${version}\r\ngroupId=${groupId}\r\nartifactId=${artifactId}\r\n`,
  };
}

function jar(...entries: ZipFixtureEntry[]): Buffer {
  return zip([{ name: 'META-INF/', data: '', method: 'store' }, ...entries, { name: 'com/example/Main.class', data: Buffer.alloc(300, 0xca) }]);
}

const jackson = jar(
  { name: 'META-INF/MANIFEST.MF', data: 'Manifest-Version: 1.0\r\nBundle-SymbolicName: com.fasterxml.jackson.core.jackson-databind\r\n\r\n' },
  pomProperties('com.fasterxml.jackson.core', 'jackson-databind', '2.15.2'),
);

test('a jar: its pom.properties, with the entry path and layer', async () => {
  const path = 'app/lib/jackson-databind-2.15.2.jar';
  assert.deepEqual(await extractFile(javaArchiveExtractor, path, jackson), [
    {
      name: 'com.fasterxml.jackson.core:jackson-databind',
      version: '2.15.2',
      ecosystem: 'Maven',
      kind: 'lang',
      layerDigest: LAYER,
      path,
      purl: 'pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.15.2',
    },
  ]);
});

test('a shaded jar lists every pom.properties, stored or deflated', async () => {
  const shaded = jar(
    pomProperties('org.example', 'app', '1.0.0'),
    { ...pomProperties('com.google.guava', 'guava', '32.1.2-jre'), method: 'store' },
    // Properties may use ':' or spaces, and the directory names stand in for missing keys.
    { name: 'META-INF/maven/org.yaml/snakeyaml/pom.properties', data: '# comment\n! another\nversion : 2.0\n' },
  );
  assert.deepEqual(ids(await extractFile(javaArchiveExtractor, 'app.jar', shaded)), [
    'com.google.guava:guava@32.1.2-jre',
    'org.example:app@1.0.0',
    'org.yaml:snakeyaml@2.0',
  ]);
});

test('nested archives: a war in an ear, jars in WEB-INF/lib and BOOT-INF/lib, with ! paths', async () => {
  const log4j = jar(pomProperties('org.apache.logging.log4j', 'log4j-core', '2.14.1'));
  const war = zip([pomProperties('com.example', 'shop-web', '1.2.0'), { name: 'WEB-INF/lib/log4j-core-2.14.1.jar', data: log4j, method: 'store' }, { name: 'WEB-INF/lib/jackson-databind-2.15.2.jar', data: jackson }]);
  const ear = zip([{ name: 'shop-web.war', data: war }, { name: 'lib/log4j-core-2.14.1.jar', data: log4j }]);
  const packages = await extractFile(javaArchiveExtractor, 'opt/app/shop.ear', ear);
  assert.deepEqual(
    packages.map((p) => `${p.name}@${p.version} ${p.path}`).sort(),
    [
      'com.example:shop-web@1.2.0 opt/app/shop.ear!/shop-web.war',
      'com.fasterxml.jackson.core:jackson-databind@2.15.2 opt/app/shop.ear!/shop-web.war!/WEB-INF/lib/jackson-databind-2.15.2.jar',
      'org.apache.logging.log4j:log4j-core@2.14.1 opt/app/shop.ear!/lib/log4j-core-2.14.1.jar',
      'org.apache.logging.log4j:log4j-core@2.14.1 opt/app/shop.ear!/shop-web.war!/WEB-INF/lib/log4j-core-2.14.1.jar',
    ],
  );
  assert.ok(packages.every((p) => p.layerDigest === LAYER));

  const boot = zip([{ name: 'BOOT-INF/lib/log4j-core-2.14.1.jar', data: log4j, method: 'store' }]);
  assert.deepEqual(
    (await extractFile(javaArchiveExtractor, 'app.jar', boot)).map((p) => p.path),
    ['app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar'],
  );
});

test('without pom.properties, only a Jenkins plugin manifest names the artifact', async () => {
  const manifest = (lines: string) => jar({ name: 'META-INF/MANIFEST.MF', data: `Manifest-Version: 1.0\r\n${lines}\r\n\r\nName: x\r\nShort-Name: other\r\n` });
  const cases: [string, string, string[]][] = [
    ['git.hpi', 'Group-Id: org.jenkins-ci.plugins\r\nShort-Name: git\r\nPlugin-Version: 5.2.1', ['org.jenkins-ci.plugins:git@5.2.1']],
    // A private build's version suffix, a value continued on the next line.
    ['cred.jpi', 'Group-Id: org.jenkins-ci.plu\r\n gins\r\nShort-Name: credentials\r\nPlugin-Version: 1.0-SNAPSHOT (private-11/20/2023-me)', ['org.jenkins-ci.plugins:credentials@1.0-SNAPSHOT']],
    // Attributes after the main section do not count.
    ['half.hpi', 'Group-Id: org.jenkins-ci.plugins\r\nPlugin-Version: 1.0', []],
    // Not certain enough for a Maven name: the group is not known.
    ['commons-io-2.11.0.jar', 'Implementation-Title: Apache Commons IO\r\nImplementation-Version: 2.11.0\r\nImplementation-Vendor-Id: org.apache', []],
    ['guava-32.1.2-jre.jar', 'Bundle-SymbolicName: com.google.guava\r\nBundle-Version: 32.1.2.jre', []],
  ];
  for (const [file, lines, expected] of cases) {
    assert.deepEqual(ids(await extractFile(javaArchiveExtractor, `lib/${file}`, manifest(lines))), expected, `${file}: ${lines}`);
  }
  const withPom = jar({ name: 'META-INF/MANIFEST.MF', data: 'Group-Id: x\r\nShort-Name: y\r\nPlugin-Version: 1\r\n' }, pomProperties('org.jenkins-ci.plugins', 'git', '5.2.1'));
  assert.deepEqual(ids(await extractFile(javaArchiveExtractor, 'git.hpi', withPom)), ['org.jenkins-ci.plugins:git@5.2.1']);
});

test('a broken archive gives what it could read, never a throw', async () => {
  const good = await extractFile(javaArchiveExtractor, 'a.jar', jackson);
  assert.equal(good.length, 1);
  for (const content of [jackson.subarray(0, jackson.length - 10), jackson.subarray(20), Buffer.alloc(100, 0x50), Buffer.from('PK\u0005\u0006'.padEnd(22, '\u0000') + 'x')]) {
    assert.deepEqual(await extractFile(javaArchiveExtractor, 'a.jar', content), []);
  }
  // A corrupt nested jar is skipped; the outer archive still counts.
  const outer = zip([pomProperties('com.example', 'web', '1.0'), { name: 'WEB-INF/lib/broken.jar', data: Buffer.from('PK not really a zip') }]);
  assert.deepEqual(ids(await extractFile(javaArchiveExtractor, 'web.war', outer)), ['com.example:web@1.0']);
  // An unsupported compression method or a bad deflate stream skips that entry only.
  const badEntries = zip([{ name: 'META-INF/maven/a/b/pom.properties', data: 'version=1\n', method: 'store', declaredSize: 10 }, pomProperties('c', 'd', '2')]);
  badEntries.writeUInt16LE(99, 8); // local header method
  badEntries.writeUInt16LE(99, badEntries.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 10); // central header method
  assert.deepEqual(ids(await extractFile(javaArchiveExtractor, 'x.jar', badEntries)), ['c:d@2']);
});

const small: ScanLimits = { ...DEFAULT_SCAN_LIMITS, maxFileBytes: 64 * 1024, maxArchiveEntries: 10, maxArchiveDepth: 3 };

async function rejectsWithLimit(content: Buffer, limits: ScanLimits, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => javaArchiveExtractor.extract(fileEntry('app/x.war', content), content, limits),
    (error) => error instanceof ScanFailure && error.reason === 'limit' && message.test(error.message),
  );
}

test('limits: entries per archive, at any depth', async () => {
  const many = zip(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' })));
  await rejectsWithLimit(many, small, /app\/x\.war has 11 entries/);
  await rejectsWithLimit(zip([{ name: 'WEB-INF/lib/many.jar', data: many }]), small, /x\.war!\/WEB-INF\/lib\/many\.jar has 11 entries/);
  assert.equal((await javaArchiveExtractor.extract(fileEntry('x.jar', jackson), jackson, small)).length, 1);
});

test('limits: nesting depth', async () => {
  let inner = jar(pomProperties('g', 'deep', '1'));
  for (let depth = 2; depth <= 3; depth++) inner = zip([{ name: `lib/level${depth}.jar`, data: inner }]);
  assert.deepEqual(
    (await javaArchiveExtractor.extract(fileEntry('x.jar', inner), inner, small)).map((p) => p.path),
    ['x.jar!/lib/level3.jar!/lib/level2.jar'],
  );
  const tooDeep = zip([{ name: 'lib/level4.jar', data: inner }]);
  await rejectsWithLimit(tooDeep, small, /nested 4 archives deep/);
});

test('limits: a nested archive declaring more than maxFileBytes fails; a metadata file over 1 MiB is skipped', async () => {
  const bomb = zip([{ name: 'WEB-INF/lib/bomb.jar', data: Buffer.alloc(1000), declaredSize: 4 * 1024 ** 3 - 1 }]);
  await rejectsWithLimit(bomb, small, /bomb\.jar is 4294967295 bytes/);

  const hugePom = jar({ ...pomProperties('g', 'a', '1'), declaredSize: 2 * 1024 * 1024 }, pomProperties('g', 'b', '2'));
  assert.deepEqual(ids(await extractFile(javaArchiveExtractor, 'x.jar', hugePom)), ['g:b@2']);
});

test('limits: an entry inflating to more than it declares is cut off and skipped', async () => {
  const liar = Buffer.concat([Buffer.from('version=1\ngroupId=g\nartifactId=liar\n'), Buffer.alloc(8 * 1024 * 1024, 0x20)]);
  const lyingPom = jar({ name: 'META-INF/maven/g/liar/pom.properties', data: liar, declaredSize: 100 }, pomProperties('g', 'honest', '2'));
  assert.ok(lyingPom.length < 64 * 1024, 'compressed small');
  assert.deepEqual(ids(await extractFile(javaArchiveExtractor, 'x.jar', lyingPom)), ['g:honest@2']);

  const lyingJar = zip([{ name: 'WEB-INF/lib/inner.jar', data: jackson, declaredSize: 64 }]);
  assert.deepEqual(await extractFile(javaArchiveExtractor, 'x.war', lyingJar), []);
});

test('limits: the bytes inflated out of one file, nested archives included', async () => {
  // Each nested jar is under maxFileBytes, but together they pass maxFileBytes x maxArchiveDepth.
  const filler = zip([{ name: 'data.bin', data: Buffer.alloc(60 * 1024, 1), method: 'store' }]);
  const layered = zip(Array.from({ length: 4 }, (_, i) => ({ name: `lib/j${i}.jar`, data: filler })));
  await rejectsWithLimit(layered, small, /inflates to more than 196608 bytes/);
  const fewer = zip(Array.from({ length: 2 }, (_, i) => ({ name: `lib/j${i}.jar`, data: filler })));
  assert.deepEqual(await javaArchiveExtractor.extract(fileEntry('x.war', fewer), fewer, small), []);
});

test('an archive larger than maxFileBytes fails before it is opened', async () => {
  await rejectsWithLimit(jackson, { ...small, maxFileBytes: 100 }, /over the limit of 100 bytes for one file/);
});

test('which files are archives', () => {
  for (const path of ['a.jar', 'b/c.WAR', 'd.ear', 'jenkins/plugins/git.jpi', 'e.hpi']) assert.ok(javaArchiveExtractor.wants(fileEntry(path, Buffer.alloc(100))), path);
  for (const path of ['a.jar.sha1', 'a.zip', 'jar']) assert.ok(!javaArchiveExtractor.wants(fileEntry(path, Buffer.alloc(100))), path);
  assert.ok(!javaArchiveExtractor.wants(fileEntry('empty.jar', '')));
});
