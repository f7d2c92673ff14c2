// The JobQueue seam: durable background work in the jobs table. Jobs are enqueued inside the
// transaction that causes them, claimed with a lease that the claiming worker extends while the job
// runs (heartbeat), so a job whose process died is picked up again once its lease runs out; retried
// with backoff; handlers are idempotent. Several processes share one queue over PostgreSQL (claims use
// FOR UPDATE SKIP LOCKED). Periodic jobs are enqueued only by the holder of the `scheduler` lease, and
// each period is claimed once in the database, so N processes enqueue a periodic job once per interval.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { Lease } from '../cluster/index.ts';
import type { MetaStore } from '../meta/index.ts';

export interface JobContext {
  log: Logger;
  attempt: number;
  jobId: number;
  /**
   * Aborted when this worker lost the job's lease (another worker may run it now) or when the queue
   * stopped before the job finished: a long handler should stop at its next checkpoint.
   */
  signal: AbortSignal;
}

export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<void>;

export interface NewJob {
  kind: string;
  payload?: unknown;
  /** Epoch ms; now when omitted. */
  runAt?: number;
  /** At most one pending or running job per key. */
  dedupeKey?: string;
}

/** What a process does with the queue: run jobs (`worker` role), enqueue periodic jobs (`scheduler` role). */
export interface JobRoles {
  work: boolean;
  schedule: boolean;
}

export interface JobQueue {
  register(kind: string, handler: JobHandler, opts?: { maxAttempts?: number }): void;
  /** Enqueues a job; pass the transaction's MetaStore to enqueue atomically with other writes. */
  enqueue(job: NewJob, tx?: MetaStore): Promise<void>;
  /**
   * Runs `kind` every `everySeconds`: the first run one interval after the schedule is first seen by
   * any process, or at once with `runNow` unless it ran within the last interval. The period is kept
   * in the database, so restarts and leader changes do not run it more often.
   */
  schedule(kind: string, everySeconds: number, opts?: { payload?: unknown; runNow?: boolean }): void;
  /** Starts background work for the roles given (both by default). */
  start(roles?: Partial<JobRoles>): void;
  /** Stops claiming and scheduling, waits (bounded) for running jobs and releases the scheduler lease. */
  stop(): Promise<void>;
  /** Claims and runs every job that is due now; returns how many ran. For tests and CLI commands. */
  runDue(): Promise<number>;
}

interface Registered {
  handler: JobHandler;
  maxAttempts: number;
}

interface Schedule {
  kind: string;
  everyMs: number;
  payload: unknown;
  runNow: boolean;
}

interface Claimed {
  id: number;
  kind: string;
  payload: string;
  attempts: number;
  /** The lease token this claim wrote to `lease_owner`. */
  token: string;
  leaseUntil: number;
}

interface Running {
  abort: AbortController;
  stopHeartbeat: () => void;
}

export interface SqlJobQueueOptions {
  log: Logger;
  now?: () => number;
  /** How long a claim lasts without a heartbeat: a job of a dead process is taken over after this. */
  leaseMs?: number;
  /** How often a running job's lease is extended (default leaseMs / 3); 0 turns heartbeats off. */
  heartbeatMs?: number;
  pollMs?: number;
  concurrency?: number;
  /** Time to live of the `scheduler` leader lease, renewed every third of it (default 30 s). */
  leaderLeaseMs?: number;
  /** How long stop() waits for running jobs before abandoning them to their leases (default 30 s). */
  stopTimeoutMs?: number;
}

/** The name of the leader lease whose holder enqueues periodic jobs. */
export const SCHEDULER_LEASE = 'scheduler';

export class SqlJobQueue implements JobQueue {
  private readonly meta: MetaStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly stopTimeoutMs: number;
  private readonly owner = randomUUID();
  private claims = 0;
  private readonly leader: Lease;
  private readonly handlers = new Map<string, Registered>();
  private readonly schedules: Schedule[] = [];
  private roles: JobRoles = { work: false, schedule: false };
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  private stopped = true;
  private ticking = false;
  private tickAgain = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly runningJobs = new Map<string, Running>();

  constructor(meta: MetaStore, opts: SqlJobQueueOptions) {
    this.meta = meta;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    this.pollMs = opts.pollMs ?? 1000;
    this.concurrency = opts.concurrency ?? 2;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.leader = new Lease(meta, {
      name: SCHEDULER_LEASE,
      ttlMs: opts.leaderLeaseMs ?? 30_000,
      now: this.now,
      log: this.log,
      // A new leader enqueues what is due at once rather than at its next poll.
      onChange: (held) => {
        if (held && !this.stopped && this.roles.schedule) this.wake();
      },
    });
  }

