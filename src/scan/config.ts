// Registry scanning configuration as ECR has it (PutRegistryScanningConfiguration): a scan type,
// BASIC (OS packages) or ENHANCED (OS and language packages, continuous rescans), and up to two
// rules, each a scan frequency for the repositories its WILDCARD filters match. What applies to a
// repository: the rules whose filters match it (CONTINUOUS_SCAN over SCAN_ON_PUSH over MANUAL), and
// for BASIC scanning without a matching rule the repository's own scanOnPush flag.
import type { Repository } from '../meta/index.ts';

export type ScanType = 'BASIC' | 'ENHANCED';
export type ScanFrequency = 'SCAN_ON_PUSH' | 'CONTINUOUS_SCAN' | 'MANUAL';

export interface RepositoryFilter {
  filter: string;
  filterType: 'WILDCARD';
}

export interface RegistryScanningConfiguration {
  scanType: ScanType;
  rules: Array<{ scanFrequency: ScanFrequency; repositoryFilters: RepositoryFilter[] }>;
}

export const DEFAULT_SCANNING_CONFIGURATION: RegistryScanningConfiguration = { scanType: 'BASIC', rules: [] };

/** Why a configuration is refused (InvalidParameterException), or undefined when it is valid. */
export function scanningConfigurationProblem(c: RegistryScanningConfiguration): string | undefined {
  const seen = new Set<string>();
  for (const rule of c.rules) {
    if (c.scanType === 'BASIC' && rule.scanFrequency === 'CONTINUOUS_SCAN') return 'CONTINUOUS_SCAN rules need the ENHANCED scan type; BASIC scanning supports SCAN_ON_PUSH and MANUAL';
    if (seen.has(rule.scanFrequency)) return `more than one rule with scanFrequency ${rule.scanFrequency}`;
    seen.add(rule.scanFrequency);
    if (rule.repositoryFilters.length === 0) return `the ${rule.scanFrequency} rule has no repository filters`;
  }
  return undefined;
}

/**
 * ECR's WILDCARD filter: `*` matches any run of characters; a filter without `*` matches every
 * name that contains it (ECR's documented behaviour for filters without wildcards).
 */
export function filterMatches(filter: string, name: string): boolean {
  if (!filter.includes('*')) return name.includes(filter);
  const re = new RegExp(`^${filter.split('*').map(escape).join('.*')}$`);
  return re.test(name);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export interface RepositoryScanning {
  scanType: ScanType;
  scanFrequency: ScanFrequency;
  /** Whether a push starts a scan. */
  scanOnPush: boolean;
  appliedScanFilters: RepositoryFilter[];
}

const RANK: Record<ScanFrequency, number> = { CONTINUOUS_SCAN: 0, SCAN_ON_PUSH: 1, MANUAL: 2 };

/** What scanning applies to the repository under the registry's configuration. */
export function repositoryScanning(c: RegistryScanningConfiguration, repo: Pick<Repository, 'name' | 'settings'>): RepositoryScanning {
  const matching = c.rules
    .map((r) => ({ frequency: r.scanFrequency, filters: r.repositoryFilters.filter((f) => filterMatches(f.filter, repo.name)) }))
    .filter((r) => r.filters.length > 0)
    .sort((a, b) => RANK[a.frequency] - RANK[b.frequency]);
  const best = matching[0];
  if (best !== undefined) return { scanType: c.scanType, scanFrequency: best.frequency, scanOnPush: best.frequency !== 'MANUAL', appliedScanFilters: best.filters };
  if (c.scanType === 'BASIC' && repo.settings.scanOnPush) return { scanType: 'BASIC', scanFrequency: 'SCAN_ON_PUSH', scanOnPush: true, appliedScanFilters: [] };
  return { scanType: c.scanType, scanFrequency: 'MANUAL', scanOnPush: false, appliedScanFilters: [] };
}

/** The stored configuration (account policy kind `scanning`), or the default. */
export function parseStoredConfiguration(text: string | undefined): RegistryScanningConfiguration {
  if (text === undefined) return DEFAULT_SCANNING_CONFIGURATION;
  return JSON.parse(text) as RegistryScanningConfiguration;
}
