// The SQL job queue over SQLite, and over PostgreSQL when BERTH_TEST_POSTGRES_URL is set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, freshPostgresMeta, useTempPostgresDatabase } from '../../test/helpers/postgres.ts';
import { openSqlite, type MetaStore } from '../meta/index.ts';
import { SqlJobQueue, type JobContext } from './queue.ts';

interface QueueFixture {
  meta: MetaStore;
  /** Another MetaStore over the same database, as a second process would have. */
  openAnother(): Promise<MetaStore>;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const silent = pino({ level: 'silent' });

interface JobRow {
  id: number;
  kind: string;
  payload: string;
  dedupe_key: string | null;
  status: string;
  run_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
}

async function jobs(meta: MetaStore): Promise<JobRow[]> {
  const rows = await meta.db.selectFrom('jobs').selectAll().orderBy('id').execute();
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind,
    payload: r.payload,
    dedupe_key: r.dedupe_key,
    status: r.status,
    run_at: Number(r.run_at),
    attempts: Number(r.attempts),
    lease_owner: r.lease_owner,
    lease_until: r.lease_until === null ? null : Number(r.lease_until),
    last_error: r.last_error,
  }));
}

async function onlyJob(meta: MetaStore): Promise<JobRow> {
  const rows = await jobs(meta);
  assert.equal(rows.length, 1, `one job expected, found ${rows.length}`);
  return rows[0] as JobRow;
}

