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

/** Run `fn` at exit (normal, error, or signal); returns a function that runs it now and unregisters it. */
export function atExit(fn: () => void): () => void {
  cleanups.add(fn);
  return () => {
    if (cleanups.delete(fn)) fn();
  };
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
      process.stderr.write(`\n${sig}: stopping servers and removing temp dirs\n`);
      runCleanups();
      process.exit(code);
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

/** Samples VmRSS every `intervalMs` until stopped; reports the maximum seen and VmHWM at the end. */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #max: number | undefined;

  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const { rssKiB } = readProcMemory(this.#pid);
    if (rssKiB !== undefined && (this.#max === undefined || rssKiB > this.#max)) this.#max = rssKiB;
  }

  stop(): { maxRssKiB: number | undefined; hwmKiB: number | undefined } {
    clearInterval(this.#timer);
    this.#sample();
    return { maxRssKiB: this.#max, hwmKiB: readProcMemory(this.#pid).hwmKiB };
  }
}

// ---------------------------------------------------------------------------------------------
// berth

export async function startBerth(dataDir: string): Promise<ServerHandle> {
  const port = await freePort();
  const server = await startServer({ logLevel: 'warn', port, dataDir });
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

export async function startDistribution(bin: string, dataDir: string): Promise<ServerHandle> {
  const port = await freePort();
  const storageDir = join(dataDir, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const configPath = join(dataDir, 'config.yml');
  // JSON is YAML. Filesystem storage, loopback, no auth, level error, deletes enabled; the in-memory
  // blob descriptor cache is the shipped default configuration. Access logs off (berth at `warn`
  // does not log requests either).
  const config = {
    version: '0.1',
    log: { level: 'error', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storageDir },
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
