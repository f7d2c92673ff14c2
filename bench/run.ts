// `npm run bench`: the same workload, with the same client, against berth and CNCF Distribution.
// See bench/README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CASES, caseTitle, formatBytes, repoFor, scaleCase, type CaseDef } from './cases.ts';
import { RegistryClient, type RequestLatencies } from './client.ts';
import { BLOCK, digestOf, type BlobSpec } from './content.ts';
import { phaseLine, renderTable, summarize, type CaseRun, type LatencySummary, type PhaseResult } from './report.ts';
import {
  DEFAULT_DISTRIBUTION_BIN,
  RssSampler,
  atExit,
  distributionVersion,
  installExitHandlers,
  removeDir,
  startBerth,
  startDistribution,
  type ServerHandle,
  type ServerName,
} from './servers.ts';

const USAGE = `usage: npm run bench -- [options]

  --cases 1,2,5            cases to run (default: all: ${CASES.map((c) => c.id).join(',')})
  --only berth|distribution  run against one server only (default: both)
  --scale 0.1              shrink blob counts (cases 1-2) or sizes (cases 3-6) for a quick run
  --verify                 sha256-check every pulled blob (cases 1-2 are always checked)
  --json FILE              also write the results as JSON
  --distribution-bin PATH  Distribution binary (default ${DEFAULT_DISTRIBUTION_BIN})
  -h, --help
`;

interface Options {
  cases: CaseDef[];
  servers: ServerName[];
  scale: number;
  verify: boolean;
  json: string | undefined;
  distributionBin: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      only: { type: 'string' },
      scale: { type: 'string' },
      verify: { type: 'boolean', default: false },
      json: { type: 'string' },
      'distribution-bin': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1) throw new UsageError(`--scale must be in (0, 1], got ${values.scale}`);
  let selected: CaseDef[] = [...CASES];
  if (values.cases !== undefined) {
    const ids = values.cases.split(',').map((s) => s.trim()).filter((s) => s !== '');
    selected = ids.map((id) => {
      const c = CASES.find((x) => String(x.id) === id);
      if (c === undefined) throw new UsageError(`unknown case ${id}; cases are ${CASES.map((x) => x.id).join(',')}`);
      return c;
    });
    if (selected.length === 0) throw new UsageError('--cases selects nothing');
  }
  let servers: ServerName[] = ['berth', 'distribution'];
  if (values.only !== undefined) {
    if (values.only !== 'berth' && values.only !== 'distribution') {
      throw new UsageError(`--only must be berth or distribution, got ${values.only}`);
    }
    servers = [values.only];
  }
  return {
    cases: selected.map((c) => scaleCase(c, scale)),
    servers,
    scale,
    verify: values.verify === true,
    json: values.json,
    distributionBin: values['distribution-bin'] ?? DEFAULT_DISTRIBUTION_BIN,
  };
}

class UsageError extends Error {}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function blobsOf(c: CaseDef): BlobSpec[] {
  return Array.from({ length: c.count }, (_, index) => ({ caseId: c.id, index, size: c.size }));
}

/** Run `fn(0..n-1)` with at most `concurrency` in flight; stops handing out work after the first failure. */
async function forEachConcurrent(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: Error | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  if (failure !== undefined) throw failure;
}

