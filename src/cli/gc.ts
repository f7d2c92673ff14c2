// `berth gc [--dry-run] [--full] [flags as serve]`: one garbage-collection pass over the configured
// stores (docs/adr/0014-online-garbage-collection.md), beside running servers: the candidates that
// are due are decided as the gc.collect job decides them. --dry-run reports what a pass would remove
// and changes nothing; --full first walks the rows (queueing every unlinked blob and unused link)
// and the storage (removing objects under blobs/ that no row knows, older than the grace period).
import { parseArgs } from 'node:util';
import { SERVE_FLAGS } from './flags.ts';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { Registry, type CollectResult, type FullResult } from '../registry/index.ts';
import { BlobStore, UploadStore, type StorageDriver } from '../storage/index.ts';
import { openMeta, openStorage } from '../app/stores.ts';
import { createLogger } from '../observability/logger.ts';
import { describeDatabase } from './migrate.ts';

export const GC_HELP = `berth gc [--dry-run] [--full] [flags as for serve]
  One garbage-collection pass on the configured stores, beside running servers: blobs no repository
  holds and links no manifest uses, due for collection, are deleted (gc.gracePeriod protects recent
  uploads). --dry-run reports what would be freed and changes nothing. --full also walks the
  database and the blob storage (for operators; its cost grows with the registry).`;

function parse(args: string[], env: NodeJS.ProcessEnv): { config: Config; dryRun: boolean; full: boolean; help: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      'dry-run': { type: 'boolean' },
      full: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...SERVE_FLAGS,
    },
    strict: true,
    allowPositionals: false,
  });
  const file = values.config ?? (env.BERTH_CONFIG !== undefined && env.BERTH_CONFIG !== '' ? env.BERTH_CONFIG : undefined);
  const config = loadConfig({
    file,
    env,
    overrides: { listen: values.listen, dataDir: values['data-dir'], 'tls.cert': values['tls-cert'], 'tls.key': values['tls-key'] },
  });
  return { config, dryRun: values['dry-run'] === true, full: values.full === true, help: values.help === true };
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u] as string} (${n} bytes)`;
}

export interface GcRunOptions {
  dryRun?: boolean;
  full?: boolean;
  now?: () => number;
}

/** Runs one pass on the stores a configuration names; the stores are closed afterwards. */
export async function runGc(config: Config, opts: GcRunOptions = {}): Promise<CollectResult | FullResult> {
  const meta: MetaStore = await openMeta(config);
  let storage: StorageDriver | undefined;
  try {
    storage = await openStorage(config);
    const blobs = new BlobStore(storage);
    const log = config.log.level === 'silent' ? pino({ level: 'silent' }) : createLogger('warn', pino.destination(2));
    const registry = new Registry({ meta, blobs, uploads: new UploadStore(storage, blobs), now: opts.now ?? Date.now, log }, { gc: { gracePeriodSeconds: config.gc.gracePeriod } });
    const dryRun = opts.dryRun === true;
    return opts.full === true ? await registry.gc.full({ dryRun }) : await registry.gc.collect({ dryRun });
  } finally {
    await meta.close();
    await storage?.close?.();
  }
}

export async function gcCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args, env);
  } catch (e) {
    if (e instanceof TypeError) {
      // parseArgs: an unknown flag or a missing value.
      err(`berth gc: ${e.message}\n\n${GC_HELP}`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    out(GC_HELP);
    return 0;
  }
  const { config, dryRun, full } = parsed;
  let r: CollectResult | FullResult;
  try {
    r = await runGc(config, { dryRun, full });
  } catch (e) {
    err(`berth gc: ${describeDatabase(config)}: ${(e as Error).message}`);
    return 1;
  }
  const would = dryRun ? 'would be ' : '';
  const prefix = dryRun ? `${describeDatabase(config)} (dry run)` : describeDatabase(config);
  if ('orphansRemoved' in r) {
    if (!dryRun) out(`${prefix}: ${r.queued} candidate${r.queued === 1 ? '' : 's'} queued by the walk of the database`);
    out(`${prefix}: ${r.orphansRemoved} storage object${r.orphansRemoved === 1 ? '' : 's'} without a database row ${would}removed, ${formatBytes(r.orphanBytes)}`);
  }
  out(`${prefix}: ${r.candidates} candidate${r.candidates === 1 ? '' : 's'} decided; ${r.linksRemoved} link${r.linksRemoved === 1 ? '' : 's'} and ${r.blobsRemoved} blob${r.blobsRemoved === 1 ? '' : 's'} ${would}removed`);
  const freed = r.bytesFreed + ('orphanBytes' in r ? r.orphanBytes : 0);
  out(`${prefix}: ${formatBytes(freed)} ${dryRun ? 'would be freed' : 'freed'}`);
  return 0;
}
