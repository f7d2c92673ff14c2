// Crash safety of a real berth process: SIGKILL in the middle of a large streamed upload leaves no
// partial blob visible, every image pushed before still pulls byte-identical after a restart, and the
// interrupted upload resumes from the offset the server reports. SIGTERM lets the request in flight
// finish and the process exit 0.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fixture } from '../fixtures/build.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import {
  Cleanup,
  Gate,
  MiB,
  assertBlobStoreConsistent,
  assertOciLayoutMatches,
  basicAuth,
  countStored,
  describeHttp,
  headerOf,
  http,
  loadFixtures,
  locationPath,
  makeTempDir,
  missingTools,
  ociErrorCode,
  patternDigest,
  patternStream,
  skopeo,
  sleep,
  storedBlobFiles,
  v2,
  withDigest,
  withTimeout,
  type HttpResult,
} from './support.ts';

type Name = 'tiny' | 'debian';

const REPO = 'crash/big';
/** The interrupted upload: a few hundred MiB, streamed from a generator. */
const BIG = 320 * MiB;
/** The client stops sending here (and waits) until the server is killed... */
const BIG_PAUSE = 160 * MiB;
/** ...once the server has stored at least this much. */
const KILL_AFTER = 100 * MiB;

/** Bytes the server holds for an upload, from the `Range: 0-<last>` of GET on the upload URL. */
async function uploadStatus(server: RunningServer, location: string): Promise<{ res: HttpResult; size: number }> {
  const res = await v2(server).req('GET', location);
  assert.equal(res.status, 204, `upload status: ${describeHttp(res)}`);
  const range = headerOf(res, 'range');
  assert.ok(range !== undefined, `upload status without Range: ${describeHttp(res)}`);
  const m = /^0-(\d+)$/.exec(range);
  assert.ok(m !== null, `malformed Range ${range}`);
  const last = Number(m[1]);
  // `0-0` is both "nothing yet" and "one byte"; our uploads are never one byte long.
  return { res, size: last === 0 ? 0 : last + 1 };
}

/** Polls the upload's status until the server holds at least `bytes`; fails if `request` settles first. */
async function waitForStored(server: RunningServer, location: string, bytes: number, request: Promise<unknown>): Promise<number> {
  let settled = false;
  request.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { size } = await uploadStatus(server, location);
    if (size >= bytes) return size;
    assert.ok(!settled, `the upload request ended before the server stored ${bytes} bytes (it has ${size}):\n${server.output()}`);
    assert.ok(Date.now() < deadline, `the server stored only ${size} of ${bytes} bytes in 120 s:\n${server.output()}`);
    await sleep(100);
  }
}

/** Resolves when a new TCP connection to the server is refused (its listener is closed). */
async function waitUntilRefused(server: RunningServer): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await http(`${server.url}/healthz`, { method: 'GET' });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ECONNREFUSED') return;
    }
    assert.ok(Date.now() < deadline, `the server still accepts connections 15 s after SIGTERM:\n${server.output()}`);
    await sleep(50);
  }
}

/** GETs a blob, hashing the body as it streams in. */
async function pullBlobDigest(server: RunningServer, digest: string): Promise<{ res: HttpResult; digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const res = await http(`${server.url}/v2/${REPO}/blobs/${digest}`, {
    method: 'GET',
    headers: { authorization: basicAuth(server) },
    sink: (c) => {
      h.update(c);
      size += c.length;
    },
  });
  return { res, digest: `sha256:${h.digest('hex')}`, size };
}

