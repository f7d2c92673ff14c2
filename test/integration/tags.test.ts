// Tag consistency across processes on PostgreSQL: two MetaStores (two connection pools, as two berth
// processes have) over one database push and delete the same tag concurrently. The tag must end at
// exactly one manifest, and the event outbox must record every move in order, each with the digest it
// replaced. Also TagStore.lock itself: it serialises one tag, not others, until the transaction ends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { isRegistryError } from '../../src/core/errors.ts';
import { openSqlite, type EventRecord, type MetaStore } from '../../src/meta/index.ts';
import { openPostgres } from '../../src/meta/postgres.ts';
import { Registry } from '../../src/registry/index.ts';
import { BlobStore, MemoryDriver, UploadStore } from '../../src/storage/index.ts';
import { POSTGRES_SKIP_REASON, POSTGRES_TEST_URL, useTempPostgresDatabase } from '../helpers/postgres.ts';

const ACCOUNT = '111122223333';
const TAG = 'latest';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
const layer = Buffer.from('one layer shared by every image');

function manifest(seed: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
      annotations: { seed },
    }),
  );
}

function registryOver(meta: MetaStore): Registry {
  const blobs = new BlobStore(new MemoryDriver());
  return new Registry({ meta, blobs, uploads: new UploadStore(new MemoryDriver(), blobs), now: Date.now, log: pino({ level: 'silent' }) });
}

/** Checks the outbox story of the tag against its final state; returns the number of moves. */
async function checkTagHistory(meta: MetaStore, repoName: string): Promise<{ pushes: number; deletes: number }> {
  const events: EventRecord[] = [];
  for (let after = 0; ; ) {
    const page = await meta.events.list(after, 500);
    if (page.length === 0) break;
    events.push(...page);
    after = (page[page.length - 1] as EventRecord).id;
  }
  const moves = events.filter((e) => e.repository === repoName && e.tag === TAG);
  let current: string | undefined;
  let pushes = 0;
  let deletes = 0;
  for (const [i, e] of moves.entries()) {
    if (e.type === 'image.push') {
      assert.equal(e.detail['previous-image-digest'], current, `event ${i} (id ${e.id}): the push replaced the digest of the event before it`);
      current = e.digest ?? undefined;
      pushes++;
    } else {
      assert.equal(e.type, 'image.delete');
      assert.equal(e.digest, current, `event ${i} (id ${e.id}): the delete removed the digest of the event before it`);
      current = undefined;
      deletes++;
    }
  }
  const repo = await meta.repositories.get(ACCOUNT, repoName);
  assert.ok(repo !== undefined);
  assert.equal(await meta.tags.get(repo.id, TAG), current, "the tag points at the last push's digest (none after a final delete)");
  return { pushes, deletes };
}

async function seed(meta: MetaStore, repoName: string): Promise<void> {
  await meta.accounts.ensure(ACCOUNT, 1);
  const { repository } = await meta.repositories.ensure(ACCOUNT, repoName, 1);
  for (const b of [config, layer]) {
    await meta.blobs.put(sha256(b), b.length, 1);
    await meta.blobs.link(repository.id, sha256(b), 1);
  }
}

/** `workers` concurrent loops per process, each pushing `rounds` new manifests to the tag (and deleting it now and then). */
async function race(processes: Registry[], repoName: string, workers: number, rounds: number, deleteEvery: number, label = ''): Promise<{ pushed: number; deleted: number }> {
  let pushed = 0;
  let deleted = 0;
  const loops: Array<Promise<void>> = [];
  for (const [p, registry] of processes.entries()) {
    for (let w = 0; w < workers; w++) {
      loops.push(
        (async () => {
          for (let i = 0; i < rounds; i++) {
            if (deleteEvery > 0 && (i + w) % deleteEvery === deleteEvery - 1) {
              const repo = await registry.repositories.get(ACCOUNT, repoName);
              try {
                await registry.manifests.delete(repo, TAG);
                deleted++;
              } catch (e) {
                // Someone else deleted it first.
                if (!(isRegistryError(e) && e.code === 'ManifestUnknown')) throw e;
              }
              continue;
            }
            await registry.manifests.put({ accountId: ACCOUNT, name: repoName }, TAG, manifest(`${repoName} ${label} p${p} w${w} i${i}`), OCI_MANIFEST);
            pushed++;
          }
        })(),
      );
    }
  }
  await Promise.all(loops);
  return { pushed, deleted };
}

