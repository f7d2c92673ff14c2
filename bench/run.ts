// `npm run bench`: the same workload, with the same client, against berth and CNCF Distribution;
// `--suite scaleout` for berth over PostgreSQL + S3 (1 and 3 processes, redirects) against
// Distribution's s3 driver. See bench/README.md.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CASES, scaleCase, type CaseDef } from './cases.ts';
import { runEcrSuite } from './ecr.ts';
import { runLifecycleSuite } from './lifecycle.ts';
import { runLocalSuite, type LocalOptions } from './local.ts';
import { runProxySuite } from './proxy.ts';
import { runScanSuite } from './scan.ts';
import type { ScaleoutConfigId } from './report.ts';
import { checkScaleoutEnvironment, runScaleoutSuite, scaleoutCases, SCALEOUT_CONFIGS, type ScaleoutOptions } from './scaleout.ts';
import { DEFAULT_DISTRIBUTION_BIN, atExit, installExitHandlers, isStopping, removeDir, type ServerName } from './servers.ts';
import { computeDigests, errorText, log } from './workload.ts';

const USAGE = `usage: npm run bench -- [options]

  --suite local|scaleout|ecr|lifecycle|scan|proxy|all  local: berth vs Distribution on local disk (default);
                           scaleout: berth over PostgreSQL + Ceph RGW, 1 and 3 processes and
                           redirects, vs Distribution's s3 driver; ecr: the ECR API (SigV4
                           requests, the layer API) next to /v2/ on berth and Distribution;
                           lifecycle: a policy over 100,000 images, a collector pass after
                           10,000 deletes; scan: scanning the Debian fixture image (BASIC,
                           ENHANCED) and re-evaluating 1,000 stored inventories after a data
                           update, with the OSV corpus; proxy: time to first byte of a 100 MiB
                           layer through the pull-through cache, cold and cached, against a
                           Distribution upstream; all: every suite
  --cases 1,2,5            local suite: cases to run (default: all: ${CASES.map((c) => c.id).join(',')})
  --only berth|distribution  local suite: one server only (default: both)
  --configs 1,2,3,4        scale-out suite: configurations to run (default: all: ${SCALEOUT_CONFIGS.map((c) => c.id).join(',')})
  --scale 0.1              shrink blob counts (cases 1-2) or sizes (cases 3-6) for a quick run
  --verify                 sha256-check every pulled blob (cases 1-2 are always checked)
  --json FILE              also write the results as JSON
  --distribution-bin PATH  Distribution binary (default ${DEFAULT_DISTRIBUTION_BIN})
  -h, --help

The scale-out suite needs PostgreSQL (BERTH_TEST_POSTGRES_URL, default
postgres://postgres@127.0.0.1:5432/postgres) and an S3 store (S3_ENDPOINT etc., as printed by
/work/shared/tools/ceph-rgw.sh env); without them it says why and runs nothing.
`;

type Suite = 'local' | 'scaleout' | 'ecr' | 'lifecycle' | 'scan' | 'proxy' | 'all';

interface Options {
  suite: Suite;
  local: LocalOptions;
  scaleout: ScaleoutOptions;
  json: string | undefined;
}

