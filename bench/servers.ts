// Starting and stopping the servers under test, sampling their memory, and cleaning up on exit.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { childEnv, freePort, startServer } from '../test/helpers/server.ts';

export type ServerName = 'berth' | 'distribution';

export interface ServerHandle {
  readonly name: ServerName;
  readonly url: string;
  readonly pid: number;
  readonly basicAuth: { user: string; password: string } | undefined;
  /** True once the process has exited. */
  exited(): boolean;
  /** The last lines of the server's output, for error reports. */
  outputTail(): string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Cleanup: temp dirs and child processes go away at exit, also on SIGINT/SIGTERM.

const cleanups = new Set<() => void>();
const asyncCleanups = new Set<() => Promise<void>>();
let stopping = false;

/** True once SIGINT/SIGTERM arrived: suites start nothing new (no server, database or prefix). */
export function isStopping(): boolean {
  return stopping;
}

/** Run `fn` at exit (normal, error, or signal); returns a function that runs it now and unregisters it. */
export function atExit(fn: () => void): () => void {
  cleanups.add(fn);
  return () => {
    if (cleanups.delete(fn)) fn();
  };
}

/**
 * Run `fn` on SIGINT/SIGTERM after the synchronous cleanups (so the servers are dead by then), e.g.
 * dropping a database or deleting an object-store prefix. The normal path must call the returned
 * function itself (in a `finally`): it runs `fn` once, or waits for the run a signal started. Not
 * run on a plain `process.exit` (nothing asynchronous can run then).
 */
export function atExitAsync(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  const once = (): Promise<void> => (running ??= fn());
  asyncCleanups.add(once);
  return async () => {
    asyncCleanups.delete(once);
    await once();
  };
}

/** The asynchronous cleanups, all at once, for at most `limitMs`. */
async function runAsyncCleanups(limitMs: number): Promise<void> {
  const fns = [...asyncCleanups].reverse();
  asyncCleanups.clear();
  if (fns.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      process.stderr.write(`cleanup still running after ${limitMs / 1000} s; giving up (temporary databases or S3 prefixes may be left)\n`);
      resolve();
    }, limitMs);
  });
  const all = Promise.allSettled(
    fns.map(async (fn) => {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }),
  );
  await Promise.race([all, limit]);
  clearTimeout(timer);
}

function runCleanups(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      // best effort at exit
    }
  }
  killOwnChildren();
}

/** SIGKILL every process whose parent is this process (e.g. a server still starting up when interrupted). */
function killOwnChildren(): void {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) process.kill(Number(e), 'SIGKILL');
    } catch {
      // gone already, or not ours
    }
  }
}

let handlersInstalled = false;
export function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runCleanups);
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(sig, () => {
      if (stopping) {
        process.stderr.write(`\n${sig} again: exiting without waiting for the cleanup\n`);
        runCleanups();
        process.exit(code);
      }
      stopping = true;
      process.stderr.write(`\n${sig}: stopping servers and removing temp dirs\n`);
      runCleanups();
      if (asyncCleanups.size > 0) process.stderr.write('dropping temporary databases and deleting S3 prefixes\n');
      void runAsyncCleanups(30_000).finally(() => process.exit(code));
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Memory sampling from /proc/<pid>/status.

export interface ProcMemory {
  rssKiB: number | undefined;
  hwmKiB: number | undefined;
}

export function readProcMemory(pid: number): ProcMemory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number | undefined => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return m?.[1] === undefined ? undefined : Number(m[1]);
    };
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return { rssKiB: undefined, hwmKiB: undefined };
  }
}

export interface MemorySample {
  /** Largest VmRSS of any one of the processes. */
  maxRssKiB: number | undefined;
  /** Largest sum of VmRSS over the processes at one sampling instant (= maxRssKiB for one process). */
  maxTotalRssKiB: number | undefined;
  /** Largest VmHWM of the processes at the end (peak since each process started). */
  hwmKiB: number | undefined;
}

/**
 * Samples VmRSS of one or several processes every `intervalMs` until stopped; reports the maximum
 * seen for any one process, the maximum of their sum, and the largest VmHWM at the end.
 */
export class RssSampler {
  readonly #pids: readonly number[];
  readonly #timer: NodeJS.Timeout;
  #max: number | undefined;
  #maxTotal: number | undefined;

