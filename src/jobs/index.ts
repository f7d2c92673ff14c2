export { SqlJobQueue, type JobQueue, type JobHandler, type JobContext, type NewJob, type SqlJobQueueOptions } from './queue.ts';