/** Flush dirty pages left by the previous phase so that it does not bill the next one. */
function syncDisks(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

function summarizeRequests(l: RequestLatencies): Record<string, LatencySummary> {
  const out: Record<string, LatencySummary> = {};
  for (const [kind, values] of l) out[kind] = summarize(values);
  return out;
}

async function runPhase(
  phase: 'push' | 'pull',
  c: CaseDef,
  server: ServerHandle,
  client: RegistryClient,
  blobs: readonly BlobSpec[],
  digests: readonly string[],
  verify: boolean,
): Promise<PhaseResult> {
  const repo = repoFor(c);
  const op =
    phase === 'pull'
      ? (b: BlobSpec, d: string): Promise<void> => client.pull(repo, d, b.size, verify)
      : c.mode === 'chunked' && c.chunkSize !== undefined
        ? (b: BlobSpec, d: string): Promise<void> => client.pushChunked(repo, b, d, c.chunkSize ?? BLOCK)
        : (b: BlobSpec, d: string): Promise<void> => client.pushMonolithic(repo, b, d);
  syncDisks();
  client.takeLatencies();
  const latencies: number[] = [];
  const sampler = new RssSampler(server.pid, 100);
  const t0 = performance.now();
  let mem: ReturnType<RssSampler['stop']>;
  try {
    await forEachConcurrent(blobs.length, c.concurrency, async (i) => {
      const b = blobs[i];
      const d = digests[i];
      if (b === undefined || d === undefined) throw new Error(`no blob ${i}`);
      const s = performance.now();
      await op(b, d);
      latencies.push(performance.now() - s);
    });
  } finally {
    mem = sampler.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const bytes = blobs.reduce((a, b) => a + b.size, 0);
  return {
    phase,
    ops: blobs.length,
    bytes,
    seconds: Math.round(seconds * 1e4) / 1e4,
    mbPerSec: Math.round((bytes / 1e6 / seconds) * 1000) / 1000,
    opsPerSec: Math.round((blobs.length / seconds) * 1000) / 1000,
    latency: summarize(latencies),
    requests: summarizeRequests(client.takeLatencies()),
    maxRssKiB: mem.maxRssKiB ?? null,
    hwmKiB: mem.hwmKiB ?? null,
    check: phase === 'push' ? '-' : verify ? 'sha256' : 'size',
  };
}

/** One small OCI image manifest referencing every blob of the case, so that the blobs are in use. Not timed. */
async function pushManifest(client: RegistryClient, repo: string, blobs: readonly BlobSpec[], digests: readonly string[]): Promise<void> {
  const layers = blobs.map((b, i) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    digest: digests[i] ?? '',
    size: b.size,
  }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    }),
  );
  const configDigest = await client.pushBuffer(repo, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers,
  };
  await client.putManifest(repo, 'bench', manifest.mediaType, Buffer.from(JSON.stringify(manifest)));
}

async function runCase(server: ServerHandle, c: CaseDef, digests: readonly string[], opts: Options): Promise<CaseRun> {
  const run: CaseRun = { server: server.name, caseId: c.id, title: caseTitle(c), phases: [], manifest: 'skipped' };
  const blobs = blobsOf(c);
  const client = new RegistryClient({ baseUrl: server.url, concurrency: c.concurrency, basicAuth: server.basicAuth });
  try {
    for (const phase of ['push', 'pull'] as const) {
      const verify = phase === 'pull' && (opts.verify || c.alwaysVerify);
      const p = await runPhase(phase, c, server, client, blobs, digests, verify);
      run.phases.push(p);
      log(phaseLine(server.name, c, p));
    }
    try {
      await pushManifest(client, repoFor(c), blobs, digests);
      run.manifest = 'ok';
    } catch (err) {
      run.manifest = errorText(err);
      log(`[${server.name}] case ${c.id}: manifest push failed (not timed): ${run.manifest}`);
    }
  } catch (err) {
    run.error = errorText(err);
    if (server.exited()) run.error += ` (server exited; last output:\n${server.outputTail()})`;
    log(`[${server.name}] case ${c.id} FAILED: ${run.error}`);
  } finally {
    client.close();
  }
  return run;
}

/** A few untimed pushes and pulls so that neither server is measured cold (JIT, caches, first mkdirs). */
async function warmUp(server: ServerHandle): Promise<void> {
  const c: CaseDef = { id: 0, count: 0, size: 0, concurrency: 4, mode: 'monolithic', scaleBy: 'count', alwaysVerify: true };
  const blobs: BlobSpec[] = [
    ...Array.from({ length: 64 }, (_, i) => ({ caseId: 0, index: i, size: 4096 })),
    ...Array.from({ length: 4 }, (_, i) => ({ caseId: 0, index: 64 + i, size: BLOCK })),
    { caseId: 0, index: 68, size: 8 * BLOCK + 12345 },
  ];
  const digests = blobs.map((b) => digestOf(b));
  const client = new RegistryClient({ baseUrl: server.url, concurrency: c.concurrency, basicAuth: server.basicAuth });
  try {
    await forEachConcurrent(blobs.length, c.concurrency, async (i) => {
      const b = blobs[i];
      const d = digests[i];
      if (b !== undefined && d !== undefined) await client.pushMonolithic('bench/warmup', b, d);
    });
    await forEachConcurrent(blobs.length, c.concurrency, async (i) => {
      const b = blobs[i];
      const d = digests[i];
      if (b !== undefined && d !== undefined) await client.pull('bench/warmup', d, b.size, true);
    });
  } finally {
    client.close();
  }
}

