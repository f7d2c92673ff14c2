// The SQL job queue over SQLite, and over PostgreSQL when BERTH_TEST_POSTGRES_URL is set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, createTempPostgresDatabase, truncateAllTables, type TempPostgresDatabase } from '../../test/helpers/postgres.ts';
import { openSqlite, type MetaStore } from '../meta/index.ts';
import { openPostgres } from '../meta/postgres.ts';
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
      const stale = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000 });
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
      const stale = new SqlJobQueue(meta, { log: silent, now: clock.fn, leaseMs: 10_000 });
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
  const adminUrl = POSTGRES_TEST_URL;
  let db: TempPostgresDatabase | undefined;
  const dbUrl = (): string => {
    if (db === undefined) throw new Error('the test database was not created');
    return db.url;
  };
  before(async () => {
    db = await createTempPostgresDatabase(adminUrl);
  });
  after(async () => {
    await db?.drop();
  });
  queueSuite('postgres', async () => {
    const meta = await openPostgres({ url: dbUrl(), poolSize: 4 });
    try {
      await truncateAllTables(dbUrl());
    } catch (e) {
      await meta.close();
      throw e;
    }
    return { meta, openAnother: () => openPostgres({ url: dbUrl(), poolSize: 4 }), cleanup: () => meta.close() };
  });
}
