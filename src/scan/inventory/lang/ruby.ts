// RubyGems packages (OSV ecosystem `RubyGems`): installed gems' specifications
// (`specifications/[default/]name-version[-platform].gemspec`, the Ruby that RubyGems writes:
// `Gem::Specification.new do |s|` ... `s.name = "rack".freeze`), with the file name as the
// fallback, and the `GEM` section of Gemfile.lock (`    name (version[-platform])` under `  specs:`;
// Bundler's lockfile parser splits the platform off at the first `-`).
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { basename, checkFileSize, PackageList, purl, text } from './common.ts';

function gemPackages(entry: FileEntry): PackageList {
  return new PackageList(entry, 'RubyGems', (name, version) => purl('gem', undefined, name, version));
}

/** The string literal assigned to `<receiver>.<field>` ("x", 'x', %q{x}, Gem::Version.new("x"); `.freeze` allowed). */
function gemspecField(source: string, receiver: string, field: string): string | undefined {
  const literal = String.raw`"([^"\n]*)"|'([^'\n]*)'|%q\{([^}\n]*)\}`;
  const assignment = new RegExp(String.raw`^[ \t]*${receiver}\.${field}[ \t]*=[ \t]*(?:Gem::Version\.new\(\s*)?(?:${literal})`, 'm');
  const match = assignment.exec(source);
  return match?.[1] ?? match?.[2] ?? match?.[3];
}

/** `name-1.2.3[-platform].gemspec`: the version is the first `-`-separated part made of a digit and dotted parts. */
const GEMSPEC_FILE = /^(.+?)-(\d+(?:\.[0-9A-Za-z]+)*)(?:-[A-Za-z][^/]*)?\.gemspec$/;

export const gemspecExtractor: Extractor = {
  name: 'rubygems/gemspec',
  wants: (entry) => /(?:^|\/)specifications\/(?:default\/)?[^/]+\.gemspec$/.test(entry.path),
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const source = text(content);
    const receiver = /Gem::Specification\.new\s*(?:do|\{)\s*\|\s*(\w+)\s*\|/.exec(source)?.[1];
    const fromFile = GEMSPEC_FILE.exec(basename(entry.path));
    const name = (receiver && gemspecField(source, receiver, 'name')) || fromFile?.[1];
    const version = (receiver && gemspecField(source, receiver, 'version')) || fromFile?.[2];
    const list = gemPackages(entry);
    list.add(name, version);
    return list.packages;
  },
};

function fromGemfileLock(list: PackageList, source: string): void {
  let section = '';
  let inSpecs = false;
  for (const line of source.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      section = line.trim();
      inSpecs = false;
    } else if (/^ {2}\S/.test(line)) {
      inSpecs = section === 'GEM' && line.trim() === 'specs:';
    } else if (inSpecs) {
      // Gems are at four spaces, their own dependencies at six.
      const spec = /^ {4}([^\s(]+) \(([^)\s]+)\)$/.exec(line);
      if (spec) list.add(spec[1], spec[2]?.split('-')[0]);
    }
  }
}

export const gemfileLockExtractor: Extractor = {
  name: 'rubygems/gemfile-lock',
  wants: (entry) => basename(entry.path) === 'Gemfile.lock',
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = gemPackages(entry);
    fromGemfileLock(list, text(content));
    return list.packages;
  },
};
