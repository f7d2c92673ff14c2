// The cache invalidation bus: LocalBus always; PostgresBus (two buses = two processes) when
// BERTH_TEST_POSTGRES_URL is set, including a listener connection killed by the server. Also the
// authenticator's wiring: an invalidation in one process empties the other's credential cache.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, useTempPostgresDatabase } from '../../test/helpers/postgres.ts';
import { BasicAuthenticator } from '../auth/authenticator.ts';
import { hashSecret } from '../auth/secrets.ts';
import { isRegistryError } from '../core/errors.ts';
import { openSqlite, type MetaStore } from '../meta/index.ts';
import { openPostgres } from '../meta/postgres.ts';
import { LocalBus, MAX_PAYLOAD_BYTES, PostgresBus, RESYNC_TOPIC, decodeMessage, encodeMessage, type Bus } from './bus.ts';

const silent = pino({ level: 'silent' });

function capturingLogger(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

async function eventually(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

function recorder(bus: Bus, topic: string): string[] {
  const got: string[] = [];
  bus.subscribe(topic, (m) => got.push(m));
  return got;
}

describe('bus messages', () => {
  test('topic and message travel as "topic\\nmessage" of at most 7999 bytes', () => {
    assert.equal(encodeMessage('accesskey', 'AKIA1'), 'accesskey\nAKIA1');
    assert.deepEqual(decodeMessage('accesskey\nAKIA1\nmore'), { topic: 'accesskey', message: 'AKIA1\nmore' });
    assert.deepEqual(decodeMessage('t\n'), { topic: 't', message: '' });
    assert.equal(decodeMessage('no newline'), undefined);
    assert.equal(decodeMessage('\nno topic'), undefined);
    assert.throws(() => encodeMessage('', 'x'), RangeError);
    assert.throws(() => encodeMessage('a\nb', 'x'), RangeError);
    assert.equal(encodeMessage('t', 'x'.repeat(MAX_PAYLOAD_BYTES - 2)).length, MAX_PAYLOAD_BYTES);
    assert.throws(() => encodeMessage('t', 'x'.repeat(MAX_PAYLOAD_BYTES - 1)), /7999/);
    // Bytes, not characters.
    assert.throws(() => encodeMessage('t', 'é'.repeat(4000)), RangeError);
  });
});

describe('LocalBus', () => {
  test('delivers to the subscribers of the topic, once each, until they unsubscribe', async () => {
    const bus = new LocalBus();
    const a = recorder(bus, 'a');
    const b = recorder(bus, 'b');
    const twice: string[] = [];
    const fn = (m: string): void => {
      twice.push(m);
    };
    const u1 = bus.subscribe('a', fn);
    bus.subscribe('a', fn);
    await bus.publish('a', 'one');
    await bus.publish('b', 'two');
    await bus.publish('c', 'nobody listens');
    assert.deepEqual(a, ['one']);
    assert.deepEqual(b, ['two']);
    assert.deepEqual(twice, ['one', 'one'], 'two subscriptions of one function are two subscriptions');
    u1();
    u1();
    await bus.publish('a', 'three');
    assert.deepEqual(twice, ['one', 'one', 'three']);
    assert.deepEqual(a, ['one', 'three']);
    await assert.rejects(bus.publish('a\nb', 'x'), RangeError);
    await bus.close();
    await assert.rejects(bus.publish('a', 'closed'), /closed/);
    assert.deepEqual(a, ['one', 'three']);
  });

  test('a failing subscriber is logged and does not stop the others', async () => {
    const { log, lines } = capturingLogger();
    const bus = new LocalBus({ log });
    bus.subscribe('t', () => {
      throw new Error('subscriber bug');
    });
    const got = recorder(bus, 't');
    await bus.publish('t', 'm');
    assert.deepEqual(got, ['m']);
    assert.ok(lines.some((l) => l.msg === 'bus subscriber failed' && l.level === 50));
  });
});

const ACCOUNT = '111122223333';
const KEY = 'AKIAAAAAAAAAAAAAAAAA';
const SECRET = 'secret-secret-secret-secret';

function unauthorized(e: unknown): boolean {
  return isRegistryError(e) && e.code === 'Unauthorized';
}

async function seedKey(meta: MetaStore): Promise<void> {
  await meta.accounts.ensure(ACCOUNT, 1);
  await meta.accessKeys.put({ accessKeyId: KEY, accountId: ACCOUNT, userName: 'root', secretHash: await hashSecret(SECRET), status: 'Active', createdAt: 1 });
}

async function setStatus(meta: MetaStore, status: 'Active' | 'Inactive'): Promise<void> {
  const k = await meta.accessKeys.get(KEY);
  assert.ok(k !== undefined);
  await meta.accessKeys.put({ ...k, status });
}

/** Two processes' authenticators, each on its own bus; `settle` waits until a published message has arrived. */
async function authenticatorWiring(meta: MetaStore, busA: Bus, busB: Bus, settle: (check: () => Promise<boolean>) => Promise<void>): Promise<void> {
  await seedKey(meta);
  const a = new BasicAuthenticator(meta, { cacheTtlSeconds: 3600, bus: busA, log: silent });
  const b = new BasicAuthenticator(meta, { cacheTtlSeconds: 3600, bus: busB, log: silent });
  try {
    await a.verify(KEY, SECRET);
    await b.verify(KEY, SECRET);
    await setStatus(meta, 'Inactive');
    // The hour-long cache still answers in both processes...
    await a.verify(KEY, SECRET);
    await b.verify(KEY, SECRET);
    // ...until A invalidates the key: A at once, B through the bus.
    a.invalidate(KEY);
    await assert.rejects(a.verify(KEY, SECRET), unauthorized);
    await settle(async () => await b.verify(KEY, SECRET).then(() => false, unauthorized));
    // Re-activated (refusals are cached too, so the change is announced as well).
    await setStatus(meta, 'Active');
    a.invalidate(KEY);
    await a.verify(KEY, SECRET);
    await settle(async () => await b.verify(KEY, SECRET).then(() => true, () => false));
    // A resync (messages may have been lost) empties the whole cache.
    await setStatus(meta, 'Inactive');
    await b.verify(KEY, SECRET);
    await busB.publish(RESYNC_TOPIC, 'test');
    await assert.rejects(b.verify(KEY, SECRET), unauthorized);
    // After close() an authenticator no longer listens.
    await setStatus(meta, 'Active');
    a.invalidate(KEY);
    await settle(async () => await b.verify(KEY, SECRET).then(() => true, () => false));
    b.close();
    await setStatus(meta, 'Inactive');
    a.invalidate(KEY);
    await sleep(100);
    await b.verify(KEY, SECRET);
  } finally {
    a.close();
    b.close();
  }
}

test('BasicAuthenticator over a LocalBus: invalidate and resync reach every authenticator', async () => {
  const meta = await openSqlite({ path: ':memory:' });
  const bus = new LocalBus();
  try {
    await authenticatorWiring(meta, bus, bus, async (check) => assert.equal(await check(), true));
  } finally {
    await bus.close();
    await meta.close();
  }
});

if (POSTGRES_TEST_URL === undefined) {
  test('PostgresBus', { skip: POSTGRES_SKIP_REASON }, () => undefined);
} else {
  const adminUrl = POSTGRES_TEST_URL;
  const dbUrl = useTempPostgresDatabase(adminUrl);

  const terminate = async (pid: number): Promise<void> => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      const { rows } = await c.query<{ ok: boolean }>('select pg_terminate_backend($1) as ok', [pid]);
      assert.equal(rows[0]?.ok, true);
    } finally {
      await c.end();
    }
  };

  describe('PostgresBus', () => {
    test('a message reaches the other process once, and the local subscribers exactly once', async () => {
      const a = await PostgresBus.connect({ url: dbUrl(), log: silent });
      const b = await PostgresBus.connect({ url: dbUrl(), log: silent });
      try {
        assert.equal(a.connected, true);
        assert.notEqual(a.backendPid, b.backendPid);
        const atA = recorder(a, 'k');
        const atB = recorder(b, 'k');
        const otherAtB = recorder(b, 'other');
        const markerAtA = recorder(a, 'marker');
        const big = 'é'.repeat(3000) + 'x'.repeat(MAX_PAYLOAD_BYTES - 6002 - 2);
        await a.publish('k', 'one');
        await a.publish('k', 'two\nlines');
        await a.publish('k', big);
        assert.deepEqual(atA, ['one', 'two\nlines', big], 'delivered locally at publish');
        await eventually('B has all three', () => atB.length >= 3);
        assert.deepEqual(atB, ['one', 'two\nlines', big], 'in order, intact');
        assert.deepEqual(otherAtB, []);
        // NOTIFYs reach a listener in commit order: once A sees B's marker, A's own loop-back copies
        // have arrived too (and were dropped).
        await b.publish('marker', 'm');
        await eventually('A has the marker', () => markerAtA.length === 1);
        await sleep(50);
        assert.deepEqual(atA, ['one', 'two\nlines', big], 'no second local delivery');
        assert.deepEqual(atB, ['one', 'two\nlines', big]);
        await assert.rejects(a.publish('k', 'x'.repeat(MAX_PAYLOAD_BYTES)), RangeError);
      } finally {
        await a.close();
        await b.close();
      }
      await assert.rejects(a.publish('k', 'closed'), /closed/);
    });

    test('a killed listener connection: resync, warning, reconnection with backoff, messages flow again', async () => {
      const { log, lines } = capturingLogger();
      const a = await PostgresBus.connect({ url: dbUrl(), log, minBackoffMs: 800 });
      const b = await PostgresBus.connect({ url: dbUrl(), log: silent });
      try {
        const resync = recorder(a, RESYNC_TOPIC);
        const atA = recorder(a, 'k');
        const atB = recorder(b, 'k');
        const pid = a.backendPid;
        assert.ok(pid !== undefined);
        await terminate(pid);
        await eventually('A noticed', () => resync.length >= 1);
        assert.deepEqual(resync, ['disconnected']);
        assert.equal(a.connected, false);
        assert.ok(lines.some((l) => l.level === 40 && /bus connection to PostgreSQL lost/.test(l.msg)), 'a warning is logged');
        // While disconnected: local subscribers still hear local publishes, the others cannot.
        await assert.rejects(a.publish('k', 'while down'), /disconnected/);
        assert.deepEqual(atA, ['while down']);
        await b.publish('k', 'lost');
        await eventually('A reconnected', () => resync.length >= 2);
        assert.deepEqual(resync, ['disconnected', 'reconnected'], 'caches are told to resync once the bus is back');
        assert.equal(a.connected, true);
        assert.notEqual(a.backendPid, pid);
        assert.ok(lines.some((l) => l.level === 30 && /bus reconnected/.test(l.msg)));
        assert.deepEqual(atA, ['while down'], 'what was published meanwhile is lost (hence the resync)');
        await b.publish('k', 'after');
        await eventually('A heard B', () => atA.includes('after'));
        await a.publish('k', 'from A again');
        await eventually('B heard A', () => atB.includes('from A again'));
        assert.deepEqual(atA, ['while down', 'after', 'from A again']);
        assert.deepEqual(atB, ['lost', 'after', 'from A again']);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('reconnection keeps trying while PostgreSQL refuses, then resyncs', async () => {
      const { log, lines } = capturingLogger();
      const a = await PostgresBus.connect({ url: dbUrl(), log, minBackoffMs: 20, maxBackoffMs: 100 });
      // Refuse new connections to the test database for a while.
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      const dbName = new URL(dbUrl()).pathname.slice(1);
      try {
        const resync = recorder(a, RESYNC_TOPIC);
        await admin.query(`alter database "${dbName}" with allow_connections false`);
        await terminate(a.backendPid ?? -1);
        await eventually('two reconnection attempts failed', () => lines.filter((l) => l.msg === 'bus reconnection failed').length >= 2);
        assert.deepEqual(resync, ['disconnected']);
        await admin.query(`alter database "${dbName}" with allow_connections true`);
        await eventually('A reconnected', () => resync.length >= 2);
        assert.deepEqual(resync, ['disconnected', 'reconnected']);
      } finally {
        await admin.query(`alter database "${dbName}" with allow_connections true`).catch(() => undefined);
        await admin.end();
        await a.close();
      }
    });

    test('BasicAuthenticator over two PostgresBuses: an invalidation in one process reaches the other', async () => {
      const meta = await openPostgres({ url: dbUrl(), poolSize: 2 });
      const a = await PostgresBus.connect({ url: dbUrl(), log: silent });
      const b = await PostgresBus.connect({ url: dbUrl(), log: silent });
      try {
        await authenticatorWiring(meta, a, b, async (check) => eventually('B forgot the key', check));
      } finally {
        await a.close();
        await b.close();
        await meta.close();
      }
    });

    test('close() during a reconnection stops it', async () => {
      const a = await PostgresBus.connect({ url: dbUrl(), log: silent, minBackoffMs: 50 });
      const resync = recorder(a, RESYNC_TOPIC);
      await terminate(a.backendPid ?? -1);
      await eventually('A noticed', () => resync.length >= 1);
      await a.close();
      await sleep(200);
      assert.equal(a.connected, false);
      assert.deepEqual(resync, ['disconnected']);
    });
  });
}
