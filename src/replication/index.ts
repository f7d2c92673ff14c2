// Registry replication (docs/adr/0019-replication.md): the source side (rules, jobs, copies) and the destination side (admission, events).
export { Replication, ReplicationFailure, REPLICATION_MAX_ATTEMPTS, type ReplicationDeps, type ReplicationJob } from './service.ts';
export { ReplicationReceiver, REPLICATION_HEADER, parseReplicationHeader, replicationHeader, type Admitted, type ReplicationSource } from './receiver.ts';
export { parseDestinations, type DestinationEndpoint, type DestinationMap } from './destinations.ts';
export { configurationProblem, destinationsFor, ruleCovers, MAX_REPLICATION_DESTINATIONS, MAX_REPLICATION_RULES } from './rules.ts';
