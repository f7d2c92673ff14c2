// Version ordering per OSV ecosystem (https://ossf.github.io/osv-schema/#defined-ecosystems): the
// comparator for an ecosystem string is chosen by the part before the first `:` (`Debian:12`,
// `Alpine:v3.19`, `AlmaLinux:9` ...). Each module says whose rules it follows.
import * as apk from './apk.ts';
import * as dpkg from './dpkg.ts';
import * as go from './go.ts';
import * as maven from './maven.ts';
import * as nuget from './nuget.ts';
import * as pypi from './pypi.ts';
import * as rpm from './rpm.ts';
import * as rubygems from './rubygems.ts';
import * as semver from './semver.ts';

export interface VersionComparator {
  /**
   * Negative, zero or positive as `a` sorts before, equal to or after `b`. Total: any two strings
   * get an answer (malformed ones a deterministic place), never a throw.
   */
  compare: (a: string, b: string) => number;
  /** Whether `version` is well formed for the ecosystem; a scanner does not match one that is not. */
  isValid: (version: string) => boolean;
}

const BY_ECOSYSTEM: ReadonlyMap<string, VersionComparator> = new Map<string, VersionComparator>([
  ['Debian', dpkg],
  ['Ubuntu', dpkg],
  ['Alpine', apk],
  ['AlmaLinux', rpm],
  ['Rocky Linux', rpm],
  ['Red Hat', rpm],
  ['npm', semver],
  ['crates.io', semver],
  ['Go', go],
  ['PyPI', pypi],
  ['RubyGems', rubygems],
  ['Maven', maven],
  ['NuGet', nuget],
]);

/** The comparator for a full OSV ecosystem string, or undefined for an ecosystem berth cannot order. */
export function comparatorFor(ecosystem: string): VersionComparator | undefined {
  const colon = ecosystem.indexOf(':');
  return BY_ECOSYSTEM.get(colon < 0 ? ecosystem : ecosystem.slice(0, colon));
}
