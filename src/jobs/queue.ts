// The JobQueue seam: durable background work in the jobs table. Jobs are enqueued inside the
// transaction that causes them, claimed with a lease (a job whose process died is picked up again
// once its lease runs out), retried with backoff, and handlers are idempotent.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/index.ts';

export interface JobContext {
  log: Logger;
  attempt: number;
  jobId: number;
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

export interface JobQueue {
  register(kind: string, handler: JobHandler, opts?: { maxAttempts?: number }): void;
  /** Enqueues a job; pass the transaction's MetaStore to enqueue atomically with other writes. */
  enqueue(job: NewJob, tx?: MetaStore): Promise<void>;
  /** Runs `kind` every `everySeconds` (the first run after one interval unless `runNow`). */
  schedule(kind: string, everySeconds: number, opts?: { payload?: unknown; runNow?: boolean }): void;
  start(): void;
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
  nextAt: number;
}

export interface SqlJobQueueOptions {
  log: Logger;
  now?: () => number;
  /** How long a claimed job may run before another worker may take it over. */
  leaseMs?: number;
  pollMs?: number;
  concurrency?: number;
}

export class SqlJobQueue implements JobQueue {
  private readonly meta: MetaStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly owner = randomUUID();
  private readonly handlers = new Map<string, Registered>();
  private readonly schedules: Schedule[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  private stopped = true;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(meta: MetaStore, opts: SqlJobQueueOptions) {
    this.meta = meta;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? 5 * 60_000;
    this.pollMs = opts.pollMs ?? 1000;
    this.concurrency = opts.concurrency ?? 2;
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
    if (!this.stopped && (job.runAt ?? now) <= now) this.wake();
  }

  schedule(kind: string, everySeconds: number, opts: { payload?: unknown; runNow?: boolean } = {}): void {
    const everyMs = Math.max(1000, everySeconds * 1000);
    this.schedules.push({ kind, everyMs, payload: opts.payload ?? null, nextAt: this.now() + (opts.runNow === true ? 0 : everyMs) });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  private wake(): void {
    setImmediate(() => this.tick());
  }

  private tick(): void {
    if (this.stopped) return;
    const p = this.enqueueSchedules()
      .then(async () => {
        while (!this.stopped && this.running < this.concurrency) {
          const claimed = await this.claim();
          if (claimed === undefined) break;
          this.track(this.execute(claimed));
        }
      })
      .catch((e: unknown) => this.log.error({ err: e }, 'job queue tick failed'));
    this.track(p);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async enqueueSchedules(): Promise<void> {
    const now = this.now();
    for (const s of this.schedules) {
      if (now < s.nextAt) continue;
      s.nextAt = now + s.everyMs;
      await this.enqueue({ kind: s.kind, payload: s.payload, dedupeKey: `periodic:${s.kind}` });
    }
  }

  private async claim(): Promise<{ id: number; kind: string; payload: string; attempts: number } | undefined> {
    const now = this.now();
    const db = this.meta.db;
    let pick = db
      .selectFrom('jobs')
      .select('id')
      .where((eb) => eb.or([eb.and([eb('status', '=', 'pending'), eb('run_at', '<=', now)]), eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)])]))
      .orderBy('run_at')
      .limit(1);
    if (this.meta.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
    const row = await db
      .updateTable('jobs')
      .set({ status: 'running', lease_owner: this.owner, lease_until: now + this.leaseMs, attempts: sql`attempts + 1`, updated_at: now })
      .where('id', '=', (eb) => eb.selectFrom(pick.as('p')).select('p.id'))
      .returning(['id', 'kind', 'payload', 'attempts'])
      .executeTakeFirst();
    return row === undefined ? undefined : { id: Number(row.id), kind: row.kind, payload: row.payload, attempts: Number(row.attempts) };
  }

  private async execute(job: { id: number; kind: string; payload: string; attempts: number }): Promise<void> {
    this.running++;
    const log = this.log.child({ job: job.id, kind: job.kind });
    const reg = this.handlers.get(job.kind);
    try {
      if (reg === undefined) throw new Error(`no handler registered for job kind ${job.kind}`);
      await reg.handler(JSON.parse(job.payload) as unknown, { log, attempt: job.attempts, jobId: job.id });
      await this.meta.db.deleteFrom('jobs').where('id', '=', job.id).where('lease_owner', '=', this.owner).execute();
    } catch (e) {
      const max = reg?.maxAttempts ?? 1;
      const failed = job.attempts >= max;
      const backoff = Math.min(3_600_000, 1000 * 2 ** Math.min(job.attempts, 20));
      log.warn({ err: e, attempt: job.attempts, failed }, 'job failed');
      await this.meta.db
        .updateTable('jobs')
        .set({ status: failed ? 'failed' : 'pending', run_at: this.now() + backoff, lease_owner: null, lease_until: null, last_error: String((e as Error).message ?? e).slice(0, 2000), updated_at: this.now() })
        .where('id', '=', job.id)
        // Only while this worker holds the lease: once it expired, another worker may own the job.
        .where('lease_owner', '=', this.owner)
        .execute()
        .catch((err: unknown) => log.error({ err }, 'could not record job failure'));
    } finally {
      this.running--;
    }
  }

  async runDue(): Promise<number> {
    await this.enqueueSchedules();
    let n = 0;
    for (;;) {
      const job = await this.claim();
      if (job === undefined) return n;
      await this.execute(job);
      n++;
    }
  }
}
