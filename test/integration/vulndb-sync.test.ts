// Configured vulnerability sources (scanning.sources): fetched over HTTP as osv.dev-style zip
// exports and imported through the same code as `berth vulndb import`; a source that fails is
// reported and leaves the data already loaded alone; a server with sources fetches them at start.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSqlite } from '../../src/meta/index.ts';
import { makeZip } from '../helpers/zip.ts';
import { syncSources } from '../../src/scan/vulndb.ts';
import { startTestApp } from '../helpers/app.ts';

const record = (id: string, name: string): string =>
  JSON.stringify({ id, modified: '2026-11-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }] }] });

describe('vulnerability sources fetched on a schedule', () => {
  let server: Server;
  let base: string;
  let requests = 0;
  before(async () => {
    const zip = makeZip([
      { name: 'BERTH-SYNC-1.json', data: record('BERTH-SYNC-1', 'left-pad') },
      { name: 'BERTH-SYNC-2.json', data: record('BERTH-SYNC-2', 'right-pad') },
      { name: 'broken.json', data: '{"id":' },
    ]);
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/npm/all.zip') res.writeHead(200, { 'content-type': 'application/zip' }).end(zip);
      else if (req.url === '/garbage.zip') res.writeHead(200).end('this is not a zip');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
  });

  test('a zip export is imported; a missing or broken source is reported and changes nothing', async () => {
    const meta = await openSqlite({ path: ':memory:' });
    try {
      const r = await syncSources(meta, [`${base}/npm/all.zip`, `${base}/missing.zip`, `${base}/garbage.zip`]);
      assert.equal(r[0]?.result?.records, 2);
      assert.equal(r[0]?.result?.errors.length, 1, 'the broken record is reported');
      assert.match(r[1]?.error ?? '', /404/);
      assert.match(r[2]?.error ?? '', /./);
      assert.equal(await meta.vulns.count(), 2);
      assert.equal((await meta.vulns.generation()).generation, 1);
      assert.deepEqual((await meta.vulns.sources()).map((s) => [s.name, s.records]), [[`${base}/npm/all.zip`, 2]]);
      // Fetching the same data again changes nothing.
      const again = await syncSources(meta, [`${base}/npm/all.zip`]);
      assert.equal(again[0]?.result?.changed, 0);
      assert.equal((await meta.vulns.generation()).generation, 1);
    } finally {
      await meta.close();
    }
  });

  test('a server with scanning.sources fetches them when it starts', async () => {
    const before = requests;
    const t = await startTestApp({ env: { BERTH_SCANNING_SOURCES: `${base}/npm/all.zip` } });
    try {
      for (let i = 0; (await t.app.meta.vulns.count()) < 2; i++) {
        assert.ok(i < 400, 'the sources were fetched');
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(requests > before);
    } finally {
      await t.close();
    }
  });
});
