// The case machinery both suites share: blobs and digests, the timed push and pull phases (with
// latencies and RSS sampling), the untimed manifest push and the warm-up.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { caseTitle, formatBytes, repoFor, type CaseDef } from './cases.ts';
import { RegistryClient, type RequestLatencies } from './client.ts';
import { BLOCK, digestOf, type BlobSpec } from './content.ts';
import { phaseLine, summarize, type LatencySummary, type PhaseResult } from './report.ts';
import { isStopping, RssSampler } from './servers.ts';

export const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** What a case runs against: one server, or the processes of one scale-out registry. */
export interface Target {
  /** Name in log lines. */
  readonly label: string;
  /** Base URLs; the client sends each request to the next one (round-robin) when there are several. */
  readonly urls: readonly string[];
  /** Processes whose memory is sampled. */
  readonly pids: readonly number[];
  readonly basicAuth: { user: string; password: string } | undefined;
  /** True once any of the processes has exited. */
  exited(): boolean;
  /** The last lines of the processes' output, for error reports. */
  outputTail(): string;
}

/** What one case produced against one target. */
export interface CaseOutcome {
  phases: PhaseResult[];
  /** `ok`, `skipped`, or why the manifest push failed. */
  manifest: string;
  error?: string;
}

export function blobsOf(c: CaseDef): BlobSpec[] {
  return Array.from({ length: c.count }, (_, index) => ({ caseId: c.id, index, size: c.size }));
}

/** Run `fn(0..n-1)` with at most `concurrency` in flight; stops handing out work after the first failure. */
export async function forEachConcurrent(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
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

export async function runPhase(
  phase: 'push' | 'pull',
  c: CaseDef,
  pids: readonly number[],
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
  client.takeRouting();
  const latencies: number[] = [];
  const sampler = new RssSampler(pids, 100);
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
  const result: PhaseResult = {
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
  if (pids.length > 1) {
    result.processes = pids.length;
    result.maxTotalRssKiB = mem.maxTotalRssKiB ?? null;
  }
  const routing = client.takeRouting();
  if (Object.keys(routing.requestsByHost).length > 1) result.routing = routing;
  return result;
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

/** Push then pull every blob of `c` (timed), then push a manifest (not timed). Failures end up in `error`. */
export async function runCase(target: Target, c: CaseDef, digests: readonly string[], verifyAll: boolean): Promise<CaseOutcome> {
  const run: CaseOutcome = { phases: [], manifest: 'skipped' };
  const blobs = blobsOf(c);
  const client = new RegistryClient({ baseUrl: target.urls, concurrency: c.concurrency, basicAuth: target.basicAuth });
  try {
    for (const phase of ['push', 'pull'] as const) {
      const verify = phase === 'pull' && (verifyAll || c.alwaysVerify);
      const p = await runPhase(phase, c, target.pids, client, blobs, digests, verify);
      run.phases.push(p);
      log(phaseLine(target.label, c, p));
    }
    try {
      await pushManifest(client, repoFor(c), blobs, digests);
      run.manifest = 'ok';
    } catch (err) {
      run.manifest = errorText(err);
      log(`[${target.label}] case ${c.id}: manifest push failed (not timed): ${run.manifest}`);
    }
  } catch (err) {
    run.error = isStopping()
      ? `interrupted (${errorText(err)})`
      : `${errorText(err)}${target.exited() ? ` (server exited; last output:\n${target.outputTail()})` : ''}`;
    log(`[${target.label}] case ${c.id} FAILED: ${run.error}`);
  } finally {
    client.close();
  }
  return run;
}

/** A few untimed pushes and pulls so that no server is measured cold (JIT, caches, first mkdirs, connections). */
export async function warmUp(target: Target): Promise<void> {
  const concurrency = 4;
  const blobs: BlobSpec[] = [
    ...Array.from({ length: 64 }, (_, i) => ({ caseId: 0, index: i, size: 4096 })),
    ...Array.from({ length: 4 }, (_, i) => ({ caseId: 0, index: 64 + i, size: BLOCK })),
    { caseId: 0, index: 68, size: 8 * BLOCK + 12345 },
  ];
  const digests = blobs.map((b) => digestOf(b));
  const client = new RegistryClient({ baseUrl: target.urls, concurrency, basicAuth: target.basicAuth });
  try {
    await forEachConcurrent(blobs.length, concurrency, async (i) => {
      const b = blobs[i];
      const d = digests[i];
      if (b !== undefined && d !== undefined) await client.pushMonolithic('bench/warmup', b, d);
    });
    await forEachConcurrent(blobs.length, concurrency, async (i) => {
      const b = blobs[i];
      const d = digests[i];
      if (b !== undefined && d !== undefined) await client.pull('bench/warmup', d, b.size, true);
    });
  } finally {
    client.close();
  }
}

/** The digest of every blob of every case, by case id, computed before any server starts. */
export function computeDigests(cases: readonly CaseDef[]): Map<number, string[]> {
  const distinct = [...new Map(cases.map((c) => [c.id, c])).values()];
  const total = distinct.reduce((a, c) => a + c.count * c.size, 0);
  const t0 = performance.now();
  log(`computing digests of ${distinct.reduce((a, c) => a + c.count, 0)} blobs (${formatBytes(total)}), not timed`);
  const scratch = Buffer.allocUnsafe(BLOCK);
  const out = new Map<number, string[]>();
  for (const c of distinct) out.set(c.id, blobsOf(c).map((b) => digestOf(b, scratch)));
  log(`digests done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

/** The case as recorded in results: its definition and table title. */
export function describeCase(c: CaseDef): CaseDef & { title: string } {
  return { ...c, title: caseTitle(c) };
}