  register(kind: string, handler: JobHandler, opts: { maxAttempts?: number } = {}): void {
    this.handlers.set(kind, { handler, maxAttempts: opts.maxAttempts ?? 10 });
  }

  async enqueue(job: NewJob, tx?: MetaStore): Promise<void> {
    const db = (tx ?? this.meta).db;
    const now = this.now();
    await db
      .insertInto('jobs')
      .values({
        kind: job.kind,
        payload: JSON.stringify(job.payload ?? null),
        dedupe_key: job.dedupeKey ?? null,
        status: 'pending',
        run_at: job.runAt ?? now,
        attempts: 0,
        lease_owner: null,
        lease_until: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
    if (!this.stopped && this.roles.work && (job.runAt ?? now) <= now) this.wake();
  }

  schedule(kind: string, everySeconds: number, opts: { payload?: unknown; runNow?: boolean } = {}): void {
    const everyMs = Math.max(1000, everySeconds * 1000);
    this.schedules.push({ kind, everyMs, payload: opts.payload ?? null, runNow: opts.runNow === true });
  }

  /** Whether this queue holds the scheduler lease (enqueues periodic jobs). */
  isLeader(): boolean {
    return this.leader.isHeld();
  }

  start(roles: Partial<JobRoles> = {}): void {
    if (!this.stopped) return;
    this.roles = { work: roles.work ?? true, schedule: roles.schedule ?? true };
    if (!this.roles.work && !this.roles.schedule) return;
    this.stopped = false;
    if (this.roles.schedule) this.leader.start();
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // Scheduling stops at once; another process's scheduler can take over while our jobs finish.
    await this.leader.stop();
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.inFlight]).then(() => false),
      new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(true), this.stopTimeoutMs);
        timeout.unref();
      }),
    ]);
    clearTimeout(timeout);
    if (timedOut && this.runningJobs.size > 0) {
      this.log.warn({ jobs: this.runningJobs.size, timeoutMs: this.stopTimeoutMs }, 'stopping with jobs still running: they are aborted and another worker takes them over when their leases run out');
      for (const r of this.runningJobs.values()) {
        r.stopHeartbeat();
        r.abort.abort(new Error('the job queue stopped'));
      }
    }
    this.roles = { work: false, schedule: false };
  }

  private wake(): void {
    setImmediate(() => this.tick());
  }

  private tick(): void {
    if (this.stopped) return;
    // One tick at a time, so that the concurrency limit holds; a wake-up during a tick runs another.
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    const p = (async () => {
      if (this.roles.schedule && this.leader.isHeld()) await this.enqueueSchedules();
      if (!this.roles.work) return;
      while (!this.stopped && this.running < this.concurrency) {
        const claimed = await this.claim();
        if (claimed === undefined) break;
        this.track(this.execute(claimed).finally(() => this.wake()));
      }
    })()
      .catch((e: unknown) => this.log.error({ err: e }, 'job queue tick failed'))
      .finally(() => {
        this.ticking = false;
        if (this.tickAgain) {
          this.tickAgain = false;
          this.wake();
        }
      });
    this.track(p);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /**
   * Enqueues the periodic jobs whose period has come. Each schedule's next due time is a row of the
   * leases table (`periodic:<kind>`, until = the next due time), claimed with one conditional update,
   * in the same transaction as the enqueue: a period is claimed by exactly one process, even when the
   * leader changes or an old leader has not noticed yet that it lost the lease.
   */
  private async enqueueSchedules(): Promise<void> {
    for (const s of this.schedules) {
      const now = this.now();
      const name = `periodic:${s.kind}`;
      await this.meta.transaction(async (tx) => {
        await tx.db
          .insertInto('leases')
          .values({ name, owner: this.owner, until: s.runNow ? now : now + s.everyMs })
          .onConflict((oc) => oc.column('name').doNothing())
          .execute();
        // Due, or further away than one interval (the interval was shortened): claim this period.
        const claimed = await tx.db
          .updateTable('leases')
          .set({ owner: this.owner, until: now + s.everyMs })
          .where('name', '=', name)
          .where((eb) => eb.or([eb('until', '<=', now), eb('until', '>', now + s.everyMs)]))
          .returning('name')
          .executeTakeFirst();
        if (claimed !== undefined) await this.enqueue({ kind: s.kind, payload: s.payload, dedupeKey: `periodic:${s.kind}` }, tx);
      });
    }
  }

  private async claim(): Promise<Claimed | undefined> {
    const now = this.now();
    const db = this.meta.db;
    let pick = db
      .selectFrom('jobs')
      .select('id')
      .where((eb) => eb.or([eb.and([eb('status', '=', 'pending'), eb('run_at', '<=', now)]), eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)])]))
      .orderBy('run_at')
      .limit(1);
    if (this.meta.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
    // A token per claim: a job this queue claimed again after losing it has a new owner value, so the
    // first (stale) run can neither extend nor finish the second one.
    const token = `${this.owner}/${++this.claims}`;
    const leaseUntil = now + this.leaseMs;
    const row = await db
      .updateTable('jobs')
      .set({ status: 'running', lease_owner: token, lease_until: leaseUntil, attempts: sql`attempts + 1`, updated_at: now })
      .where('id', '=', (eb) => eb.selectFrom(pick.as('p')).select('p.id'))
      .returning(['id', 'kind', 'payload', 'attempts'])
      .executeTakeFirst();
    return row === undefined ? undefined : { id: Number(row.id), kind: row.kind, payload: row.payload, attempts: Number(row.attempts), token, leaseUntil };
  }

  /** Extends the job's lease every heartbeatMs while it runs; aborts the job when the lease is lost. */
  private heartbeat(job: Claimed, abort: AbortController, log: Logger): () => void {
    if (this.heartbeatMs <= 0) return () => undefined;
    let done = false;
    let beating = false;
    let leaseUntil = job.leaseUntil;
    const lost = (why: string, err?: unknown): void => {
      done = true;
      clearInterval(timer);
      log.warn({ err, why }, 'job lease lost: another worker may run the job; aborting it here');
      abort.abort(new Error(`job lease lost: ${why}`));
    };
    const timer = setInterval(() => {
      if (done || beating) return;
      beating = true;
      const now = this.now();
      this.meta.db
        .updateTable('jobs')
        .set({ lease_until: now + this.leaseMs, updated_at: now })
        .where('id', '=', job.id)
        .where('lease_owner', '=', job.token)
        .where('status', '=', 'running')
        .executeTakeFirst()
        .then(
          (r) => {
            if (done) return;
            if (Number(r.numUpdatedRows) === 1) leaseUntil = now + this.leaseMs;
            else lost('the job was claimed by another worker');
          },
          (err: unknown) => {
            if (done) return;
            if (this.now() >= leaseUntil) lost('its lease expired while it could not be renewed', err);
            else log.warn({ err }, 'could not renew job lease; retrying');
          },
        )
        .finally(() => {
          beating = false;
        });
    }, this.heartbeatMs);
    timer.unref();
    return () => {
      done = true;
      clearInterval(timer);
    };
  }

  private async execute(job: Claimed): Promise<void> {
    this.running++;
    const log = this.log.child({ job: job.id, kind: job.kind });
    const reg = this.handlers.get(job.kind);
    const abort = new AbortController();
    const stopHeartbeat = this.heartbeat(job, abort, log);
    this.runningJobs.set(job.token, { abort, stopHeartbeat });
    try {
      if (reg === undefined) throw new Error(`no handler registered for job kind ${job.kind}`);
      await reg.handler(JSON.parse(job.payload) as unknown, { log, attempt: job.attempts, jobId: job.id, signal: abort.signal });
      stopHeartbeat();
      await this.meta.db.deleteFrom('jobs').where('id', '=', job.id).where('lease_owner', '=', job.token).execute();
    } catch (e) {
      stopHeartbeat();
      const max = reg?.maxAttempts ?? 1;
      const failed = job.attempts >= max;
      const backoff = Math.min(3_600_000, 1000 * 2 ** Math.min(job.attempts, 20));
      log.warn({ err: e, attempt: job.attempts, failed }, 'job failed');
      await this.meta.db
        .updateTable('jobs')
        .set({ status: failed ? 'failed' : 'pending', run_at: this.now() + backoff, lease_owner: null, lease_until: null, last_error: String((e as Error).message ?? e).slice(0, 2000), updated_at: this.now() })
        .where('id', '=', job.id)
        // Only while this worker holds the lease: once it expired, another worker may own the job.
        .where('lease_owner', '=', job.token)
        .execute()
        .catch((err: unknown) => log.error({ err }, 'could not record job failure'));
    } finally {
      stopHeartbeat();
      this.runningJobs.delete(job.token);
      this.running--;
    }
  }

  async runDue(): Promise<number> {
    if (this.schedules.length > 0 && (await this.leader.tryAcquire())) await this.enqueueSchedules();
    let n = 0;
    for (;;) {
      const job = await this.claim();
      if (job === undefined) return n;
      await this.execute(job);
      n++;
    }
  }
}