describe('crash and restart', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let fx: Record<Name, Fixture>;
  let work: string;
  let dataDir: string;
  /** The server currently running on dataDir. */
  let server: RunningServer;

  before(async () => {
    work = await makeTempDir('crash');
    cleanup.dir(work);
    dataDir = join(work, 'data');
    await mkdir(join(work, 'home'));
    server = await start();
    // Only the SIGKILL test needs skopeo and the fixture images.
    skip = missingTools([['skopeo', 'skopeo']]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<Name>(['tiny', 'debian']);
    if ('skip' in loaded) skip = loaded.skip;
    else fx = loaded.fixtures;
  });

  after(async () => {
    await cleanup.run();
  });

  async function start(): Promise<RunningServer> {
    const s = await startServer({ dataDir });
    cleanup.server(s);
    return s;
  }

  function skipped(t: TestContext): boolean {
    if (skip === undefined) return false;
    t.skip(skip);
    return true;
  }

  test('SIGKILL mid-upload: nothing half-visible, earlier images intact, the upload resumes', async (t) => {
    if (skipped(t)) return;
    const bigDigest = await patternDigest(BIG);

    // Images pushed before the crash.
    let sk = skopeo(server, join(work, 'home'));
    for (const name of ['tiny', 'debian'] as const) {
      const file = join(work, `digest-${name}`);
      await sk.ok(['copy', '--preserve-digests', '--digestfile', file, '--dest-tls-verify=false', '--dest-creds', `${server.accessKeyId}:${server.secretAccessKey}`, fx[name].source, sk.ref(`crash/${name}:${fx[name].ref}`)]);
      assert.equal((await readFile(file, 'utf8')).trim(), fx[name].manifestDigest);
    }

    // Start the big upload and stream it until the server has stored KILL_AFTER bytes.
    const started = await v2(server).req('POST', `/v2/${REPO}/blobs/uploads/`);
    assert.equal(started.status, 202, describeHttp(started));
    const location = locationPath(started);
    const gate = new Gate();
    const patch = v2(server).req(
      'PATCH',
      location,
      { 'content-type': 'application/octet-stream', 'content-range': `0-${BIG - 1}` },
      patternStream(0, BIG, { pauseAt: BIG_PAUSE, gate }),
    );
    patch.catch(() => undefined);
    const storedBeforeKill = await waitForStored(server, location, KILL_AFTER, patch);
    await server.kill();
    gate.open();
    await assert.rejects(patch, 'the PATCH cannot have completed: the server was killed before the body ended');
    assert.ok(storedBeforeKill <= BIG_PAUSE);
    t.diagnostic(`SIGKILL after the server had stored ${storedBeforeKill} of ${BIG} bytes`);

    // Nothing of the big blob is visible in blob storage, which holds only complete blobs.
    assert.equal(countStored(await storedBlobFiles(dataDir), bigDigest), 0, 'a partial blob is in storage/blobs after SIGKILL');
    await assertBlobStoreConsistent(dataDir);

    // Restart on the same data.
    server = await start();
    sk = skopeo(server, join(work, 'home'));
    const head = await v2(server).req('HEAD', `/v2/${REPO}/blobs/${bigDigest}`);
    assert.equal(head.status, 404, `HEAD of the unfinished blob: ${describeHttp(head)}`);
    const get = await v2(server).req('GET', `/v2/${REPO}/blobs/${bigDigest}`);
    assert.equal(get.status, 404, `GET of the unfinished blob: ${describeHttp(get)}`);
    assert.equal(ociErrorCode(get), 'BLOB_UNKNOWN', describeHttp(get));
    assert.equal(countStored(await storedBlobFiles(dataDir), bigDigest), 0);

    // Every image pushed before the crash pulls byte-identical.
    for (const name of ['tiny', 'debian'] as const) {
      const layout = join(work, `pull-${name}`);
      await sk.pullOci(`crash/${name}:${fx[name].ref}`, layout, 'after-crash');
      await assertOciLayoutMatches(layout, 'after-crash', fx[name]);
    }

    // The upload survived: its status names the bytes stored, and it continues from there.
    const status = await uploadStatus(server, location);
    assert.ok(headerOf(status.res, 'docker-upload-uuid') !== undefined, describeHttp(status.res));
    const offset = status.size;
    t.diagnostic(`after the restart the upload holds ${offset} bytes; resuming there`);
    assert.ok(offset > 0 && offset >= storedBeforeKill && offset <= BIG_PAUSE, `resume offset ${offset} (the server reported ${storedBeforeKill} before the kill)`);

    const rest = await v2(server).req(
      'PATCH',
      location,
      { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${BIG - 1}`, 'content-length': String(BIG - offset) },
      patternStream(offset, BIG),
    );
    assert.equal(rest.status, 202, `${describeHttp(rest)}\n${server.output()}`);
    assert.equal(headerOf(rest, 'range'), `0-${BIG - 1}`);

    const done = await v2(server).req('PUT', withDigest(locationPath(rest), bigDigest), { 'content-length': '0' });
    assert.equal(done.status, 201, `${describeHttp(done)}\n${server.output()}`);
    assert.equal(headerOf(done, 'docker-content-digest'), bigDigest);

    const head2 = await v2(server).req('HEAD', `/v2/${REPO}/blobs/${bigDigest}`);
    assert.equal(head2.status, 200, describeHttp(head2));
    assert.equal(headerOf(head2, 'content-length'), String(BIG));
    const pulled = await pullBlobDigest(server, bigDigest);
    assert.equal(pulled.res.status, 200, describeHttp(pulled.res));
    assert.equal(pulled.size, BIG);
    assert.equal(pulled.digest, bigDigest);
    assert.equal(countStored(await storedBlobFiles(dataDir), bigDigest), 1);

    // The finished session is gone.
    const ended = await v2(server).req('GET', location);
    assert.equal(ended.status, 404, describeHttp(ended));
    assert.equal(ociErrorCode(ended), 'BLOB_UPLOAD_UNKNOWN', describeHttp(ended));
  });

  test('SIGTERM mid-upload: the request in flight finishes, the process exits 0, the data stays', async () => {
    // The SIGKILL test leaves a running server on dataDir, unless it failed half-way.
    if (server.child.exitCode !== null || server.child.signalCode !== null) server = await start();
    const size = 48 * MiB;
    const pause = 24 * MiB;
    const seed = 7;
    const digest = await patternDigest(size, seed);

    const started = await v2(server).req('POST', `/v2/${REPO}/blobs/uploads/`);
    assert.equal(started.status, 202, describeHttp(started));
    const location = locationPath(started);
    const gate = new Gate();
    const patch = v2(server).req(
      'PATCH',
      location,
      { 'content-type': 'application/octet-stream', 'content-range': `0-${size - 1}`, 'content-length': String(size) },
      patternStream(0, size, { seed, pauseAt: pause, gate }),
    );
    patch.catch(() => undefined);
    await waitForStored(server, location, 16 * MiB, patch);

    const stopping = server.child;
    const exited = server.stop();
    // The listener closes at once; the request in flight is still being served.
    await waitUntilRefused(server);
    assert.equal(stopping.exitCode, null, `berth exited before the request in flight finished:\n${server.output()}`);
    gate.open();
    const res = await withTimeout(patch, 60_000, 'the PATCH in flight during shutdown');
    assert.equal(res.status, 202, `${describeHttp(res)}\n${server.output()}`);
    assert.equal(headerOf(res, 'range'), `0-${size - 1}`);
    const code = await withTimeout(exited, 45_000, 'berth exit after SIGTERM');
    assert.equal(code, 0, `exit status after SIGTERM:\n${server.output()}`);

    // Everything the finished request stored is there after a restart.
    server = await start();
    const status = await uploadStatus(server, location);
    assert.equal(status.size, size);
    const done = await v2(server).req('PUT', withDigest(location, digest), { 'content-length': '0' });
    assert.equal(done.status, 201, `${describeHttp(done)}\n${server.output()}`);
    const h = createHash('sha256');
    const got = await http(`${server.url}/v2/${REPO}/blobs/${digest}`, { method: 'GET', headers: { authorization: basicAuth(server) }, sink: (c) => h.update(c) });
    assert.equal(got.status, 200, describeHttp(got));
    assert.equal(`sha256:${h.digest('hex')}`, digest);
    await assertBlobStoreConsistent(dataDir);
  });

  test('SIGTERM mid-upload on a keep-alive connection: the process exits once the request in flight is done', async () => {
    // Real clients (skopeo, podman, docker) keep connections alive. The shutdown timeout is set far
    // above what the request needs, so a process that lingers until it fires is told apart from one
    // that exits when its last request is done.
    const s = await startServer({ env: { BERTH_SHUTDOWN_TIMEOUT: '120s' }, logLevel: 'info' });
    cleanup.server(s);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.add(async () => agent.destroy());
    const size = 16 * MiB;
    const seed = 9;
    const api = v2(s, agent);
    const started = await api.req('POST', `/v2/${REPO}/blobs/uploads/`);
    assert.equal(started.status, 202, describeHttp(started));
    const location = locationPath(started);
    const gate = new Gate();
    const patch = api.req(
      'PATCH',
      location,
      { 'content-type': 'application/octet-stream', 'content-range': `0-${size - 1}`, 'content-length': String(size) },
      patternStream(0, size, { seed, pauseAt: size / 2, gate }),
    );
    patch.catch(() => undefined);
    await waitForStored(s, location, size / 4, patch);

    const exited = s.stop();
    await waitUntilRefused(s);
    gate.open();
    const res = await withTimeout(patch, 60_000, 'the PATCH in flight during shutdown');
    assert.equal(res.status, 202, `${describeHttp(res)}\n${s.output()}`);
    const answeredAt = Date.now();
    let code: number | null;
    try {
      code = await withTimeout(exited, 15_000, 'berth exit after its last request was answered');
    } catch (e) {
      assert.fail(
        `${(e as Error).message}: the response to the request in flight had Connection: ${headerOf(res, 'connection') ?? '(none)'} and the process ` +
          `is still running with the client's keep-alive connection open (shutdown.timeout is 120 s).\nserver output:\n${s.output()}`,
      );
    }
    assert.equal(code, 0, `exit status after SIGTERM:\n${s.output()}`);
    assert.ok(Date.now() - answeredAt < 15_000);
  });
});