test('SQLite: concurrent pushes and deletes of one tag keep it and the outbox consistent', async () => {
  const meta = await openSqlite({ path: ':memory:' });
  try {
    await seed(meta, 'race/sqlite');
    const { pushed, deleted } = await race([registryOver(meta), registryOver(meta)], 'race/sqlite', 3, 20, 6);
    assert.deepEqual(await checkTagHistory(meta, 'race/sqlite'), { pushes: pushed, deletes: deleted });
    // TagStore.lock is a no-op there (one writer).
    await meta.transaction(async (tx) => {
      await tx.tags.lock(1, TAG);
      await tx.tags.lock(1, TAG);
    });
  } finally {
    await meta.close();
  }
});

if (POSTGRES_TEST_URL === undefined) {
  test('PostgreSQL: tag consistency across processes', { skip: POSTGRES_SKIP_REASON }, () => undefined);
} else {
  const url = useTempPostgresDatabase();

  describe('PostgreSQL: tag consistency across processes', () => {
    test('TagStore.lock serialises one tag until the transaction ends, and only that tag', async () => {
      const a = await openPostgres({ url: url(), poolSize: 2 });
      const b = await openPostgres({ url: url(), poolSize: 2 });
      try {
        const order: string[] = [];
        let releaseA: () => void = () => undefined;
        const aHolds = new Promise<void>((resolve) => {
          void a.transaction(async (tx) => {
            await tx.tags.lock(7, 'v1');
            order.push('A locked 7:v1');
            resolve();
            await new Promise<void>((r) => (releaseA = r));
            order.push('A commits');
          });
        });
        await aHolds;
        // Another tag, another repository with the same tag: not blocked.
        await b.transaction(async (tx) => {
          await tx.tags.lock(7, 'v2');
          await tx.tags.lock(8, 'v1');
        });
        order.push('B locked 7:v2 and 8:v1');
        const bDone = b.transaction(async (tx) => {
          await tx.tags.lock(7, 'v1');
          order.push('B locked 7:v1');
        });
        await sleep(200);
        try {
          assert.deepEqual(order, ['A locked 7:v1', 'B locked 7:v2 and 8:v1'], 'B waits for A');
        } finally {
          releaseA();
          await bDone;
        }
        assert.deepEqual(order, ['A locked 7:v1', 'B locked 7:v2 and 8:v1', 'A commits', 'B locked 7:v1']);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('two processes pushing to the same tag concurrently: one final digest, the outbox in order with the right previous digests', async () => {
      const a = await openPostgres({ url: url(), poolSize: 6 });
      const b = await openPostgres({ url: url(), poolSize: 6 });
      try {
        // Several rounds, each a burst of concurrent pushes from both processes.
        let pushed = 0;
        for (let round = 0; round < 3; round++) {
          const repo = 'race/pushes';
          if (round === 0) await seed(a, repo);
          const r = await race([registryOver(a), registryOver(b)], repo, 4, 15, 0, `round ${round}`);
          pushed += r.pushed;
          const history = await checkTagHistory(b, repo);
          assert.deepEqual(history, { pushes: pushed, deletes: 0 }, 'one event per push');
        }
        assert.equal(pushed, 3 * 2 * 4 * 15);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('concurrent pushes and deletes by tag from two processes', async () => {
      const a = await openPostgres({ url: url(), poolSize: 6 });
      const b = await openPostgres({ url: url(), poolSize: 6 });
      try {
        await seed(a, 'race/deletes');
        const { pushed, deleted } = await race([registryOver(a), registryOver(b)], 'race/deletes', 4, 20, 5);
        assert.ok(deleted > 0, 'some deletes found the tag');
        assert.deepEqual(await checkTagHistory(a, 'race/deletes'), { pushes: pushed, deletes: deleted });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
