// Starts a real berth server as a child process for end-to-end tests and benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface StartOptions {
  /** Reuse a data directory (for restart tests); a fresh temporary one otherwise. */
  dataDir?: string;
  /** Extra environment for the child (merged over a minimal controlled environment). */
  env?: Record<string, string>;
  /** Extra command-line flags after `serve`. */
  args?: string[];
  /** Port to listen on; a free one is chosen when omitted. */
  port?: number;
  /** Log level for the child (default `warn`). */
  logLevel?: string;
  /** Print the child's output to this process's stderr (default false). */
  inheritOutput?: boolean;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  child: ChildProcess;
  /** The output the child has written so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Remove the data directory (after stop). */
  cleanup(): void;
}

export const TEST_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const TEST_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

/** A minimal environment for child processes: nothing from the caller's AWS or proxy settings leaks in. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-test-'));
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const env = childEnv({
    BERTH_ROOT_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
    BERTH_ROOT_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
    BERTH_LOG_LEVEL: opts.logLevel ?? 'warn',
    // Tests and benchmarks push faster than ECR's quotas allow one account; the throttling tests turn it on.
    BERTH_THROTTLE_ENABLED: 'false',
    ...opts.env,
  });
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'src/main.ts'), 'serve', '--listen', host, '--data-dir', dataDir, ...(opts.args ?? [])],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const onData = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 1 << 20) out = out.slice(-(1 << 19));
    if (opts.inheritOutput === true) process.stderr.write(b);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));

  const url = `http://${host}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (dead) throw new Error(`berth exited before it was ready:\n${out}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`berth did not become ready in 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host,
    port,
    dataDir,
    accessKeyId: env.BERTH_ROOT_ACCESS_KEY_ID ?? TEST_ACCESS_KEY_ID,
    secretAccessKey: env.BERTH_ROOT_SECRET_ACCESS_KEY ?? TEST_SECRET_ACCESS_KEY,
    child,
    output: () => out,
    async stop() {
      if (dead) return child.exitCode;
      child.kill('SIGTERM');
      return await exited;
    },
    async kill() {
      if (dead) return;
      child.kill('SIGKILL');
      await exited;
    },
    cleanup() {
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
