export { SqlJobQueue, SCHEDULER_LEASE, type JobQueue, type JobHandler, type JobContext, type JobRoles, type NewJob, type SqlJobQueueOptions } from './queue.ts';
