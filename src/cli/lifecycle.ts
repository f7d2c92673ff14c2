// `berth lifecycle run [--dry-run] [--account ID] [--repository NAME] [flags as for serve]`: applies
// lifecycle policies now, on the configured stores, beside running servers (the lifecycle.run job
// does the same hourly). --dry-run prints what would expire and changes nothing.
import { parseArgs } from 'node:util';
import { SERVE_FLAGS, serveFlagArgs } from './flags.ts';
import { pino } from 'pino';
import type { Config } from '../config/index.ts';
import { openMeta, openStorage } from '../app/stores.ts';
import { Registry, type LifecycleRunResult } from '../registry/index.ts';
import { BlobStore, UploadStore, type StorageDriver } from '../storage/index.ts';
import type { MetaStore, Repository } from '../meta/index.ts';
import { UsageError } from './ecr.ts';

export const LIFECYCLE_HELP = `berth lifecycle run [--dry-run] [--account ID] [--repository NAME] [flags as for serve]
  Applies the repositories' lifecycle policies now (the server does it hourly): one repository, or
  every repository with a policy. --dry-run prints what would expire and changes nothing.`;

export async function lifecycleCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  err: (line: string) => void,
  configOf: (args: string[], env: NodeJS.ProcessEnv) => Config,
): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: {
      'dry-run': { type: 'boolean' },
      account: { type: 'string' },
      repository: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...SERVE_FLAGS,
    },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) {
    out(LIFECYCLE_HELP);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'run') throw new UsageError(`usage: ${LIFECYCLE_HELP.split('\n')[0] ?? ''}`);
  if (values.account !== undefined && !/^\d{12}$/.test(values.account)) throw new UsageError(`--account must be a 12-digit account id, not "${values.account}"`);
  const config = configOf(serveFlagArgs(tokens), env);
  const dryRun = values['dry-run'] === true;

  const meta: MetaStore = await openMeta(config);
  let storage: StorageDriver | undefined;
  try {
    storage = await openStorage(config);
    const blobs = new BlobStore(storage);
    const registry = new Registry({ meta, blobs, uploads: new UploadStore(storage, blobs), now: Date.now, log: pino({ level: 'silent' }) }, { gc: { gracePeriodSeconds: config.gc.gracePeriod } });
    let runs: Array<{ repository: Repository; result: LifecycleRunResult }>;
    if (values.repository !== undefined) {
      const accountId = values.account ?? (await meta.settings.get('default_account_id'));
      const repo = accountId === undefined ? undefined : await meta.repositories.get(accountId, values.repository);
      if (repo === undefined) {
        err(`berth lifecycle: no repository ${values.repository} in account ${accountId ?? '(none)'}`);
        return 1;
      }
      const result = await registry.lifecycle.run(repo, { dryRun });
      if (result === undefined) {
        err(`berth lifecycle: repository ${repo.name} has no lifecycle policy`);
        return 1;
      }
      runs = [{ repository: repo, result }];
    } else {
      runs = await registry.lifecycle.runAll({ dryRun, ...(values.account !== undefined ? { accountId: values.account } : {}) });
    }
    let total = 0;
    let archived = 0;
    for (const { repository, result } of runs) {
      for (const e of result.expired) out(`${repository.accountId}/${repository.name}\t${e.digest}\t${e.tags.join(',')}\trule ${e.appliedRulePriority}\t${dryRun ? 'would expire' : 'expired'}`);
      for (const e of result.archived) out(`${repository.accountId}/${repository.name}\t${e.digest}\t${e.tags.join(',')}\trule ${e.appliedRulePriority}\t${dryRun ? 'would archive' : 'archived'}`);
      total += result.expired.length;
      archived += result.archived.length;
    }
    const images = (n: number): string => `${n} image${n === 1 ? '' : 's'}`;
    const moved = archived > 0 ? `, ${images(archived)} ${dryRun ? 'would be archived' : 'archived'}` : '';
    out(`${images(total)} ${dryRun ? 'would be expired' : 'expired'}${moved} in ${runs.length} repositor${runs.length === 1 ? 'y' : 'ies'} with a lifecycle policy`);
    return 0;
  } finally {
    await meta.close();
    await storage?.close?.();
  }
}
