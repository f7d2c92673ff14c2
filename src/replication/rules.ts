// The rules of a registry's replication configuration, as ECR has them (API reference
// "PutReplicationConfiguration", "ReplicationRule", "RepositoryFilter"; user guide "Private image
// replication"): at most 10 rules and 25 distinct destinations, each destination a region and a
// registry id other than the source registry itself, repository filters of type PREFIX_MATCH (a
// rule without filters covers every repository). The shape (lengths, patterns) is checked by the
// ECR protocol against the model; what the model cannot say is checked here.
import type { ReplicationDestinationRow, ReplicationRuleRow } from '../meta/index.ts';

export const MAX_REPLICATION_RULES = 10;
export const MAX_REPLICATION_DESTINATIONS = 25;

/** What a configuration is checked against: this deployment and the regions it can reach. */
export interface ConfigurationScope {
  region: string;
  accountId: string;
  /** Whether a destination region can be reached (this deployment's, or one in replication.destinations). */
  reachable: (region: string) => boolean;
}

export function destinationKey(d: ReplicationDestinationRow): string {
  return `${d.region} ${d.registryId}`;
}

/** Why the rules cannot be a replication configuration, or undefined when they can. */
export function configurationProblem(rules: readonly ReplicationRuleRow[], scope: ConfigurationScope): string | undefined {
  if (rules.length > MAX_REPLICATION_RULES) return `a replication configuration has at most ${MAX_REPLICATION_RULES} rules, not ${rules.length}`;
  const distinct = new Set<string>();
  for (const [i, rule] of rules.entries()) {
    if (rule.destinations.length === 0) return `rule ${i + 1} has no destination; a rule needs at least one`;
    for (const d of rule.destinations) {
      if (d.region === scope.region && d.registryId === scope.accountId) return `rule ${i + 1}: the destination ${d.region}/${d.registryId} is the source registry itself`;
      if (!scope.reachable(d.region)) {
        return `rule ${i + 1}: the region ${d.region} is neither this registry's (${scope.region}) nor one berth is configured to reach (replication.destinations)`;
      }
      distinct.add(destinationKey(d));
    }
    for (const f of rule.repositoryFilters ?? []) {
      if (f.filterType !== 'PREFIX_MATCH') return `rule ${i + 1}: the repository filter type ${f.filterType} is not supported (PREFIX_MATCH)`;
    }
  }
  if (distinct.size > MAX_REPLICATION_DESTINATIONS) return `a replication configuration has at most ${MAX_REPLICATION_DESTINATIONS} distinct destinations, not ${distinct.size}`;
  return undefined;
}

/** Whether the rule covers the repository: no filters, or a filter that is a prefix of its name. */
export function ruleCovers(rule: ReplicationRuleRow, repository: string): boolean {
  const filters = rule.repositoryFilters ?? [];
  return filters.length === 0 || filters.some((f) => f.filterType === 'PREFIX_MATCH' && repository.startsWith(f.filter));
}

/** The destinations a push to the repository goes to: those of every rule covering it, each once. */
export function destinationsFor(rules: readonly ReplicationRuleRow[], repository: string): ReplicationDestinationRow[] {
  const out = new Map<string, ReplicationDestinationRow>();
  for (const rule of rules) {
    if (!ruleCovers(rule, repository)) continue;
    for (const d of rule.destinations) out.set(destinationKey(d), { region: d.region, registryId: d.registryId });
  }
  return [...out.values()];
}
