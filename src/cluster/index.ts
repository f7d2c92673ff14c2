// Running several berth processes over one database: named leases (leader election) and the cache
// invalidation bus. PostgresBus loads `pg` only when it connects.
export { Lease, newOwnerId, type LeaseOptions } from './lease.ts';
export { LocalBus, PostgresBus, RESYNC_TOPIC, BUS_CHANNEL, MAX_PAYLOAD_BYTES, type Bus, type PostgresBusOptions } from './bus.ts';
