// The S3 driver: the shared StorageDriver suite and S3-specific tests against a real S3 server (Ceph
// RGW: `../shared/tools/ceph-rgw.sh start`, then `eval "$(../shared/tools/ceph-rgw.sh env)"`), and
// tests of what is sent on the wire against a fake S3 endpoint (a tiny node:http server).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { isNotFound } from '../driver.ts';
import { collectKeys, driverSuite, pattern, readAll, writeChunk } from '../driver.suite.ts';
import { BackoffRetryStrategy, MIN_PART, partSizeFor, planConcat, S3Driver, type PlannedPart, type S3DriverOptions } from './s3.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PART = 5 * MiB;

const endpoint = process.env.S3_ENDPOINT;
const region = process.env.S3_REGION ?? 'us-east-1';
const bucket = process.env.S3_BUCKET ?? 'registry';
const credentials = { accessKeyId: process.env.S3_ACCESS_KEY ?? '', secretAccessKey: process.env.S3_SECRET_KEY ?? '' };
/** Every key this run writes is under this prefix, deleted at the end. */
const runPrefix = `test-${randomBytes(6).toString('hex')}/`;

function options(extra: Partial<S3DriverOptions> = {}): S3DriverOptions {
  return {
    bucket,
    region,
    prefix: runPrefix,
    forcePathStyle: process.env.S3_FORCE_PATH_STYLE !== 'false',
    partSize: PART,
    maxAttempts: 3,
    ...(endpoint !== undefined ? { endpoint } : {}),
    credentials,
    ...extra,
  };
}

/** A driver over a fresh prefix under the run's prefix. */
function freshDriver(extra: Partial<S3DriverOptions> = {}): { driver: S3Driver; prefix: string } {
  const prefix = `${runPrefix}${randomBytes(4).toString('hex')}/`;
  return { driver: new S3Driver(options({ prefix, ...extra })), prefix };
}

