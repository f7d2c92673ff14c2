// The local suite (`--suite local`, the default): berth and CNCF Distribution, each one process on
// its local filesystem, the six cases of bench/cases.ts. See bench/README.md.
import { mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { caseTitle, type CaseDef } from './cases.ts';
import { renderTable, type CaseRun } from './report.ts';
import {
  atExit,
  distributionVersion,
  isStopping,
  removeDir,
  startBerth,
  startDistribution,
  type ServerHandle,
  type ServerName,
} from './servers.ts';
import { errorText, log, runCase, warmUp, type Target } from './workload.ts';

export interface LocalOptions {
  cases: CaseDef[];
  servers: ServerName[];
  scale: number;
  verify: boolean;
  distributionBin: string;
}

export interface SuiteResult {
  /** The text for stdout (the table and its heading). */
  output: string;
  /** What `--json` writes for this suite. */
  json: Record<string, unknown>;
  /** True if any case failed. */
  failed: boolean;
}

export function targetOf(server: ServerHandle): Target {
  return {
    label: server.name,
    urls: [server.url],
    pids: [server.pid],
    basicAuth: server.basicAuth,
    exited: () => server.exited(),
    outputTail: () => server.outputTail(),
  };
}

async function runServer(
  name: ServerName,
  rootDir: string,
  digests: ReadonlyMap<number, string[]>,
  opts: LocalOptions,
): Promise<CaseRun[]> {
  const failAll = (why: string): CaseRun[] =>
    opts.cases.map((c) => ({ server: name, caseId: c.id, title: caseTitle(c), phases: [], manifest: 'skipped', error: why }));
  if (isStopping()) return failAll('interrupted');
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
  const target = targetOf(server);
  const runs: CaseRun[] = [];
  try {
    log(`[${name}] listening on ${server.url} (pid ${server.pid}); warming up`);
    try {
      await warmUp(target);
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
      const outcome = await runCase(target, c, digests.get(c.id) ?? [], opts.verify);
      runs.push({ server: name, caseId: c.id, title: caseTitle(c), ...outcome });
    }
    return runs;
  } finally {
    await server.stop();
    removeData();
    log(`[${name}] stopped`);
  }
}

export async function runLocalSuite(opts: LocalOptions, rootDir: string, digests: ReadonlyMap<number, string[]>): Promise<SuiteResult> {
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

  const runs: CaseRun[] = [];
  for (const name of opts.servers) runs.push(...(await runServer(name, rootDir, digests, opts)));

  const title =
    opts.servers.length === 2
      ? `berth vs CNCF Distribution ${distVersion}`
      : opts.servers[0] === 'berth'
        ? 'berth only (Distribution not run)'
        : `CNCF Distribution ${distVersion} only (berth not run)`;
  const output = [
    '',
    `${title}: ${meta.cpus} x ${meta.cpuModel}, ${meta.memoryGiB} GiB, node ${meta.node}, scale ${opts.scale}`,
    `client: node:http keep-alive, one agent per case with maxSockets = concurrency; servers run one at a time on 127.0.0.1`,
    `auth: ${meta.auth}`,
    `pull verification: ${meta.verify}`,
    '',
    renderTable(opts.cases, opts.servers, runs),
    '',
  ].join('\n');
  return { output, json: { meta, runs }, failed: runs.some((r) => r.error !== undefined) };
}
