// The scale-out suite (`--suite scaleout`): berth over PostgreSQL + an S3 store (Ceph RGW) with one
// process, three processes, and presigned redirects, and CNCF Distribution's s3 driver on the same
// bucket. Cases 2 and 3 of bench/cases.ts. See bench/README.md.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { deleteS3Prefix, scaleOutEnv, s3Env, type S3Env } from '../test/helpers/cluster.ts';
import { createTempPostgresDatabase, type TempPostgresDatabase } from '../test/helpers/postgres.ts';
import { CASES, caseTitle, formatBytes, scaleCase, type CaseDef } from './cases.ts';
import type { SuiteResult } from './local.ts';
import { renderScaleoutTable, type ScaleoutConfigId, type ScaleoutRun } from './report.ts';
import {
  atExit,
  atExitAsync,
  distributionVersion,
  isStopping,
  removeDir,
  startBerth,
  startDistribution,
  type ServerHandle,
} from './servers.ts';
import { errorText, log, runCase, warmUp, type Target } from './workload.ts';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The cases of this suite: 200 x 1 MiB (c=8) and 8 x 64 MiB (c=4), monolithic. */
export const SCALEOUT_CASE_IDS: readonly number[] = [2, 3];

export function scaleoutCases(scale: number): CaseDef[] {
  return CASES.filter((c) => SCALEOUT_CASE_IDS.includes(c.id)).map((c) => scaleCase(c, scale));
}

/** `scaleOutEnv` sets 5 MiB multipart parts for berth; Distribution gets the same `chunksize`. */
const PART_SIZE = 5 * 1024 * 1024;

interface ConfigDef {
  id: ScaleoutConfigId;
  /** Short name (table column). */
  name: string;
  kind: 'berth' | 'distribution';
  processes: number;
  redirect: boolean;
  description: string;
}

export const SCALEOUT_CONFIGS: readonly ConfigDef[] = [
  {
    id: 1,
    name: 'berth 1p',
    kind: 'berth',
    processes: 1,
    redirect: false,
    description: `berth, 1 process, PostgreSQL + S3 driver on Ceph RGW (${formatBytes(PART_SIZE)} parts), blob GETs proxied`,
  },
  {
    id: 2,
    name: 'berth 3p',
    kind: 'berth',
    processes: 3,
    redirect: false,
    description: '3 berth processes (roles all) on one database and one key prefix; each request to the next process in turn',
  },
  {
    id: 3,
    name: 'distribution s3',
    kind: 'distribution',
    processes: 1,
    redirect: false,
    description: `CNCF Distribution, s3 driver on the same bucket (own rootdirectory, chunksize ${formatBytes(PART_SIZE)}), redirect disabled, no auth`,
  },
  {
    id: 4,
    name: 'berth 1p redirect',
    kind: 'berth',
    processes: 1,
    redirect: true,
    description: 'as berth 1p with storage.redirect.enabled: blob GETs answered 307 to a presigned Ceph URL, followed by the client without Authorization',
  },
];

export interface ScaleoutOptions {
  /** Configuration ids to run, in the order given. */
  configs: ScaleoutConfigId[];
  scale: number;
  verify: boolean;
  distributionBin: string;
}

export interface ScaleoutEnvironment {
  /** Admin URL of the PostgreSQL server (temporary databases are created through it). */
  postgresUrl: string;
  postgresVersion: string;
  s3: S3Env;
}