class UsageError extends Error {}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      suite: { type: 'string' },
      cases: { type: 'string' },
      only: { type: 'string' },
      configs: { type: 'string' },
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
  const suite = values.suite ?? 'local';
  if (suite !== 'local' && suite !== 'scaleout' && suite !== 'ecr' && suite !== 'lifecycle' && suite !== 'scan' && suite !== 'proxy' && suite !== 'all') {
    throw new UsageError(`--suite must be local, scaleout, ecr, lifecycle, scan, proxy or all, got ${suite}`);
  }
  if ((suite === 'ecr' || suite === 'lifecycle' || suite === 'scan' || suite === 'proxy') && (values.cases !== undefined || values.only !== undefined || values.configs !== undefined)) {
    throw new UsageError(`--cases, --only and --configs do not apply to the ${suite} suite`);
  }
  if (suite === 'scaleout' && (values.cases !== undefined || values.only !== undefined)) {
    throw new UsageError('--cases and --only apply to the local suite; the scale-out suite takes --configs');
  }
  if (suite === 'local' && values.configs !== undefined) {
    throw new UsageError('--configs applies to the scale-out suite (--suite scaleout or all)');
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
  let configs: ScaleoutConfigId[] = SCALEOUT_CONFIGS.map((c) => c.id);
  if (values.configs !== undefined) {
    const ids = values.configs.split(',').map((s) => s.trim()).filter((s) => s !== '');
    configs = ids.map((id) => {
      const c = SCALEOUT_CONFIGS.find((x) => String(x.id) === id);
      if (c === undefined) throw new UsageError(`unknown configuration ${id}; configurations are ${SCALEOUT_CONFIGS.map((x) => x.id).join(',')}`);
      return c.id;
    });
    if (configs.length === 0) throw new UsageError('--configs selects nothing');
  }
  const verify = values.verify === true;
  const distributionBin = values['distribution-bin'] ?? DEFAULT_DISTRIBUTION_BIN;
  return {
    suite,
    local: { cases: selected.map((c) => scaleCase(c, scale)), servers, scale, verify, distributionBin },
    scaleout: { configs, scale, verify, distributionBin },
    json: values.json,
  };
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
  const runLocal = opts.suite === 'local' || opts.suite === 'all';
  let runScaleout = opts.suite === 'scaleout' || opts.suite === 'all';
  const runEcr = opts.suite === 'ecr' || opts.suite === 'all';
  const runLifecycle = opts.suite === 'lifecycle' || opts.suite === 'all';
  const runScan = opts.suite === 'scan' || opts.suite === 'all';
  const runProxy = opts.suite === 'proxy' || opts.suite === 'all';

  // Before anything else: without PostgreSQL and S3 the scale-out suite only says why.
  let scaleoutSkipped: string | undefined;
  let scaleoutEnv: Awaited<ReturnType<typeof checkScaleoutEnvironment>> | undefined;
  if (runScaleout) {
    scaleoutEnv = await checkScaleoutEnvironment();
    if ('reason' in scaleoutEnv) {
      scaleoutSkipped = scaleoutEnv.reason;
      runScaleout = false;
      log(`scale-out suite skipped: ${scaleoutSkipped}`);
    }
  }
  if (!runLocal && !runScaleout && !runEcr && !runLifecycle && !runScan && !runProxy) {
    process.stdout.write(`\nberth scale-out: not run: ${scaleoutSkipped ?? 'nothing selected'}\n`);
    if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify({ scaleout: { skipped: scaleoutSkipped } }, null, 2)}\n`);
    return;
  }

  const rootDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  atExit(() => removeDir(rootDir));
  const digests = computeDigests([...(runLocal ? opts.local.cases : []), ...(runScaleout ? scaleoutCases(opts.scaleout.scale) : [])]);

  let json: Record<string, unknown> = {};
  let failed = false;
  if (runLocal) {
    const local = await runLocalSuite(opts.local, rootDir, digests);
    // Interrupted: no results; the signal handler exits once the cleanup is done.
    if (isStopping()) return;
    process.stdout.write(local.output);
    json = { ...local.json };
    failed ||= local.failed;
  }
  if (scaleoutEnv !== undefined && 'env' in scaleoutEnv && runScaleout) {
    const scaleout = await runScaleoutSuite(opts.scaleout, scaleoutEnv.env, rootDir, digests);
    if (isStopping()) return;
    process.stdout.write(scaleout.output);
    json.scaleout = scaleout.json;
    failed ||= scaleout.failed;
  } else if (scaleoutSkipped !== undefined) {
    process.stdout.write(`\nberth scale-out: not run: ${scaleoutSkipped}\n`);
    json.scaleout = { skipped: scaleoutSkipped };
  }

  if (runEcr && !isStopping()) {
    const ecr = await runEcrSuite({ scale: opts.scaleout.scale, distributionBin: opts.scaleout.distributionBin }, rootDir);
    process.stdout.write(ecr.output);
    json.ecr = ecr.json;
    failed ||= ecr.failed;
  }

  if (runLifecycle && !isStopping()) {
    const lc = await runLifecycleSuite({ scale: opts.scaleout.scale }, rootDir);
    process.stdout.write(lc.output);
    json.lifecycle = lc.json;
    failed ||= lc.failed;
  }

  if (runScan && !isStopping()) {
    const scan = await runScanSuite({ scale: opts.scaleout.scale }, rootDir);
    process.stdout.write(scan.output);
    json.scan = scan.json;
    failed ||= scan.failed;
  }

  if (runProxy && !isStopping()) {
    const proxy = await runProxySuite({ scale: opts.scaleout.scale }, rootDir);
    process.stdout.write(proxy.output);
    json.proxy = proxy.json;
    failed ||= proxy.failed;
  }

  if (opts.json !== undefined) {
    writeFileSync(opts.json, `${JSON.stringify(json, null, 2)}\n`);
    log(`results written to ${opts.json}`);
  }
  if (failed) process.exitCode = 1;
}

await main();