/** Keys of incomplete multipart uploads under a full prefix. */
async function uploadsUnder(client: S3Client, prefix: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (out.Uploads ?? []).map((u) => u.Key ?? '?');
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port nothing listens on (listened on and closed again). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The garbage collector, to measure live memory rather than garbage. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('S3 driver: pure parts', () => {
  test('planConcat: every part but the last is at least 5 MiB, data parts stay small, bytes stay in order', () => {
    const cases: number[][] = [
      [1, 2, 3],
      [6 * MiB + 3, 6, 5 * MiB, 7, 6 * MiB + 3],
      [2 * MiB, 2 * MiB, 12 * MiB, MiB, 7 * MiB, 3],
      [3 * MiB, 5 * MiB, 3 * MiB, 9 * MiB],
      [0, 5 * MiB, 0, 0, MiB - 1, 4 * MiB + 1, 0],
      [12 * GiB + 5, 100, 5 * GiB, 5 * GiB + 1],
      Array.from({ length: 40 }, (_, i) => (i * 777_777) % (3 * MiB)),
    ];
    for (const sizes of cases) {
      const plan = planConcat(sizes);
      const where = `sizes ${sizes.join(',')}`;
      // The pieces, in order, are exactly every byte of every source.
      const pieces = plan.flatMap((p: PlannedPart) => ('copy' in p ? [p.copy] : p.data));
      let src = 0;
      let pos = 0;
      for (const piece of pieces) {
        while ((sizes[src] ?? 0) === pos && src < sizes.length) {
          src++;
          pos = 0;
        }
        assert.equal(piece.index, src, `${where}: pieces in order`);
        assert.equal(piece.start, pos, `${where}: no gap`);
        assert.ok(piece.end >= piece.start);
        pos = piece.end + 1;
      }
      assert.equal(pieces.reduce((n, p) => n + p.end - p.start + 1, 0), sizes.reduce((a, b) => a + b, 0), where);
      plan.forEach((p, i) => {
        const size = 'copy' in p ? p.copy.end - p.copy.start + 1 : p.size;
        if (i < plan.length - 1) assert.ok(size >= MIN_PART, `${where}: part ${i + 1} of ${size} bytes is at least 5 MiB`);
        assert.ok(size <= 5 * GiB, `${where}: part ${i + 1} is at most 5 GiB`);
        if ('data' in p) assert.ok(p.size < 2 * MIN_PART, `${where}: data part ${i + 1} of ${p.size} bytes is below 10 MiB`);
      });
    }
    // Large sources are copied server side, small ones read, and > 5 GiB split evenly.
    const plan = planConcat([12 * GiB, 100]);
    assert.deepEqual(
      plan.map((p) => ('copy' in p ? `copy ${p.copy.end - p.copy.start + 1}` : `data ${p.size}`)),
      ['copy 4294967296', 'copy 4294967296', 'copy 4294967296', 'data 100'],
    );
    assert.deepEqual(planConcat([]), []);
    assert.deepEqual(planConcat([0, 0]), []);
  });

  test('a writer part size grows every 1000 parts, so 10,000 parts hold far more than 10,000 x partSize', () => {
    assert.equal(partSizeFor(PART, 1), PART);
    assert.equal(partSizeFor(PART, 1000), PART);
    assert.equal(partSizeFor(PART, 1001), 2 * PART);
    assert.equal(partSizeFor(PART, 10_000), 512 * PART);
    assert.equal(partSizeFor(64 * MiB, 10_000), 5 * GiB);
    let total = 0;
    for (let n = 1; n <= 10_000; n++) total += partSizeFor(PART, n);
    // S3's largest object is 5 TiB; 10,000 parts of 5 MiB alone would stop at 48.8 GiB.
    assert.ok(total > 4 * 1024 * GiB, `10,000 parts of 5 MiB-based sizes hold ${total} bytes`);
  });

  test('retry strategy: backoff from 250 ms doubling, only transient and throttling errors, at most maxAttempts', async () => {
    const s = new BackoffRetryStrategy(5);
    let token = await s.acquireInitialRetryToken();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      token = await s.refreshRetryTokenForRetry(token, { errorType: 'TRANSIENT' });
      delays.push(token.getRetryDelay());
    }
    delays.forEach((d, i) => assert.ok(d >= 125 * 2 ** i && d <= 250 * 2 ** i, `retry ${i} waits ${d} ms`));
    await assert.rejects(s.refreshRetryTokenForRetry(token, { errorType: 'TRANSIENT' }), 'the fifth attempt is the last');
    const first = await s.acquireInitialRetryToken();
    await assert.rejects(s.refreshRetryTokenForRetry(first, { errorType: 'CLIENT_ERROR' }));
    await assert.rejects(s.refreshRetryTokenForRetry(first, { errorType: 'SERVER_ERROR' }));
    const throttled = await s.refreshRetryTokenForRetry(first, { errorType: 'THROTTLING' });
    assert.ok(throttled.getRetryDelay() >= 500);
  });
});

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  bodyLength: number;
}

/** A fake S3 endpoint that answers what the driver sends when creating objects, and records every request. */
interface FakeS3 {
  endpoint: string;
  requests: Recorded[];
  /** Object sizes by path (`/bucket/key`). */
  sizes: Map<string, number>;
  /** ETags HEAD gives, by path (a fixed one otherwise). */
  etags: Map<string, string>;
  /** Answer CompleteMultipartUpload with NoSuchUpload, as a retry does after a first attempt completed. */
  completeLost: boolean;
  close(): Promise<void>;
}