/** PostgreSQL and the S3 store, if both answer; otherwise why not. */
export async function checkScaleoutEnvironment(): Promise<{ env: ScaleoutEnvironment } | { reason: string }> {
  const fromEnv = process.env.BERTH_TEST_POSTGRES_URL;
  const postgresUrl = fromEnv === undefined || fromEnv === '' ? DEFAULT_POSTGRES_URL : fromEnv;
  let postgresVersion: string;
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("select current_setting('server_version') as v");
    postgresVersion = rows[0]?.v ?? 'unknown';
  } catch (err) {
    return {
      reason: `PostgreSQL at ${redactUrl(postgresUrl)} does not answer (${errorText(err)}); set BERTH_TEST_POSTGRES_URL to an admin URL that may create databases`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
  const s3 = s3Env();
  if (s3 === undefined) {
    return {
      reason: 'S3_ENDPOINT is unset; start Ceph RGW: /work/shared/tools/ceph-rgw.sh start; eval "$(/work/shared/tools/ceph-rgw.sh env)"',
    };
  }
  const s3c = s3Client(s3);
  try {
    await s3c.send(new HeadBucketCommand({ Bucket: s3.bucket }));
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    return { reason: `S3 bucket ${s3.bucket} at ${s3.endpoint} is not usable (${name} ${errorText(err)})`.replace(/\s+\)/, ')') };
  } finally {
    s3c.destroy();
  }
  return { env: { postgresUrl, postgresVersion, s3 } };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function s3Client(s3: S3Env): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

/** Abort the multipart uploads left under `prefix` (a server killed mid-upload), then delete every object under it. */
async function cleanPrefix(s3: S3Env, prefix: string): Promise<void> {
  const client = s3Client(s3);
  try {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(
        new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: u.Key, UploadId: u.UploadId })).catch(() => undefined);
      }
      if (page.IsTruncated !== true) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
    await deleteS3Prefix(s3, prefix);
    const left = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, MaxKeys: 1 }));
    if ((left.KeyCount ?? 0) > 0) log(`warning: objects are left under s3://${s3.bucket}/${prefix}`);
  } finally {
    client.destroy();
  }
}

function clusterTarget(def: ConfigDef, handles: readonly ServerHandle[]): Target {
  return {
    label: def.name,
    urls: handles.map((h) => h.url),
    pids: handles.map((h) => h.pid),
    basicAuth: handles[0]?.basicAuth,
    exited: () => handles.some((h) => h.exited()),
    outputTail: () =>
      handles.length === 1
        ? (handles[0]?.outputTail() ?? '')
        : handles.map((h, i) => `[process ${i + 1}${h.exited() ? ', exited' : ''}]\n${h.outputTail()}`).join('\n'),
  };
}

/** One configuration, fresh: its own database and key prefix, its processes; all gone afterwards. */
async function runConfig(
  def: ConfigDef,
  env: ScaleoutEnvironment,
  rootDir: string,
  cases: readonly CaseDef[],
  digests: ReadonlyMap<number, string[]>,
  opts: ScaleoutOptions,
): Promise<ScaleoutRun[]> {
  const record = (c: CaseDef): Pick<ScaleoutRun, 'config' | 'configuration' | 'caseId' | 'title'> => ({
    config: def.id,
    configuration: def.name,
    caseId: c.id,
    title: caseTitle(c),
  });
  const failAll = (why: string): ScaleoutRun[] => cases.map((c) => ({ ...record(c), phases: [], manifest: 'skipped', error: why }));
  if (isStopping()) return failAll('interrupted');

  const tag = `[${def.name}]`;
  const dataDir = join(rootDir, `config${def.id}`);
  mkdirSync(dataDir, { recursive: true });
  const removeData = atExit(() => removeDir(dataDir));
  const prefix = `bench-${def.id}-${randomBytes(6).toString('hex')}/`;
  const removePrefix = atExitAsync(() => cleanPrefix(env.s3, prefix));
  let dropDatabase: (() => Promise<void>) | undefined;
  const handles: ServerHandle[] = [];
  try {
    try {
      if (def.kind === 'berth') {
        const db: TempPostgresDatabase = await createTempPostgresDatabase(env.postgresUrl);
        dropDatabase = atExitAsync(() => db.drop());
        if (isStopping()) return failAll('interrupted');
        const berthEnv: Record<string, string> = {
          ...scaleOutEnv(db.url, env.s3, prefix),
          ...(def.redirect ? { BERTH_STORAGE_REDIRECT_ENABLED: 'true' } : {}),
        };
        log(`${tag} database ${db.name}, prefix s3://${env.s3.bucket}/${prefix}; starting ${def.processes} berth process${def.processes > 1 ? 'es' : ''}`);
        // One after the other: the first runs the migrations and creates the root key, the others find them.
        for (let i = 0; i < def.processes; i++) {
          if (isStopping()) return failAll('interrupted');
          const dir = join(dataDir, `p${i + 1}`);
          mkdirSync(dir, { recursive: true });
          handles.push(await startBerth(dir, berthEnv));
        }
      } else {
        log(`${tag} prefix s3://${env.s3.bucket}/${prefix}; starting Distribution`);
        handles.push(
          await startDistribution(opts.distributionBin, dataDir, {
            endpoint: env.s3.endpoint,
            accessKeyId: env.s3.accessKeyId,
            secretAccessKey: env.s3.secretAccessKey,
            bucket: env.s3.bucket,
            rootDirectory: `/${prefix.slice(0, -1)}`,
          }),
        );
      }
    } catch (err) {
      log(`${tag} did not start: ${errorText(err)}`);
      return failAll(`server did not start: ${errorText(err)}`);
    }
    const target = clusterTarget(def, handles);
    log(`${tag} listening on ${target.urls.join(', ')} (pid ${target.pids.join(', ')}); warming up`);
    try {
      await warmUp(target);
    } catch (err) {
      const why = `warm-up failed: ${errorText(err)}${target.exited() ? `\n${target.outputTail()}` : ''}`;
      log(`${tag} ${why}`);
      return failAll(why);
    }
    const runs: ScaleoutRun[] = [];
    for (const c of cases) {
      if (target.exited()) {
        runs.push({ ...record(c), phases: [], manifest: 'skipped', error: `server exited:\n${target.outputTail()}` });
        continue;
      }
      runs.push({ ...record(c), ...(await runCase(target, c, digests.get(c.id) ?? [], opts.verify)) });
    }
    return runs;
  } finally {
    await Promise.all(handles.map((h) => h.stop()));
    removeData();
    const cleanup: Array<Promise<void>> = [removePrefix()];
    if (dropDatabase !== undefined) cleanup.push(dropDatabase());
    const failures = (await Promise.allSettled(cleanup)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failures) log(`${tag} cleanup failed: ${errorText(f.reason)}`);
    log(`${tag} stopped; ${dropDatabase === undefined ? '' : 'database dropped, '}prefix deleted`);
  }
}

