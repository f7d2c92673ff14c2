// Process roles: api serves /v2/; worker and scheduler run background work; every role answers the
// health endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp } from '../helpers/app.ts';

test('a worker-only process serves health endpoints but not the registry API', async () => {
  const t = await startTestApp({ env: { BERTH_ROLES: 'worker,scheduler' } });
  try {
    assert.equal((await t.fetch('/healthz')).status, 200);
    assert.equal((await t.fetch('/readyz')).status, 200);
    assert.equal((await t.fetch('/v2/')).status, 404);
  } finally {
    await t.close();
  }
});

test('an api-only process serves /v2/ and runs no background jobs; a worker on the same data runs them', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-roles-'));
  try {
    const api = await startTestApp({ dataDir, env: { BERTH_ROLES: 'api', BERTH_UPLOADS_PURGE_AFTER: '1s', BERTH_UPLOADS_PURGE_INTERVAL: '1s' } });
    let location = '';
    try {
      const r = await api.fetch('/v2/roles/app/blobs/uploads/', { method: 'POST' });
      assert.equal(r.status, 202);
      location = r.headers.get('location') ?? '';
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal((await api.fetch(location)).status, 204, 'no process purged the stale upload');
    } finally {
      await api.close();
    }
    const worker = await startTestApp({ dataDir, env: { BERTH_ROLES: 'all', BERTH_UPLOADS_PURGE_AFTER: '1s', BERTH_UPLOADS_PURGE_INTERVAL: '1s' } });
    try {
      let status = 0;
      for (let i = 0; i < 50 && status !== 404; i++) {
        status = (await worker.fetch(location)).status;
        if (status !== 404) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(status, 404, 'the worker purged it');
    } finally {
      await worker.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