async function fakeS3(): Promise<FakeS3> {
  const requests: Recorded[] = [];
  const sizes = new Map<string, number>();
  const etags = new Map<string, string>();
  const etag = '"0123456789abcdef0123456789abcdef"';
  const server = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const q = url.searchParams;
      const path = decodeURIComponent(url.pathname);
      requests.push({ method: req.method ?? '', path, query: q, headers: req.headers, bodyLength: n });
      const xml = (body: string): void => {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      };
      const copySource = req.headers['x-amz-copy-source'];
      const source = typeof copySource === 'string' ? decodeURIComponent(`/${copySource.replace(/^\//, '')}`) : undefined;
      const isBucket = path.split('/').filter((s) => s !== '').length === 1;
      if (req.method === 'HEAD') {
        const size = isBucket ? 0 : sizes.get(path);
        if (size === undefined) {
          res.writeHead(404);
          res.end();
          return;
        }
        res.writeHead(200, { 'content-length': size, etag: etags.get(path) ?? etag, 'last-modified': new Date().toUTCString() });
        res.end();
      } else if (req.method === 'POST' && q.has('uploads')) {
        xml(`<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>upload-1</UploadId></InitiateMultipartUploadResult>`);
      } else if (req.method === 'POST' && q.has('uploadId') && fake.completeLost) {
        res.writeHead(404, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>`);
      } else if (req.method === 'POST' && q.has('uploadId')) {
        sizes.set(path, 1);
        // As Ceph RGW does: an empty ETag.
        xml(`<CompleteMultipartUploadResult><Location>x</Location><Bucket>b</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>`);
      } else if (req.method === 'PUT' && q.has('partNumber')) {
        if (source !== undefined) xml(`<CopyPartResult><ETag>${etag}</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyPartResult>`);
        else {
          res.writeHead(200, { etag });
          res.end();
        }
      } else if (req.method === 'PUT') {
        sizes.set(path, source !== undefined ? (sizes.get(source) ?? 0) : n);
        if (source !== undefined) xml(`<CopyObjectResult><ETag>${etag}</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyObjectResult>`);
        else {
          res.writeHead(200, { etag });
          res.end();
        }
      } else if (req.method === 'DELETE') {
        sizes.delete(path);
        res.writeHead(204);
        res.end();
      } else {
        res.writeHead(400);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeS3 = {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    sizes,
    etags,
    completeLost: false,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return fake;
}

describe('S3 driver: requests on the wire (fake S3 endpoint)', () => {
  test('server-side encryption and storage class go with every object-creating request; no aws-chunked bodies; check() never lists', async () => {
    const fake = await fakeS3();
    const d = new S3Driver({
      bucket: 'b',
      region: 'us-east-1',
      prefix: 'pre/',
      forcePathStyle: true,
      partSize: PART,
      maxAttempts: 1,
      endpoint: fake.endpoint,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      serverSideEncryption: 'aws:kms',
      sseKmsKeyId: 'key-1',
      storageClass: 'STANDARD_IA',
    });
    try {
      await d.put('a', Buffer.from('small'));
      const small = await d.writer('b');
      await writeChunk(small, Buffer.from('tiny'));
      await small.commit();
      const multi = await d.writer('c');
      await writeChunk(multi, pattern(PART + 100));
      await multi.commit();
      await d.move('a', 'a2');
      fake.sizes.set('/b/pre/big1', 6 * MiB);
      fake.sizes.set('/b/pre/big2', 7 * MiB);
      await d.concat(['big1', 'big2'], 'joined');
      await d.concat(['big1'], 'copied');
      await d.check();

      const creating = fake.requests.filter((r) => (r.method === 'PUT' && !r.query.has('partNumber')) || (r.method === 'POST' && r.query.has('uploads')));
      // put, small writer, multipart writer, move, concat, one-source concat, check's probe.
      assert.equal(creating.length, 7, creating.map((r) => `${r.method} ${r.path}`).join(', '));
      for (const r of creating) {
        const what = `${r.method} ${r.path}?${r.query.toString()}`;
        assert.equal(r.headers['x-amz-server-side-encryption'], 'aws:kms', what);
        assert.equal(r.headers['x-amz-server-side-encryption-aws-kms-key-id'], 'key-1', what);
        assert.equal(r.headers['x-amz-storage-class'], 'STANDARD_IA', what);
      }
      for (const r of fake.requests) {
        const what = `${r.method} ${r.path}`;
        assert.notEqual(r.headers['content-encoding'], 'aws-chunked', what);
        assert.equal(r.headers['x-amz-decoded-content-length'], undefined, what);
        assert.ok(!String(r.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING'), what);
        assert.equal(r.query.has('list-type'), false, `${what}: nothing lists the bucket`);
        if (r.bodyLength > 0) assert.equal(Number(r.headers['content-length']), r.bodyLength, `${what}: a sized body`);
      }
      // The concatenation of two large sources is two server-side copies.
      const copies = fake.requests.filter((r) => r.path === '/b/pre/joined' && r.query.has('partNumber'));
      assert.deepEqual(
        copies.map((r) => [r.headers['x-amz-copy-source'], r.headers['x-amz-copy-source-range']]).sort(),
        [
          ['b/pre/big1', `bytes=0-${6 * MiB - 1}`],
          ['b/pre/big2', `bytes=0-${7 * MiB - 1}`],
        ],
      );
      const checks = fake.requests.slice(-3).map((r) => `${r.method} ${r.path.replace(/-[0-9a-f]{12}$/, '-*')}`);
      assert.deepEqual(checks, ['HEAD /b/', 'PUT /b/pre/.berth-check-*', 'DELETE /b/pre/.berth-check-*']);
    } finally {
      d.destroy();
      await fake.close();
    }
  });

  test('a CompleteMultipartUpload whose answer was lost: the object is ours when its ETag is that of our parts', async () => {
    const fake = await fakeS3();
    const d = new S3Driver({ bucket: 'b', region: 'us-east-1', prefix: '', forcePathStyle: true, partSize: PART, maxAttempts: 1, endpoint: fake.endpoint, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } });
    try {
      fake.completeLost = true;
      // Every part of the fake has the ETag 0123...ef: the object's is md5(its bytes x parts)-parts.
      const partMd5 = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
      fake.sizes.set('/b/ours', 2 * PART);
      fake.etags.set('/b/ours', `"${createHash('md5').update(Buffer.concat([partMd5, partMd5])).digest('hex')}-2"`);
      const ours = await d.writer('ours');
      await writeChunk(ours, pattern(PART + 1));
      await ours.commit();
      // Another writer's object at the key: the failure stands.
      fake.sizes.set('/b/theirs', 2 * PART);
      fake.etags.set('/b/theirs', '"ffffffffffffffffffffffffffffffff-2"');
      const theirs = await d.writer('theirs');
      await writeChunk(theirs, pattern(PART + 1));
      await assert.rejects(theirs.commit(), (e: Error) => e.name === 'NoSuchUpload');
      await theirs.cancel();
    } finally {
      d.destroy();
      await fake.close();
    }
  });

  test('move of an object over 5 GiB is a multipart copy in parts of partSize, from one version of the source', async () => {
    const fake = await fakeS3();
    const d = new S3Driver({ bucket: 'b', region: 'us-east-1', prefix: '', forcePathStyle: true, partSize: GiB, maxAttempts: 1, endpoint: fake.endpoint, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } });
    try {
      fake.sizes.set('/b/huge', 6 * GiB + 1);
      await d.move('huge', 'moved');
      const seq = fake.requests.map((r) => `${r.method} ${r.path}${r.query.has('uploads') ? ' create' : r.query.has('partNumber') ? ' part' : r.query.has('uploadId') ? ' complete' : ''}`);
      assert.deepEqual(seq, ['HEAD /b/huge', 'POST /b/moved create', ...Array<string>(7).fill('PUT /b/moved part'), 'POST /b/moved complete', 'DELETE /b/huge']);
      const ranges = fake.requests
        .filter((r) => r.query.has('partNumber'))
        .sort((a, b) => Number(a.query.get('partNumber')) - Number(b.query.get('partNumber')))
        .map((r) => {
          assert.equal(r.headers['x-amz-copy-source-if-match'], '"0123456789abcdef0123456789abcdef"');
          const m = /^bytes=(\d+)-(\d+)$/.exec(String(r.headers['x-amz-copy-source-range']));
          assert.ok(m !== null);
          return [Number(m[1]), Number(m[2])] as const;
        });
      let next = 0;
      for (const [start, end] of ranges) {
        assert.equal(start, next);
        next = end + 1;
      }
      assert.equal(next, 6 * GiB + 1);
    } finally {
      d.destroy();
      await fake.close();
    }
  });
});

if (endpoint === undefined) {
  test('S3 driver against a real S3 server', { skip: 'S3_ENDPOINT is unset: start Ceph RGW with `../shared/tools/ceph-rgw.sh start`, then `eval "$(../shared/tools/ceph-rgw.sh env)"` and run again' }, () => undefined);
} else {
  /** For cleanup: a driver over the whole bucket, and a client to look at multipart uploads. */
  const root = new S3Driver(options({ prefix: '' }));
  const client = new S3Client({ region, endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  after(async () => {
    await root.delete(runPrefix);
    root.destroy();
    client.destroy();
  });

  driverSuite('s3', async () => {
    const { driver, prefix } = freshDriver();
    return {
      driver,
      cleanup: async () => {
        driver.destroy();
        // Nothing a test did may leave an incomplete multipart upload behind.
        assert.deepEqual(await uploadsUnder(client, prefix), [], 'no incomplete multipart uploads are left');
        await root.delete(prefix);
      },
    };
  });

  describe('S3 driver specifics (real S3 server)', () => {
    test('a multipart write of 3.5 parts reads back byte-identical, and is a multipart upload until commit', async () => {
      const { driver: d, prefix } = freshDriver();
      try {
        const data = randomBytes(3.5 * PART);
        const w = await d.writer('mp/obj');
        // Odd chunk sizes, so parts fill across chunk boundaries.
        for (let off = 0; off < data.length; off += 777_777) await writeChunk(w, data.subarray(off, off + 777_777));
        assert.equal(w.size, data.length);
        assert.equal(await d.stat('mp/obj'), null, 'invisible before commit');
        assert.deepEqual(await uploadsUnder(client, prefix), [`${prefix}mp/obj`], 'the bytes are in a multipart upload');
        await w.commit();
        assert.deepEqual(await uploadsUnder(client, prefix), []);
        assert.equal((await d.stat('mp/obj'))?.size, data.length);
        assert.ok((await d.get('mp/obj')).equals(data), 'the same bytes');
        // A range across the part boundaries.
        assert.ok((await readAll(d, 'mp/obj', { start: PART - 10, end: 3 * PART + 10 })).equals(data.subarray(PART - 10, 3 * PART + 11)));
        // Exactly one part's worth is one part; one byte less is a single PutObject.
        for (const size of [PART, PART - 1, 2 * PART]) {
          const w2 = await d.writer(`mp/exact-${size}`);
          await writeChunk(w2, data.subarray(0, size));
          await w2.commit();
          assert.ok((await d.get(`mp/exact-${size}`)).equals(data.subarray(0, size)), `${size} bytes`);
        }
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('purgeIncomplete aborts the multipart uploads of writers that died, and only those started before the cutoff', async () => {
      const { driver: d, prefix } = freshDriver();
      try {
        // A writer whose process "died": parts uploaded, never committed nor cancelled.
        const dead = await d.writer('dead/obj');
        await writeChunk(dead, randomBytes(2 * PART));
        await waitFor('the multipart upload to exist', async () => (await uploadsUnder(client, prefix)).length === 1);
        const cutoff = Date.now() + 60_000;
        assert.equal(await d.purgeIncomplete(Date.now() - 3_600_000), 0, 'a younger upload is kept');
        assert.equal(await d.purgeIncomplete(cutoff), 1);
        assert.deepEqual(await uploadsUnder(client, prefix), []);
        assert.equal(await d.stat('dead/obj'), null);
        dead.destroy();
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('writing 100 MiB with 5 MiB parts keeps memory bounded (arrayBuffers under 8 x partSize)', async (t) => {
      const { driver: d, prefix } = freshDriver();
      const gc = collector();
      try {
        const total = 100 * MiB;
        const chunk = pattern(MiB, 3);
        const hash = createHash('sha256');
        // Garbage of earlier tests goes first (twice, with a turn of the loop between: some is only
        // unreachable once the previous test's last callbacks have run).
        gc();
        await new Promise((r) => setTimeout(r, 10));
        gc();
        const baseline = process.memoryUsage().arrayBuffers;
        let peak = baseline;
        const sample = (): void => {
          peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        };
        const timer = setInterval(sample, 2);
        const started = Date.now();
        const w = await d.writer('mem/big');
        try {
          for (let i = 0; i < total / MiB; i++) {
            // One source buffer, changed between writes (the writer is done with it at the callback).
            chunk.writeUInt32BE(i, 0);
            hash.update(chunk);
            await writeChunk(w, chunk);
            sample();
          }
          await w.commit();
          sample();
        } finally {
          clearInterval(timer);
        }
        const seconds = (Date.now() - started) / 1000;
        t.diagnostic(`arrayBuffers: baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB (${((peak - baseline) / MiB).toFixed(1)} MiB over baseline) while writing 100 MiB in ${seconds.toFixed(2)} s`);
        assert.ok(peak < 8 * PART, `peak arrayBuffers ${peak} < ${8 * PART}`);
        const read = createHash('sha256');
        let n = 0;
        for await (const c of await d.reader('mem/big')) {
          read.update(c as Buffer);
          n += (c as Buffer).length;
        }
        assert.equal(n, total);
        assert.equal(read.digest('hex'), hash.digest('hex'));
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('cancel aborts the multipart upload, also with parts in flight, and a destroyed writer aborts too', async () => {
      const { driver: d, prefix } = freshDriver();
      try {
        const w = await d.writer('cancel/k');
        await writeChunk(w, pattern(2 * PART + 1000, 1));
        await waitFor('the upload to start', async () => (await uploadsUnder(client, prefix)).length === 1);
        await w.cancel();
        assert.deepEqual(await uploadsUnder(client, prefix), [], 'cancel aborted the upload');
        assert.equal(await d.stat('cancel/k'), null);
        await w.cancel();

        // Parts still uploading when cancel comes.
        const w2 = await d.writer('cancel/inflight');
        w2.on('error', () => undefined);
        const big = pattern(3 * PART, 2);
        w2.write(big);
        await new Promise((r) => setTimeout(r, 5));
        await w2.cancel();
        assert.deepEqual(await uploadsUnder(client, prefix), [], 'cancel with parts in flight aborted the upload');
        assert.equal(await d.stat('cancel/inflight'), null);

        // A pipeline whose source fails destroys the writer: its upload goes without a cancel().
        const w3 = await d.writer('cancel/destroyed');
        async function* failing(): AsyncGenerator<Buffer> {
          yield pattern(2 * PART, 4);
          await new Promise((r) => setTimeout(r, 200));
          throw new Error('client went away');
        }
        await assert.rejects(pipeline(Readable.from(failing()), w3), /client went away/);
        await waitFor('the destroyed writer to abort its upload', async () => (await uploadsUnder(client, prefix)).length === 0);
        await assert.rejects(w3.commit());
        await w3.cancel();
        assert.equal(await d.stat('cancel/destroyed'), null);

        // delete of a prefix takes incomplete uploads under it along.
        const w4 = await d.writer('gone/k');
        await writeChunk(w4, pattern(PART + 1, 5));
        await waitFor('the upload to start', async () => (await uploadsUnder(client, prefix)).length === 1);
        await d.delete('gone/');
        assert.deepEqual(await uploadsUnder(client, prefix), []);
        await assert.rejects(w4.commit());
        await w4.cancel();
        assert.equal(await d.stat('gone/k'), null);
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('concat of small and large sources: server-side copies with small runs read and combined', async () => {
      const { driver: d, prefix } = freshDriver();
      try {
        const sizes = [2 * MiB, 2 * MiB, 12 * MiB, MiB, 7 * MiB, 3, 0, 6 * MiB, 5 * MiB];
        const datas = sizes.map((n) => randomBytes(n));
        for (const [i, b] of datas.entries()) await d.put(`c/src-${i}`, b);
        const keys = datas.map((_, i) => `c/src-${i}`);
        await d.concat(keys, 'c/out');
        assert.ok((await d.get('c/out')).equals(Buffer.concat(datas)));
        // Reversed, and with repeats.
        const order = [8, 3, 3, 2, 0, 8];
        await d.concat(order.map((i) => keys[i] as string), 'c/out');
        assert.ok((await d.get('c/out')).equals(Buffer.concat(order.map((i) => datas[i] as Buffer))));
        // All small, over one part in total: one PutObject of the combined bytes.
        await d.concat([keys[0] as string, keys[1] as string, keys[3] as string, keys[5] as string], 'c/small');
        assert.ok((await d.get('c/small')).equals(Buffer.concat([datas[0], datas[1], datas[3], datas[5]] as Buffer[])));
        // Only empty sources: the empty object.
        await d.concat([keys[6] as string, keys[6] as string], 'c/empty');
        assert.equal((await d.stat('c/empty'))?.size, 0);
        // The destination as one of the sources.
        await d.concat(['c/small', keys[2] as string], 'c/small');
        assert.ok((await d.get('c/small')).equals(Buffer.concat([datas[0], datas[1], datas[3], datas[5], datas[2]] as Buffer[])));
        // An absent source anywhere: nothing is created, no upload is left.
        await assert.rejects(d.concat([keys[2] as string, 'c/absent'], 'c/none'), isNotFound);
        assert.equal(await d.stat('c/none'), null);
        assert.deepEqual(await uploadsUnder(client, prefix), []);
        // move of a multipart object.
        await d.move('c/out', 'c/moved');
        assert.equal(await d.stat('c/out'), null);
        assert.ok((await d.get('c/moved')).equals(Buffer.concat(order.map((i) => datas[i] as Buffer))));
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('a presigned URL serves the object to plain fetch, and only that object', async () => {
      const { driver: d, prefix } = freshDriver();
      try {
        const data = randomBytes(100_000);
        await d.put('p/obj', data);
        await d.put('p/other', Buffer.from('other'));
        const url = await d.presignGet('p/obj', 60);
        assert.ok(url !== null);
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
        const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
        assert.equal(ranged.status, 206);
        assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(10, 20)));
        const u = new URL(url);
        u.pathname = u.pathname.replace(/\/p\/obj$/, '/p/other');
        assert.notEqual(u.toString(), url);
        const other = await fetch(u);
        assert.equal(other.status, 403, 'the signature is for one key');
        await other.arrayBuffer();
        const short = await d.presignGet('p/obj', 1);
        await new Promise((r) => setTimeout(r, 2100));
        const expired = await fetch(short ?? '');
        assert.equal(expired.status, 403, 'an expired URL is refused');
        await expired.arrayBuffer();
        await assert.rejects(d.presignGet('../p/obj', 60));
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('a missing bucket: writes fail with an Error, and cancel still works', async () => {
      const d = new S3Driver(options({ bucket: `berth-missing-${randomBytes(4).toString('hex')}` }));
      try {
        await assert.rejects(d.check(), Error);
        await assert.rejects(d.put('x', Buffer.from('x')), Error);
        const w = await d.writer('x');
        w.on('error', () => undefined);
        w.write(pattern(PART + 10));
        await assert.rejects(w.commit(), Error);
        await w.cancel();
      } finally {
        d.destroy();
      }
    });

    test('a store that refuses connections fails with an Error after maxAttempts, within seconds', async () => {
      const port = await closedPort();
      const d = new S3Driver(options({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 3 }));
      try {
        const started = Date.now();
        let caught: unknown;
        try {
          await d.stat('x');
        } catch (e) {
          caught = e;
        }
        const ms = Date.now() - started;
        assert.ok(caught instanceof Error, 'an Error');
        assert.match(`${caught.message} ${String((caught as { code?: unknown }).code)}`, /ECONNREFUSED/);
        assert.equal((caught as { $metadata?: { attempts?: number } }).$metadata?.attempts, 3, 'tried 3 times');
        assert.ok(ms < 10_000, `failed after ${ms} ms`);
        await assert.rejects(d.put('x', Buffer.from('x')), Error);
        const w = await d.writer('y');
        await writeChunk(w, Buffer.from('y'));
        await assert.rejects(w.commit(), Error);
        await w.cancel();
      } finally {
        d.destroy();
      }
    });

    test('a store that comes back during the retries: the request succeeds', async (t) => {
      const port = await closedPort();
      const target = new URL(endpoint);
      const sockets = new Set<Socket>();
      let proxy: Server | null = null;
      const { driver: d, prefix } = freshDriver({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 5 });
      // Nothing listens for the first second (connections are refused), then a proxy to the store does.
      const opening = setTimeout(() => {
        proxy = createTcpServer((client) => {
          const upstream = connect(Number(target.port), target.hostname);
          sockets.add(client).add(upstream);
          client.pipe(upstream).pipe(client);
          const drop = (): void => {
            client.destroy();
            upstream.destroy();
          };
          client.on('error', drop).on('close', drop);
          upstream.on('error', drop).on('close', drop);
        });
        proxy.listen(port, '127.0.0.1');
      }, 1000);
      try {
        const started = Date.now();
        await d.put('back/k', Buffer.from('still here'));
        const ms = Date.now() - started;
        t.diagnostic(`the put succeeded after ${ms} ms`);
        assert.ok(ms >= 900, `waited for the store (${ms} ms)`);
        assert.equal((await d.get('back/k')).toString(), 'still here');
      } finally {
        clearTimeout(opening);
        d.destroy();
        for (const s of sockets) s.destroy();
        const p = proxy as Server | null;
        if (p !== null) await new Promise<void>((resolve) => p.close(() => resolve()));
        await root.delete(prefix);
      }
    });

    test('copyTo into an HTTP response, into a slow destination, and into one that closes midway', async () => {
      const { driver: d, prefix } = freshDriver();
      const server = createServer((req, res) => {
        const range = req.headers.range === undefined ? undefined : (/bytes=(\d+)-(\d+)/.exec(req.headers.range) ?? undefined);
        d.copyTo('cp/k', res, range === undefined ? undefined : { start: Number(range[1]), end: Number(range[2]) }, () => res.writeHead(range === undefined ? 200 : 206)).then(
          () => res.end(),
          () => res.destroy(),
        );
      });
      try {
        const data = randomBytes(8 * MiB + 13);
        await d.put('cp/k', data);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        const whole = await fetch(url);
        assert.equal(whole.status, 200);
        assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
        const part = await fetch(url, { headers: { range: `bytes=${MiB}-${3 * MiB}` } });
        assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(MiB, 3 * MiB + 1)));

        // A destination that takes one small buffer at a time: backpressure, every byte arrives.
        const got: Buffer[] = [];
        const slow = new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer, _enc, cb) {
            got.push(Buffer.from(chunk));
            setImmediate(cb);
          },
        });
        await d.copyTo('cp/k', slow, { start: 0, end: 2 * MiB - 1 });
        assert.ok(Buffer.concat(got).equals(data.subarray(0, 2 * MiB)));

        // A destination that goes away: copyTo rejects rather than hangs.
        let seen = 0;
        const closing = new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer, _enc, cb) {
            seen += chunk.length;
            if (seen > 256 * 1024) this.destroy();
            else setImmediate(cb);
          },
        });
        closing.on('error', () => undefined);
        await assert.rejects(d.copyTo('cp/k', closing), /closed|destroyed/);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('list and delete of a prefix go past one page (1000 keys) of ListObjectsV2 and DeleteObjects', async () => {
      const { driver: d, prefix } = freshDriver();
      try {
        const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
        let next = 0;
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            while (next < keys.length) {
              const k = keys[next++] as string;
              await d.put(k, Buffer.from(k));
            }
          }),
        );
        await d.put('other/k', Buffer.from('stays'));
        assert.deepEqual(await collectKeys(d.list('many/')), keys);
        await d.delete('many/');
        assert.deepEqual(await collectKeys(d.list('')), ['other/k']);
      } finally {
        await root.delete(prefix);
        d.destroy();
      }
    });

    test('list strips the driver prefix; keys of another prefix are not seen', async () => {
      const a = freshDriver();
      const b = freshDriver();
      try {
        await a.driver.put('k/1', Buffer.from('1'));
        await b.driver.put('k/2', Buffer.from('2'));
        assert.deepEqual(await collectKeys(a.driver.list('')), ['k/1']);
        assert.deepEqual(await collectKeys(b.driver.list('k/')), ['k/2']);
        assert.deepEqual(await collectKeys(root.list(a.prefix)), [`${a.prefix}k/1`]);
      } finally {
        await root.delete(a.prefix);
        await root.delete(b.prefix);
        a.driver.destroy();
        b.driver.destroy();
      }
    });
  });
}