export async function runScaleoutSuite(
  opts: ScaleoutOptions,
  env: ScaleoutEnvironment,
  rootDir: string,
  digests: ReadonlyMap<number, string[]>,
): Promise<SuiteResult> {
  const cases = scaleoutCases(opts.scale);
  const configs = opts.configs.map((id) => {
    const def = SCALEOUT_CONFIGS.find((c) => c.id === id);
    if (def === undefined) throw new Error(`unknown scale-out configuration ${id}`);
    return def;
  });
  const distVersion = configs.some((c) => c.kind === 'distribution') ? distributionVersion(opts.distributionBin) : 'not run';
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    distribution: `${opts.distributionBin} ${distVersion}`,
    postgres: `PostgreSQL ${env.postgresVersion} at ${redactUrl(env.postgresUrl)}, a temporary database per berth configuration`,
    s3: `${env.s3.endpoint}, bucket ${env.s3.bucket}, a random key prefix per configuration`,
    scale: opts.scale,
    verify: opts.verify ? 'sha256 on every pull' : 'sha256 on pulls of case 2; size on case 3',
    auth: 'berth: HTTP Basic on every request; Distribution: no auth',
    configurations: configs.map(({ id, name, description }) => ({ id, name, description })),
    cases: cases.map((c) => ({ ...c, title: caseTitle(c) })),
  };

  const runs: ScaleoutRun[] = [];
  for (const def of configs) runs.push(...(await runConfig(def, env, rootDir, cases, digests, opts)));

  const width = Math.max(...configs.map((c) => c.name.length));
  const output = [
    '',
    `berth scale-out: ${meta.cpus} x ${meta.cpuModel}, ${meta.memoryGiB} GiB, node ${meta.node}, scale ${opts.scale}`,
    `store: S3 ${meta.s3}; ${meta.postgres}`,
    'configurations (one at a time, each fresh; all on 127.0.0.1):',
    ...configs.map((c) => `  ${c.id}. ${c.name.padEnd(width)}  ${c.kind === 'distribution' ? c.description.replace('CNCF Distribution', `CNCF Distribution ${distVersion}`) : c.description}`),
    'client: node:http keep-alive, one agent per case with maxSockets = concurrency per host; with 3 processes every request goes to the next',
    `auth: ${meta.auth}; pull verification: ${meta.verify}`,
    'RSS max: largest VmRSS of any one server process during the phase; RSS sum: largest sum over the 3 processes',
    '',
    renderScaleoutTable(cases, configs, runs),
    '',
  ].join('\n');
  return { output, json: { meta, runs }, failed: runs.some((r) => r.error !== undefined) };
}