async function eventually(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

/** A promise and the function that resolves it. */
function latch<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve: (v: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

class Clock {
  now = T0;
  readonly fn = (): number => this.now;
}

function queueSuite(name: string, make: () => Promise<QueueFixture>): void {
  const withQueue =
    (fn: (ctx: { meta: MetaStore; clock: Clock; queue: SqlJobQueue; fixture: QueueFixture }) => Promise<void>) =>
    async (): Promise<void> => {
      const fixture = await make();
      const clock = new Clock();
      const queue = new SqlJobQueue(fixture.meta, { log: silent, now: clock.fn, leaseMs: 60_000 });
      try {
        await fn({ meta: fixture.meta, clock, queue, fixture });
      } finally {
        await queue.stop();
        await fixture.cleanup();
      }
    };

  describe(`SqlJobQueue: ${name}`, () => {
    test('enqueue + runDue runs the handler once with its payload and removes the job', withQueue(async ({ meta, queue }) => {
      const calls: Array<{ payload: unknown; ctx: JobContext }> = [];
      queue.register('hello', async (payload, ctx) => {
        calls.push({ payload, ctx });
      });
      await queue.enqueue({ kind: 'hello', payload: { repo: 'app', n: 1 } });
      const queued = await onlyJob(meta);
      assert.equal(queued.status, 'pending');
      assert.equal(queued.attempts, 0);
      assert.equal(queued.run_at, T0);
      assert.equal(await queue.runDue(), 1);
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0]?.payload, { repo: 'app', n: 1 });
      assert.equal(calls[0]?.ctx.attempt, 1);
      assert.equal(calls[0]?.ctx.jobId, queued.id);
      assert.deepEqual(await jobs(meta), []);
      assert.equal(await queue.runDue(), 0);
      assert.equal(calls.length, 1);
      // No payload is null.
      await queue.enqueue({ kind: 'hello' });
      assert.equal(await queue.runDue(), 1);
      assert.equal(calls[1]?.payload, null);
    }));

    test('a job with a future runAt waits for the clock', withQueue(async ({ meta, queue, clock }) => {
      let ran = 0;
      queue.register('later', async () => {
        ran++;
      });
      await queue.enqueue({ kind: 'later', runAt: T0 + 5000 });
      assert.equal(await queue.runDue(), 0);
      clock.now = T0 + 4999;
      assert.equal(await queue.runDue(), 0);
      clock.now = T0 + 5000;
      assert.equal(await queue.runDue(), 1);
      assert.equal(ran, 1);
      assert.deepEqual(await jobs(meta), []);
    }));

    test('dedupeKey: at most one pending or running job per key', withQueue(async ({ meta, queue }) => {
      const seen: unknown[] = [];
      queue.register('scan', async (payload) => {
        seen.push(payload);
        // While this job runs, its key is still taken.
        if (payload === 'first') await queue.enqueue({ kind: 'scan', payload: 'while running', dedupeKey: 'scan:app' });
      });
      await queue.enqueue({ kind: 'scan', payload: 'first', dedupeKey: 'scan:app' });
      await queue.enqueue({ kind: 'scan', payload: 'second', dedupeKey: 'scan:app' });
      await queue.enqueue({ kind: 'scan', payload: 'other key', dedupeKey: 'scan:other' });
      await queue.enqueue({ kind: 'scan', payload: 'no key 1' });
      await queue.enqueue({ kind: 'scan', payload: 'no key 2' });
      assert.deepEqual(
        (await jobs(meta)).map((j) => j.payload),
        ['"first"', '"other key"', '"no key 1"', '"no key 2"'],
      );
      assert.equal(await queue.runDue(), 4);
      assert.deepEqual([...seen].sort(), ['first', 'no key 1', 'no key 2', 'other key']);
      assert.deepEqual(await jobs(meta), [], 'the enqueue while running was refused');
      // Once the job is done, the key is free again.
      await queue.enqueue({ kind: 'scan', payload: 'again', dedupeKey: 'scan:app' });
      assert.equal((await onlyJob(meta)).payload, '"again"');
    }));

    test('a failing job is retried with growing backoff and ends failed after maxAttempts', withQueue(async ({ meta, queue, clock }) => {
      const attempts: number[] = [];
      queue.register(
        'flaky',
        async (_payload, ctx) => {
          attempts.push(ctx.attempt);
          throw new Error(`boom ${ctx.attempt}`);
        },
        { maxAttempts: 3 },
      );
      await queue.enqueue({ kind: 'flaky', dedupeKey: 'flaky:1' });
      assert.equal(await queue.runDue(), 1);
      const first = await onlyJob(meta);
      assert.equal(first.status, 'pending');
      assert.equal(first.attempts, 1);
      assert.equal(first.last_error, 'boom 1');
      assert.equal(first.lease_owner, null);
      const backoff1 = first.run_at - clock.now;
      assert.ok(backoff1 > 0, 'the retry is later');
      assert.equal(await queue.runDue(), 0, 'not before the backoff');
      clock.now = first.run_at - 1;
      assert.equal(await queue.runDue(), 0);
      clock.now = first.run_at;
      assert.equal(await queue.runDue(), 1);
      const second = await onlyJob(meta);
      assert.equal(second.status, 'pending');
      assert.equal(second.attempts, 2);
      assert.equal(second.last_error, 'boom 2');
      const backoff2 = second.run_at - clock.now;
      assert.ok(backoff2 > backoff1, `the backoff grows (${backoff1} then ${backoff2})`);
      clock.now = second.run_at;
      assert.equal(await queue.runDue(), 1);
      const last = await onlyJob(meta);
      assert.equal(last.status, 'failed');
      assert.equal(last.attempts, 3);
      assert.equal(last.last_error, 'boom 3');
      assert.deepEqual(attempts, [1, 2, 3]);
      clock.now += 365 * 24 * 3600_000;
      assert.equal(await queue.runDue(), 0, 'a failed job never runs again');
      assert.deepEqual(attempts, [1, 2, 3]);
      // A failed job does not hold its dedupe key.
      await queue.enqueue({ kind: 'flaky', dedupeKey: 'flaky:1' });
      assert.deepEqual(
        (await jobs(meta)).map((j) => j.status),
        ['failed', 'pending'],
      );
    }));

    test('a job that fails once and then succeeds is removed', withQueue(async ({ meta, queue, clock }) => {
      let calls = 0;
      queue.register('once', async () => {
        calls++;
        if (calls === 1) throw new Error('transient');
      });
      await queue.enqueue({ kind: 'once' });
      assert.equal(await queue.runDue(), 1);
      clock.now = (await onlyJob(meta)).run_at;
      assert.equal(await queue.runDue(), 1);
      assert.equal(calls, 2);
      assert.deepEqual(await jobs(meta), []);
    }));

    test('a job of an unregistered kind fails', withQueue(async ({ meta, queue }) => {
      await queue.enqueue({ kind: 'nobody-handles-this' });
      assert.equal(await queue.runDue(), 1);
      const row = await onlyJob(meta);
      assert.equal(row.status, 'failed');
      assert.match(row.last_error ?? '', /no handler/);
    }));

    test('a running job whose lease expired is claimed again, and the stale worker cannot undo that', withQueue(async ({ meta, clock, fixture }) => {
      const runs: string[] = [];
      let releaseA: (fail: boolean) => void = () => undefined;
      let startedA: () => void = () => undefined;
      const aStarted = new Promise<void>((resolve) => (startedA = resolve));
      // No heartbeat: this worker stands for a process that hung or died.
      const stale = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000, heartbeatMs: 0 });
      stale.register('work', async (_p, ctx) => {
        runs.push(`A${ctx.attempt}`);
        startedA();
        const fail = await new Promise<boolean>((resolve) => (releaseA = resolve));
        if (fail) throw new Error('the stale worker fails late');
      });
      const meta2 = await fixture.openAnother();
      try {
        const fresh = new SqlJobQueue(meta2, { log: silent, now: clock.fn, leaseMs: 10_000 });
        let releaseB: () => void = () => undefined;
        let startedB: () => void = () => undefined;
        const bStarted = new Promise<void>((resolve) => (startedB = resolve));
        fresh.register('work', async (_p, ctx) => {
          runs.push(`B${ctx.attempt}`);
          startedB();
          await new Promise<void>((resolve) => (releaseB = resolve));
        });
        await stale.enqueue({ kind: 'work', dedupeKey: 'work:1' });
        const aRun = stale.runDue();
        await aStarted;
        const claimed = await onlyJob(meta);
        assert.equal(claimed.status, 'running');
        assert.equal(claimed.lease_until, T0 + 10_000);
        // Worker A is still within its lease: nobody else takes the job.
        clock.now = T0 + 10_000;
        assert.equal(await fresh.runDue(), 0);
        // A's lease runs out (as if A hung or died): B claims the job.
        clock.now = T0 + 10_001;
        const bRun = fresh.runDue();
        await bStarted;
        assert.deepEqual(runs, ['A1', 'B2']);
        // A finally fails while B still holds the lease: A must not touch B's job.
        releaseA(true);
        assert.equal(await aRun, 1);
        const during = await onlyJob(meta);
        assert.equal(during.status, 'running', "the stale worker's failure did not take the job back from B");
        assert.notEqual(during.lease_owner, null);
        releaseB();
        assert.equal(await bRun, 1);
        assert.deepEqual(await jobs(meta), [], "B's success removed the job");
        clock.now += 24 * 3600_000;
        assert.equal(await stale.runDue(), 0);
        assert.equal(await fresh.runDue(), 0);
        assert.deepEqual(runs, ['A1', 'B2']);
      } finally {
        await meta2.close();
      }
    }));

    test('a stale worker finishing late does not remove the job claimed by another', withQueue(async ({ meta, clock, fixture }) => {
      let releaseA: () => void = () => undefined;
      let startedA: () => void = () => undefined;
      const aStarted = new Promise<void>((resolve) => (startedA = resolve));
      // No heartbeat: this worker stands for a process that hung or died.
      const stale = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000, heartbeatMs: 0 });
      stale.register('work', async () => {
        startedA();
        await new Promise<void>((resolve) => (releaseA = resolve));
      });
      const meta2 = await fixture.openAnother();
      try {
        const fresh = new SqlJobQueue(meta2, { log: silent, now: clock.fn, leaseMs: 10_000 });
        let releaseB: () => void = () => undefined;
        let startedB: () => void = () => undefined;
        const bStarted = new Promise<void>((resolve) => (startedB = resolve));
        fresh.register('work', async () => {
          startedB();
          await new Promise<void>((resolve) => (releaseB = resolve));
        });
        await stale.enqueue({ kind: 'work' });
        const aRun = stale.runDue();
        await aStarted;
        clock.now = T0 + 10_001;
        const bRun = fresh.runDue();
        await bStarted;
        releaseA();
        assert.equal(await aRun, 1);
        assert.equal((await onlyJob(meta)).status, 'running', 'still leased by B');
        releaseB();
        assert.equal(await bRun, 1);
        assert.deepEqual(await jobs(meta), []);
      } finally {
        await meta2.close();
      }
    }));

    test('two workers claim every due job exactly once', withQueue(async ({ meta, clock, fixture }) => {
      const meta2 = await fixture.openAnother();
      try {
        const ran = new Map<number, number>();
        const handler = async (payload: unknown): Promise<void> => {
          const n = payload as number;
          ran.set(n, (ran.get(n) ?? 0) + 1);
          await new Promise((resolve) => setImmediate(resolve));
        };
        const a = new SqlJobQueue(meta, { log: silent, now: clock.fn });
        const b = new SqlJobQueue(meta2, { log: silent, now: clock.fn });
        a.register('n', handler);
        b.register('n', handler);
        for (let i = 0; i < 30; i++) await a.enqueue({ kind: 'n', payload: i });
        const [na, nb] = await Promise.all([a.runDue(), b.runDue()]);
        assert.equal(na + nb, 30);
        assert.equal(ran.size, 30);
        for (const [n, times] of ran) assert.equal(times, 1, `job ${n} ran once`);
        assert.deepEqual(await jobs(meta), []);
      } finally {
        await meta2.close();
      }
    }));

    test('schedule() enqueues periodic jobs every interval', withQueue(async ({ meta, queue, clock }) => {
      const ticks: Array<{ at: number; payload: unknown }> = [];
      queue.register('tick', async (payload) => {
        ticks.push({ at: clock.now, payload });
      });
      queue.schedule('tick', 60, { payload: { scope: 'all' } });
      assert.equal(await queue.runDue(), 0, 'the first run is after one interval');
      clock.now = T0 + 59_999;
      assert.equal(await queue.runDue(), 0);
      clock.now = T0 + 60_000;
      assert.equal(await queue.runDue(), 1);
      assert.equal(await queue.runDue(), 0, 'once per interval');
      clock.now = T0 + 90_000;
      assert.equal(await queue.runDue(), 0);
      clock.now = T0 + 120_000;
      assert.equal(await queue.runDue(), 1);
      assert.deepEqual(ticks, [
        { at: T0 + 60_000, payload: { scope: 'all' } },
        { at: T0 + 120_000, payload: { scope: 'all' } },
      ]);
      assert.deepEqual(await jobs(meta), []);
    }));

    test('schedule() with runNow runs at once; a periodic job still pending is not enqueued twice', withQueue(async ({ meta, queue, clock }) => {
      let now = 0;
      queue.register('now', async () => {
        now++;
      });
      queue.schedule('now', 3600, { runNow: true });
      assert.equal(await queue.runDue(), 1);
      assert.equal(now, 1);
      let stuck = 0;
      queue.register(
        'stuck',
        async () => {
          stuck++;
          throw new Error('still failing');
        },
        { maxAttempts: 1000 },
      );
      queue.schedule('stuck', 1, { runNow: true });
      for (let i = 0; i < 5; i++) {
        await queue.runDue();
        const stuckJobs = (await jobs(meta)).filter((j) => j.kind === 'stuck');
        assert.equal(stuckJobs.length, 1, 'one pending job per periodic kind');
        assert.equal(stuckJobs[0]?.dedupe_key, 'periodic:stuck');
        clock.now += 1000;
      }
      assert.ok(stuck >= 1);
    }));

    test('enqueue inside a transaction that throws leaves no job; a committed one does', withQueue(async ({ meta, queue }) => {
      let ran = 0;
      queue.register('tx', async () => {
        ran++;
      });
      await assert.rejects(
        meta.transaction(async (tx) => {
          await tx.settings.set('caused-by', 'tx');
          await queue.enqueue({ kind: 'tx', payload: 'rolled back' }, tx);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.deepEqual(await jobs(meta), []);
      assert.equal(await meta.settings.get('caused-by'), undefined);
      assert.equal(await queue.runDue(), 0);
      await meta.transaction(async (tx) => {
        await tx.settings.set('caused-by', 'tx');
        await queue.enqueue({ kind: 'tx', payload: 'committed' }, tx);
      });
      assert.equal((await onlyJob(meta)).payload, '"committed"');
      assert.equal(await queue.runDue(), 1);
      assert.equal(ran, 1);
    }));

    test('heartbeats extend the lease of a long job, so that no other worker takes it over', withQueue(async ({ meta, clock, fixture }) => {
      const long = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000, heartbeatMs: 10 });
      const started = latch();
      const release = latch();
      let signal: AbortSignal | undefined;
      long.register('long', async (_p, ctx) => {
        signal = ctx.signal;
        started.resolve();
        await release.promise;
      });
      const meta2 = await fixture.openAnother();
      try {
        const other = new SqlJobQueue(meta2, { log: silent, now: clock.fn, leaseMs: 10_000 });
        let otherRan = 0;
        other.register('long', async () => {
          otherRan++;
        });
        await long.enqueue({ kind: 'long' });
        const run = long.runDue();
        await started.promise;
        assert.equal((await onlyJob(meta)).lease_until, T0 + 10_000);
        // Time passes while the job runs: each heartbeat moves the lease to now + leaseMs.
        for (const at of [T0 + 8000, T0 + 16_000, T0 + 24_000]) {
          clock.now = at;
          await eventually(`the lease reaches ${at + 10_000}`, async () => (await onlyJob(meta)).lease_until === at + 10_000);
          clock.now = at + 9999;
          assert.equal(await other.runDue(), 0, 'still leased by the running worker');
        }
        assert.equal((await onlyJob(meta)).attempts, 1);
        assert.equal(signal?.aborted, false);
        release.resolve();
        assert.equal(await run, 1);
        assert.deepEqual(await jobs(meta), []);
        assert.equal(otherRan, 0);
      } finally {
        await meta2.close();
      }
    }));

    test('a worker whose job was taken over (its lease lapsed) is told through ctx.signal and changes nothing', withQueue(async ({ meta, clock }) => {
      const q = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000, heartbeatMs: 10 });
      const started = latch();
      let reason: unknown;
      q.register('work', async (_p, ctx) => {
        started.resolve();
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        reason = ctx.signal.reason;
      });
      await q.enqueue({ kind: 'work' });
      const run = q.runDue();
      await started.promise;
      // As if another worker had claimed the job after this one's lease lapsed.
      await meta.db.updateTable('jobs').set({ lease_owner: 'another-worker', lease_until: T0 + 99_000 }).execute();
      assert.equal(await run, 1);
      assert.match(String(reason), /lease lost/);
      const row = await onlyJob(meta);
      assert.equal(row.status, 'running');
      assert.equal(row.lease_owner, 'another-worker', "the other worker's claim is intact");
      assert.equal(row.lease_until, T0 + 99_000);
    }));

    test('stop() waits for running jobs only up to stopTimeoutMs, aborts them, and another worker takes them over', withQueue(async ({ meta, clock, fixture }) => {
      const q = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000, heartbeatMs: 10, pollMs: 10, stopTimeoutMs: 100 });
      const started = latch();
      let aborted = false;
      q.register('stubborn', async (_p, ctx) => {
        started.resolve();
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = true;
        // Ignores the signal for a while, as a handler busy elsewhere would.
        await sleep(50);
        throw new Error('aborted');
      });
      await q.enqueue({ kind: 'stubborn' });
      q.start({ work: true, schedule: false });
      await started.promise;
      const t = Date.now();
      await q.stop();
      assert.ok(Date.now() - t < 5000, 'stop() is bounded');
      await eventually('the handler saw the abort', () => aborted);
      const meta2 = await fixture.openAnother();
      try {
        const other = new SqlJobQueue(meta2, { log: silent, now: clock.fn, leaseMs: 10_000 });
        const ran: number[] = [];
        other.register('stubborn', async (_p, ctx) => {
          ran.push(ctx.attempt);
        });
        // The aborted handler failed while its lease was still valid: the job is pending again (had the
        // process died instead, its lease would have run out). Another worker runs it.
        await eventually('the aborted run is recorded', async () => (await onlyJob(meta)).status === 'pending');
        assert.match((await onlyJob(meta)).last_error ?? '', /aborted/);
        clock.now = T0 + 3_600_000;
        assert.equal(await other.runDue(), 1);
        assert.deepEqual(ran, [2]);
        assert.deepEqual(await jobs(meta), []);
      } finally {
        await meta2.close();
      }
    }));

    test('periodic jobs: only the scheduler leader enqueues them, once per interval; a standby takes over when the leader stops or dies', withQueue(async ({ meta, clock, fixture }) => {
      const meta2 = await fixture.openAnother();
      try {
        const ticks: Array<{ by: string; at: number }> = [];
        const make = (m: MetaStore, by: string): SqlJobQueue => {
          const q = new SqlJobQueue(m, { log: silent, now: clock.fn, leaderLeaseMs: 30_000 });
          q.register('tick', async () => {
            ticks.push({ by, at: clock.now });
          });
          // Every process configures the same schedule.
          q.schedule('tick', 60);
          return q;
        };
        const a = make(meta, 'A');
        const b = make(meta2, 'B');
        const c = make(meta, 'C');
        const all = [a, b, c];
        const step = async (order: SqlJobQueue[]): Promise<number> => {
          let n = 0;
          for (const q of order) n += await q.runDue();
          return n;
        };
        // A comes first and leads; the others try every time and are refused.
        assert.equal(await step(all), 0, 'the first run is one interval away');
        assert.deepEqual(all.map((q) => q.isLeader()), [true, false, false]);
        for (let at = T0 + 20_000; at <= T0 + 200_000; at += 20_000) {
          clock.now = at;
          await step(at % 40_000 === 0 ? [...all].reverse() : all);
          assert.equal(a.isLeader(), true);
        }
        assert.deepEqual(
          ticks.map((t) => t.at),
          [T0 + 60_000, T0 + 120_000, T0 + 180_000],
          'once per interval, whoever runs the job',
        );
        // The leader stops: the next process to try takes over, and the period goes on where it was.
        await a.stop();
        assert.equal(a.isLeader(), false);
        clock.now = T0 + 210_000;
        await step([b, c]);
        assert.deepEqual([b.isLeader(), c.isLeader()], [true, false]);
        for (let at = T0 + 220_000; at <= T0 + 300_000; at += 20_000) {
          clock.now = at;
          await step([c, b]);
        }
        assert.deepEqual(
          ticks.map((t) => t.at),
          [T0 + 60_000, T0 + 120_000, T0 + 180_000, T0 + 240_000, T0 + 300_000],
        );
        // The leader dies (stops renewing): after its lease ran out, another process takes over.
        clock.now = T0 + 300_000 + 30_001;
        await step([c]);
        assert.equal(c.isLeader(), true);
        assert.equal(b.isLeader(), false);
        await step([b]);
        assert.equal(b.isLeader(), false, 'the old leader does not take it back');
        clock.now = T0 + 360_000;
        await step([b, c]);
        assert.deepEqual(
          ticks.map((t) => t.at),
          [T0 + 60_000, T0 + 120_000, T0 + 180_000, T0 + 240_000, T0 + 300_000, T0 + 360_000],
        );
        const leaseRows = await meta.db.selectFrom('leases').select('name').orderBy('name').execute();
        assert.deepEqual(leaseRows.map((r) => r.name), ['periodic:tick', 'scheduler']);
        for (const q of all) await q.stop();
      } finally {
        await meta2.close();
      }
    }));

    test('a periodic job is due at once with runNow unless it ran within the interval; a shortened interval applies at once', withQueue(async ({ meta, clock }) => {
      let ran = 0;
      const make = (everySeconds: number): SqlJobQueue => {
        const q = new SqlJobQueue(meta, { log: silent, now: clock.fn });
        q.register('purge', async () => {
          ran++;
        });
        q.schedule('purge', everySeconds, { runNow: true });
        return q;
      };
      const first = make(3600);
      assert.equal(await first.runDue(), 1);
      await first.stop();
      // A restart ten minutes later does not run it again...
      clock.now = T0 + 600_000;
      const second = make(3600);
      assert.equal(await second.runDue(), 0);
      clock.now = T0 + 3_600_000;
      assert.equal(await second.runDue(), 1);
      await second.stop();
      // ...and a restart with a shorter interval does not wait for the old, longer one.
      clock.now = T0 + 3_700_000;
      const third = make(60);
      assert.equal(await third.runDue(), 1);
      clock.now = T0 + 3_730_000;
      assert.equal(await third.runDue(), 0);
      clock.now = T0 + 3_760_000;
      assert.equal(await third.runDue(), 1);
      await third.stop();
      assert.equal(ran, 4);
    }));

    test('roles: a scheduler-only process enqueues, a worker-only process runs; leadership moves when the scheduler stops', withQueue(async ({ meta, clock, fixture }) => {
      const meta2 = await fixture.openAnother();
      const queues: SqlJobQueue[] = [];
      try {
        const ran: string[] = [];
        const make = (m: MetaStore, by: string): SqlJobQueue => {
          // Real timers (polling, lease renewal every 100 ms), the test's clock for due times and leases:
          // the clock only moves while one process has the scheduler role, so the lease cannot change hands then.
          const q = new SqlJobQueue(m, { log: silent, now: clock.fn, pollMs: 10, leaderLeaseMs: 300 });
          q.register('tick', async () => {
            ran.push(`tick by ${by}`);
          });
          q.register('job', async (payload) => {
            ran.push(`${String(payload)} by ${by}`);
          });
          q.schedule('tick', 60, { runNow: true });
          queues.push(q);
          return q;
        };
        const scheduler = make(meta, 'scheduler');
        const worker = make(meta2, 'worker');
        scheduler.start({ work: false, schedule: true });
        worker.start({ work: true, schedule: false });
        await eventually('the tick ran', () => ran.length === 1);
        assert.deepEqual(ran, ['tick by worker']);
        assert.equal(scheduler.isLeader(), true);
        assert.equal(worker.isLeader(), false, 'a worker-only process never leads');
        await scheduler.enqueue({ kind: 'job', payload: 'enqueued by the scheduler' });
        await eventually('the job ran', () => ran.length === 2);
        assert.deepEqual(ran, ['tick by worker', 'enqueued by the scheduler by worker']);
        // Polling goes on: no tick before the next interval.
        await sleep(100);
        assert.equal(ran.length, 2);
        clock.now = T0 + 60_000;
        await eventually('the second tick ran', () => ran.length === 3);
        // Another process with both roles stands by; it leads once the scheduler stops.
        const both = make(meta2, 'both');
        both.start();
        await sleep(100);
        assert.equal(both.isLeader(), false);
        await scheduler.stop();
        await eventually('the standby leads', () => both.isLeader(), 5000);
        await sleep(100);
        assert.equal(ran.length, 3, 'the period is shared: no extra tick on a leader change');
        clock.now = T0 + 120_000;
        await eventually('the third tick ran', () => ran.length === 4);
        assert.match(ran[3] ?? '', /^tick by (worker|both)$/);
      } finally {
        for (const q of queues) await q.stop();
        await meta2.close();
      }
    }));

    test('start() runs due jobs in the background; stop() waits for them', withQueue(async ({ meta, fixture }) => {
      const queue = new SqlJobQueue(fixture.meta, { log: silent, pollMs: 20 });
      let resolveRan: (payload: unknown) => void = () => undefined;
      const ran = new Promise<unknown>((resolve) => (resolveRan = resolve));
      queue.register('bg', async (payload) => {
        resolveRan(payload);
      });
      queue.start();
      try {
        await queue.enqueue({ kind: 'bg', payload: 'background' });
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the job did not run within 10 s')), 10_000).unref());
        assert.equal(await Promise.race([ran, timeout]), 'background');
      } finally {
        await queue.stop();
      }
      // The job is removed once its handler returned; stop() waited for that.
      for (let i = 0; i < 50 && (await jobs(meta)).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(await jobs(meta), []);
    }));
  });
}

let sqliteDir = '';
let sqliteN = 0;
before(async () => {
  sqliteDir = await mkdtemp(join(tmpdir(), 'berth-jobs-'));
});
after(async () => {
  await rm(sqliteDir, { recursive: true, force: true });
});

queueSuite('sqlite', async () => {
  const path = join(sqliteDir, `jobs-${++sqliteN}.db`);
  const meta = await openSqlite({ path });
  return { meta, openAnother: () => openSqlite({ path }), cleanup: () => meta.close() };
});

if (POSTGRES_TEST_URL === undefined) {
  test('SqlJobQueue: postgres', { skip: POSTGRES_SKIP_REASON }, () => undefined);
} else {
  const dbUrl = useTempPostgresDatabase();
  queueSuite('postgres', async () => await freshPostgresMeta(dbUrl()));
}