  constructor(pids: number | readonly number[], intervalMs = 100) {
    this.#pids = typeof pids === 'number' ? [pids] : [...pids];
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    let total: number | undefined;
    for (const pid of this.#pids) {
      const { rssKiB } = readProcMemory(pid);
      if (rssKiB === undefined) continue;
      total = (total ?? 0) + rssKiB;
      if (this.#max === undefined || rssKiB > this.#max) this.#max = rssKiB;
    }
    if (total !== undefined && (this.#maxTotal === undefined || total > this.#maxTotal)) this.#maxTotal = total;
  }

  stop(): MemorySample {
    clearInterval(this.#timer);
    this.#sample();
    let hwm: number | undefined;
    for (const pid of this.#pids) {
      const h = readProcMemory(pid).hwmKiB;
      if (h !== undefined && (hwm === undefined || h > hwm)) hwm = h;
    }
    return { maxRssKiB: this.#max, maxTotalRssKiB: this.#maxTotal, hwmKiB: hwm };
  }
}

// ---------------------------------------------------------------------------------------------
// berth

/** One berth process (`env`: extra BERTH_* settings, e.g. PostgreSQL + S3 for the scale-out suite). */
export async function startBerth(dataDir: string, env: Record<string, string> = {}): Promise<ServerHandle> {
  const port = await freePort();
  const server = await startServer({ logLevel: 'warn', port, dataDir, env });
  const pid = server.child.pid;
  if (pid === undefined) throw new Error('berth child has no pid');
  let dead = false;
  server.child.once('exit', () => (dead = true));
  const unregister = atExit(() => {
    if (!dead) server.child.kill('SIGKILL');
  });
  return {
    name: 'berth',
    url: server.url,
    pid,
    basicAuth: { user: server.accessKeyId, password: server.secretAccessKey },
    exited: () => dead || server.child.exitCode !== null,
    outputTail: () => tail(server.output()),
    async stop() {
      const timer = setTimeout(() => void server.kill(), 10_000);
      await server.stop();
      clearTimeout(timer);
      unregister();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CNCF Distribution (Debian's docker-registry)

export const DEFAULT_DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export function distributionVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: childEnv() });
  if (r.error !== undefined) return `unavailable (${r.error.message})`;
  return (r.stdout.trim().split(/\s+/).pop() ?? '').trim() || 'unknown';
}

/** Distribution's `s3` storage driver settings (an S3-compatible store such as Ceph RGW). */
export interface DistributionS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Key prefix inside the bucket, e.g. `/bench-dist-1a2b3c/` (Distribution's `rootdirectory`). */
  rootDirectory: string;
}

/**
 * Distribution with filesystem storage under `dataDir`, or, with `s3`, its `s3` driver (blob GETs
 * proxied, not redirected to the store, so that it compares with berth proxying). Either way the
 * child gets a minimal environment: no AWS_* variables (AWS_CA_BUNDLE would break the s3 driver).
 */
export async function startDistribution(bin: string, dataDir: string, s3?: DistributionS3): Promise<ServerHandle> {
  const port = await freePort();
  const configPath = join(dataDir, 'config.yml');
  // JSON is YAML. Loopback, no auth, level error, deletes enabled; the in-memory blob descriptor
  // cache is the shipped default configuration. Access logs off (berth at `warn` does not log
  // requests either).
  let storage: Record<string, unknown>;
  if (s3 === undefined) {
    const storageDir = join(dataDir, 'storage');
    mkdirSync(storageDir, { recursive: true });
    storage = { filesystem: { rootdirectory: storageDir } };
  } else {
    storage = {
      s3: {
        accesskey: s3.accessKeyId,
        secretkey: s3.secretAccessKey,
        region: 'us-east-1',
        regionendpoint: s3.endpoint,
        bucket: s3.bucket,
        rootdirectory: s3.rootDirectory,
        secure: s3.endpoint.startsWith('https:'),
        v4auth: true,
        chunksize: 5 * 1024 * 1024,
      },
      redirect: { disable: true },
    };
  }
  const config = {
    version: '0.1',
    log: { level: 'error', accesslog: { disabled: true } },
    storage: {
      ...storage,
      delete: { enabled: true },
      cache: { blobdescriptor: 'inmemory' },
    },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const child = spawn(bin, ['serve', configPath], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 1 << 20) out = out.slice(-(1 << 19));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let dead = false;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('close', () => {
      dead = true;
      resolve();
    }),
  );
  child.once('error', (err) => {
    spawnError = err;
    dead = true;
  });
  const unregister = atExit(() => {
    if (!dead) child.kill('SIGKILL');
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (spawnError !== undefined) throw new Error(`cannot start ${bin}: ${spawnError.message}`);
    if (dead) throw new Error(`Distribution exited before it was ready:\n${tail(out)}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Distribution did not become ready in 30 s:\n${tail(out)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('Distribution child has no pid');
  return {
    name: 'distribution',
    url,
    pid,
    basicAuth: undefined,
    exited: () => dead,
    outputTail: () => tail(out),
    async stop() {
      if (!dead) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      unregister();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