async function runServer(
  name: ServerName,
  rootDir: string,
  digests: ReadonlyMap<number, string[]>,
  opts: Options,
): Promise<CaseRun[]> {
  const failAll = (why: string): CaseRun[] =>
    opts.cases.map((c) => ({ server: name, caseId: c.id, title: caseTitle(c), phases: [], manifest: 'skipped', error: why }));
  const dataDir = join(rootDir, name);
  mkdirSync(dataDir, { recursive: true });
  const removeData = atExit(() => removeDir(dataDir));
  let server: ServerHandle;
  try {
    log(`[${name}] starting`);
    server = name === 'berth' ? await startBerth(dataDir) : await startDistribution(opts.distributionBin, dataDir);
  } catch (err) {
    log(`[${name}] did not start: ${errorText(err)}`);
    removeData();
    return failAll(`server did not start: ${errorText(err)}`);
  }
  const runs: CaseRun[] = [];
  try {
    log(`[${name}] listening on ${server.url} (pid ${server.pid}); warming up`);
    try {
      await warmUp(server);
    } catch (err) {
      const why = `warm-up failed: ${errorText(err)}${server.exited() ? `\n${server.outputTail()}` : ''}`;
      log(`[${name}] ${why}`);
      return failAll(why);
    }
    for (const c of opts.cases) {
      if (server.exited()) {
        runs.push({ server: name, caseId: c.id, title: caseTitle(c), phases: [], manifest: 'skipped', error: 'server exited' });
        continue;
      }
      runs.push(await runCase(server, c, digests.get(c.id) ?? [], opts));
    }
    return runs;
  } finally {
    await server.stop();
    removeData();
    log(`[${name}] stopped`);
  }
}

function computeDigests(cases: readonly CaseDef[]): Map<number, string[]> {
  const total = cases.reduce((a, c) => a + c.count * c.size, 0);
  const t0 = performance.now();
  log(`computing digests of ${cases.reduce((a, c) => a + c.count, 0)} blobs (${formatBytes(total)}), not timed`);
  const scratch = Buffer.allocUnsafe(BLOCK);
  const out = new Map<number, string[]>();
  for (const c of cases) out.set(c.id, blobsOf(c).map((b) => digestOf(b, scratch)));
  log(`digests done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions();
  } catch (err) {
    process.stderr.write(`${errorText(err)}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  installExitHandlers();
  const rootDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  atExit(() => removeDir(rootDir));

  const distVersion = opts.servers.includes('distribution') ? distributionVersion(opts.distributionBin) : 'not run';
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    distribution: `${opts.distributionBin} ${distVersion}`,
    servers: opts.servers,
    scale: opts.scale,
    verify: opts.verify ? 'sha256 on every pull' : 'sha256 on pulls of cases 1-2 only; size on the others',
    auth: 'berth: HTTP Basic on every request; Distribution: no auth (its fastest configuration; htpasswd would run bcrypt on every request)',
    cases: opts.cases.map((c) => ({ ...c, title: caseTitle(c) })),
  };

  const digests = computeDigests(opts.cases);
  const runs: CaseRun[] = [];
  for (const name of opts.servers) runs.push(...(await runServer(name, rootDir, digests, opts)));

  const title =
    opts.servers.length === 2
      ? `berth vs CNCF Distribution ${distVersion}`
      : opts.servers[0] === 'berth'
        ? 'berth only (Distribution not run)'
        : `CNCF Distribution ${distVersion} only (berth not run)`;
  const out = [
    '',
    `${title}: ${meta.cpus} x ${meta.cpuModel}, ${meta.memoryGiB} GiB, node ${meta.node}, scale ${opts.scale}`,
    `client: node:http keep-alive, one agent per case with maxSockets = concurrency; servers run one at a time on 127.0.0.1`,
    `auth: ${meta.auth}`,
    `pull verification: ${meta.verify}`,
    '',
    renderTable(opts.cases, opts.servers, runs),
    '',
  ].join('\n');
  process.stdout.write(out);

  if (opts.json !== undefined) {
    writeFileSync(opts.json, `${JSON.stringify({ meta, runs }, null, 2)}\n`);
    log(`results written to ${opts.json}`);
  }
  if (runs.some((r) => r.error !== undefined)) process.exitCode = 1;
}

await main();
