// Named leases over SQLite, and over PostgreSQL when BERTH_TEST_POSTGRES_URL is set. Two MetaStores
// over one database stand for two processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, freshPostgresMeta, useTempPostgresDatabase } from '../../test/helpers/postgres.ts';
import { openSqlite, type MetaStore } from '../meta/index.ts';
import { Lease } from './lease.ts';

interface Fixture {
  meta: MetaStore;
  openAnother(): Promise<MetaStore>;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

class Clock {
  now = T0;
  readonly fn = (): number => this.now;
}

async function row(meta: MetaStore, name: string): Promise<{ owner: string; until: number } | undefined> {
  const r = await meta.db.selectFrom('leases').select(['owner', 'until']).where('name', '=', name).executeTakeFirst();
  return r === undefined ? undefined : { owner: r.owner, until: Number(r.until) };
}

async function eventually(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

function leaseSuite(name: string, make: () => Promise<Fixture>): void {
  const withFixture =
    (fn: (f: Fixture & { other: MetaStore; clock: Clock }) => Promise<void>) =>
    async (): Promise<void> => {
      const f = await make();
      const other = await f.openAnother();
      try {
        await fn({ ...f, other, clock: new Clock() });
      } finally {
        await other.close();
        await f.cleanup();
      }
    };

  describe(`Lease: ${name}`, () => {
    test('owner ids are random per Lease and name the host and process', withFixture(async ({ meta }) => {
      const a = new Lease(meta, { name: 'x', ttlMs: 1000 });
      const b = new Lease(meta, { name: 'x', ttlMs: 1000 });
      assert.notEqual(a.owner, b.owner);
      assert.match(a.owner, new RegExp(`:${process.pid}:[0-9a-f]{8}$`));
      assert.throws(() => new Lease(meta, { name: 'x', ttlMs: 0 }), RangeError);
    }));

    test('acquire, refuse the other, renew, expire, take over, release', withFixture(async ({ meta, other, clock }) => {
      const changes: string[] = [];
      const a = new Lease(meta, { name: 'leader', ttlMs: 10_000, owner: 'A', now: clock.fn, onChange: (held) => changes.push(`A ${held}`) });
      const b = new Lease(other, { name: 'leader', ttlMs: 10_000, owner: 'B', now: clock.fn, onChange: (held) => changes.push(`B ${held}`) });
      assert.equal(a.isHeld(), false);
      assert.equal(await a.tryAcquire(), true);
      assert.equal(a.isHeld(), true);
      assert.deepEqual(await row(meta, 'leader'), { owner: 'A', until: T0 + 10_000 });
      assert.equal(await b.tryAcquire(), false, 'held by A');
      assert.equal(b.isHeld(), false);
      assert.deepEqual(await row(meta, 'leader'), { owner: 'A', until: T0 + 10_000 }, "B's attempt changed nothing");
      // A renews.
      clock.now = T0 + 6000;
      assert.equal(await a.tryAcquire(), true);
      assert.deepEqual(await row(meta, 'leader'), { owner: 'A', until: T0 + 16_000 });
      clock.now = T0 + 16_000;
      assert.equal(await b.tryAcquire(), false, 'not before the lease has passed');
      assert.equal(a.isHeld(), false, 'A knows its lease ran out at its until');
      // A did not renew in time: B takes over.
      clock.now = T0 + 16_001;
      assert.equal(await b.tryAcquire(), true);
      assert.deepEqual(await row(other, 'leader'), { owner: 'B', until: T0 + 26_001 });
      assert.equal(await a.tryAcquire(), false, 'A cannot take it back');
      assert.equal(a.isHeld(), false);
      // B releases: A gets it at once.
      await b.stop();
      assert.equal(b.isHeld(), false);
      assert.equal(await row(meta, 'leader'), undefined);
      assert.equal(await a.tryAcquire(), true);
      // Acquisitions and releases are reported; renewals are not, nor a lease that simply ran out (isHeld() tells).
      assert.deepEqual(changes, ['A true', 'B true', 'B false', 'A true']);
      // A stale release by B does not touch A's lease.
      await b.stop();
      assert.equal((await row(meta, 'leader'))?.owner, 'A');
      // Other names are independent.
      const c = new Lease(other, { name: 'another', ttlMs: 10_000, owner: 'C', now: clock.fn });
      assert.equal(await c.tryAcquire(), true);
      await a.stop();
      await c.stop();
    }));

    test('of many processes racing for a free or expired lease, exactly one wins each round', withFixture(async ({ meta, other, clock }) => {
      const leases: Lease[] = [];
      for (let i = 0; i < 8; i++) leases.push(new Lease(i % 2 === 0 ? meta : other, { name: 'race', ttlMs: 1000, owner: `P${i}`, now: clock.fn }));
      const winners: string[] = [];
      for (let round = 0; round < 15; round++) {
        const won = await Promise.all(leases.map((l) => l.tryAcquire()));
        const who = leases.filter((_, i) => won[i] === true);
        assert.equal(who.length, 1, `round ${round}: ${who.map((l) => l.owner).join(', ')} won`);
        const w = who[0] as Lease;
        winners.push(w.owner);
        assert.equal((await row(meta, 'race'))?.owner, w.owner);
        assert.deepEqual(
          leases.filter((l) => l.isHeld()).map((l) => l.owner),
          [w.owner],
        );
        // The winner's lease runs out.
        clock.now += 1001;
      }
      assert.equal(winners.length, 15);
    }));

    test('a renewal that fails keeps the lease until it runs out', withFixture(async (f) => {
      const clock = f.clock;
      const meta = await f.openAnother();
      const a = new Lease(meta, { name: 'leader', ttlMs: 10_000, now: clock.fn });
      assert.equal(await a.tryAcquire(), true);
      await meta.close();
      clock.now = T0 + 5000;
      await assert.rejects(a.tryAcquire());
      assert.equal(a.isHeld(), true);
      clock.now = T0 + 10_000;
      assert.equal(a.isHeld(), false);
      await a.stop(); // the release fails quietly: the lease expires by itself
    }));

    test('start() renews every ttl/3 in the background; a standby takes over after stop()', withFixture(async ({ meta, other }) => {
      const a = new Lease(meta, { name: 'bg', ttlMs: 600 });
      const b = new Lease(other, { name: 'bg', ttlMs: 600 });
      a.start();
      await eventually('A holds the lease', () => a.isHeld());
      b.start();
      try {
        const first = (await row(meta, 'bg'))?.until ?? 0;
        // Three ttls: without renewals the lease would have passed to B.
        await sleep(1500);
        assert.equal(a.isHeld(), true);
        assert.equal(b.isHeld(), false);
        const later = await row(meta, 'bg');
        assert.equal(later?.owner, a.owner);
        assert.ok((later?.until ?? 0) > first + 600, 'renewed');
        await a.stop();
        assert.equal(a.isHeld(), false);
        await eventually('B took over', () => b.isHeld(), 5000);
        assert.equal((await row(meta, 'bg'))?.owner, b.owner);
      } finally {
        await a.stop();
        await b.stop();
      }
      assert.equal(await row(meta, 'bg'), undefined, 'released');
    }));
  });
}

let sqliteDir = '';
let sqliteN = 0;
before(async () => {
  sqliteDir = await mkdtemp(join(tmpdir(), 'berth-lease-'));
});
after(async () => {
  await rm(sqliteDir, { recursive: true, force: true });
});

leaseSuite('sqlite', async () => {
  const path = join(sqliteDir, `lease-${++sqliteN}.db`);
  const meta = await openSqlite({ path });
  return { meta, openAnother: () => openSqlite({ path }), cleanup: () => meta.close() };
});

if (POSTGRES_TEST_URL === undefined) {
  test('Lease: postgres', { skip: POSTGRES_SKIP_REASON }, () => undefined);
} else {
  const dbUrl = useTempPostgresDatabase();
  leaseSuite('postgres', async () => await freshPostgresMeta(dbUrl()));
}
