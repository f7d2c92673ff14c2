// `berth vulndb import|status` and `berth sbom`, on the configured stores (beside running servers):
//   berth vulndb import PATH [--name NAME]   OSV advisories from a directory tree, an osv.dev
//                                            `all.zip` export or a JSON file; when something changed,
//                                            continuously scanned images are re-evaluated (a job)
//   berth vulndb status                      sources, advisory count, data generation
//   berth sbom REPO:TAG|REPO@DIGEST [--format cyclonedx|spdx] [--attach] [--account ID]
//                                            the inventory of the image's last scan as an SBOM,
//                                            printed or attached to the image as an OCI referrer
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { Config } from '../config/index.ts';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { openMeta, openStorage } from '../app/stores.ts';
import { MT } from '../core/media-types.ts';
import { Registry } from '../registry/index.ts';
import { BlobStore, UploadStore } from '../storage/index.ts';
import { SqlJobQueue } from '../jobs/index.ts';
import type { MetaStore } from '../meta/index.ts';
import { parseQuarantineSetting } from '../scan/quarantine.ts';
import { toCycloneDx, toSpdx } from '../scan/sbom.ts';
import type { Inventory } from '../scan/types.ts';
import { importAdvisories } from '../scan/vulndb.ts';
import { SERVE_FLAGS, serveFlagArgs } from './flags.ts';
import { UsageError } from './ecr.ts';

export const SCAN_HELP = `Vulnerability data, SBOMs and quarantine (on the stores directly; flags as for serve):
  berth vulndb import PATH [--name NAME]   load OSV advisories (a directory, an osv.dev all.zip, a .json file)
  berth vulndb status                      sources, advisories and the data generation
  berth sbom REPO:TAG|REPO@DIGEST [--format cyclonedx|spdx] [--attach] [--account ID]
                                           the image's inventory (from its last scan) as an SBOM;
                                           --attach stores it as an OCI referrer of the image
  berth quarantine set SEVERITY|OFF [--repository NAME] [--account ID]
                                           refuse pulls of images with findings at or above SEVERITY
                                           (CRITICAL, HIGH, MEDIUM, LOW, ...), registry-wide or for one repository
  berth quarantine exempt|unexempt REPO@DIGEST [--account ID]
                                           let one image be pulled whatever its findings (or no longer)
  berth quarantine show [--account ID]     the registry's and repositories' settings and exemptions`;

type Out = (line: string) => void;
type ConfigOf = (args: string[], env: NodeJS.ProcessEnv) => Config;

export async function vulndbCommand(argv: string[], env: NodeJS.ProcessEnv, out: Out, err: Out, configOf: ConfigOf): Promise<number> {
  const { values, positionals, tokens } = parseArgs({ args: argv, options: { name: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...SERVE_FLAGS }, strict: true, allowPositionals: true, tokens: true });
  if (values.help === true) {
    out(SCAN_HELP);
    return 0;
  }
  const [sub, path] = positionals;
  if (!((sub === 'import' && path !== undefined && positionals.length === 2) || (sub === 'status' && positionals.length === 1))) throw new UsageError(`usage:\n${SCAN_HELP}`);
  const config = configOf(serveFlagArgs(tokens), env);
  const meta: MetaStore = await openMeta(config);
  try {
    if (sub === 'status') {
      const { generation, updatedAt } = await meta.vulns.generation();
      out(`advisories\t${await meta.vulns.count()}`);
      out(`generation\t${generation}\t${updatedAt === undefined ? 'never updated' : new Date(updatedAt).toISOString()}`);
      for (const s of await meta.vulns.sources()) out(`source\t${s.name}\t${s.records} records\t${s.errors} errors\t${new Date(s.importedAt).toISOString()}\t${s.location}`);
      return 0;
    }
    let result;
    try {
      result = await importAdvisories(meta, path as string, values.name !== undefined ? { name: values.name } : {});
    } catch (e) {
      err(`berth vulndb import: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    for (const e of result.errors.slice(0, 20)) err(`berth vulndb import: ${e.file}: ${e.error}`);
    if (result.errors.length > 20) err(`berth vulndb import: ... and ${result.errors.length - 20} more errors`);
    if (result.changed > 0) {
      // The servers' workers re-evaluate stored inventories against the new data.
      const jobs = new SqlJobQueue(meta, { log: pino({ level: 'silent' }) });
      await jobs.enqueue({ kind: 'scan.rescan', dedupeKey: 'scan.rescan' });
    }
    out(`${result.records} advisories read, ${result.changed} new or changed, ${result.errors.length} errors; data generation ${result.generation}`);
    return result.records === 0 && result.errors.length > 0 ? 1 : 0;
  } finally {
    await meta.close();
  }
}

export async function sbomCommand(argv: string[], env: NodeJS.ProcessEnv, out: Out, err: Out, configOf: ConfigOf): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: { format: { type: 'string' }, account: { type: 'string' }, attach: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...SERVE_FLAGS },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) {
    out(SCAN_HELP);
    return 0;
  }
  const format = values.format ?? 'cyclonedx';
  if (format !== 'cyclonedx' && format !== 'spdx') throw new UsageError(`--format must be cyclonedx or spdx, not "${format}"`);
  const ref = positionals[0];
  if (ref === undefined || positionals.length !== 1) throw new UsageError(`usage:\n${SCAN_HELP}`);
  const at = ref.lastIndexOf('@');
  const colon = ref.lastIndexOf(':');
  const [name, reference] = at > 0 ? [ref.slice(0, at), ref.slice(at + 1)] : colon > 0 ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  const config = configOf(serveFlagArgs(tokens), env);
  const meta: MetaStore = await openMeta(config);
  try {
    const accountId = values.account ?? (await meta.settings.get('default_account_id'));
    const repo = accountId === undefined ? undefined : await meta.repositories.get(accountId, name);
    if (repo === undefined) {
      err(`berth sbom: no repository ${name} in account ${accountId ?? '(none)'}`);
      return 1;
    }
    const digest = reference.includes(':') ? reference : await meta.tags.get(repo.id, reference);
    if (digest === undefined) {
      err(`berth sbom: no image ${reference} in ${name}`);
      return 1;
    }
    const scan = await meta.scans.get(repo.id, digest);
    if (scan?.status !== 'COMPLETE' || scan.inventory === null) {
      err(`berth sbom: ${name}@${digest} has no completed scan (aws ecr start-image-scan makes one)`);
      return 1;
    }
    const inventory = scan.inventory as Inventory;
    const tags = await meta.tags.forDigest(repo.id, digest);
    const image = { repository: name, digest, tags, ...(config.publicUrl !== undefined ? { registryUrl: config.publicUrl } : {}) };
    const doc = JSON.stringify(format === 'spdx' ? toSpdx(image, inventory) : toCycloneDx(image, inventory), null, 2);
    if (values.attach !== true) {
      out(doc);
      return 0;
    }
    // Attached as an OCI referrer of the image (an artifact manifest whose subject is the image).
    const storage = await openStorage(config);
    try {
      const blobs = new BlobStore(storage);
      const registry = new Registry({ meta, blobs, uploads: new UploadStore(storage, blobs), now: Date.now, log: pino({ level: 'silent' }) }, { gc: { gracePeriodSeconds: config.gc.gracePeriod } });
      const artifactType = format === 'spdx' ? 'application/spdx+json' : 'application/vnd.cyclonedx+json';
      const layer = Buffer.from(doc);
      const empty = Buffer.from('{}');
      const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
      await registry.uploads.monolithic(repo, digestOf(layer), Readable.from([layer]));
      await registry.uploads.monolithic(repo, digestOf(empty), Readable.from([empty]));
      const subject = await meta.manifests.getMeta(repo.id, digest);
      if (subject === undefined) throw new Error(`${digest} is no longer in ${name}`);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.ociManifest,
          artifactType,
          config: { mediaType: MT.ociEmpty, digest: digestOf(empty), size: empty.length },
          layers: [{ mediaType: artifactType, digest: digestOf(layer), size: layer.length }],
          subject: { mediaType: subject.mediaType, digest, size: subject.size },
          annotations: { 'org.opencontainers.image.created': new Date().toISOString(), 'dev.berth.sbom.format': format },
        }),
      );
      const put = await registry.manifests.put({ accountId: repo.accountId, name }, digestOf(manifest), manifest, MT.ociManifest);
      out(`${name}@${put.digest}: ${format} SBOM attached to ${digest}`);
      return 0;
    } finally {
      await storage.close?.();
    }
  } finally {
    await meta.close();
  }
}

export async function quarantineCommand(argv: string[], env: NodeJS.ProcessEnv, out: Out, err: Out, configOf: ConfigOf): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: { repository: { type: 'string' }, account: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...SERVE_FLAGS },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) {
    out(SCAN_HELP);
    return 0;
  }
  const [sub, arg] = positionals;
  const usage = new UsageError(`usage:\n${SCAN_HELP}`);
  if (sub === undefined || !['set', 'exempt', 'unexempt', 'show'].includes(sub) || (sub !== 'show' && (arg === undefined || positionals.length !== 2))) throw usage;
  const config = configOf(serveFlagArgs(tokens), env);
  const meta: MetaStore = await openMeta(config);
  try {
    const accountId = values.account ?? (await meta.settings.get('default_account_id'));
    if (accountId === undefined) {
      err('berth quarantine: no account');
      return 1;
    }
    const now = Date.now();
    const repository = async (name: string) => {
      const repo = await meta.repositories.get(accountId, name);
      if (repo === undefined) err(`berth quarantine: no repository ${name} in account ${accountId}`);
      return repo;
    };
    if (sub === 'set') {
      const setting = parseQuarantineSetting(arg as string);
      if (setting === undefined) throw new UsageError(`the severity must be CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED or OFF, not "${arg as string}"`);
      if (values.repository === undefined) {
        await meta.accountPolicies.put(accountId, 'quarantine', setting === 'OFF' ? null : setting, now);
        out(`registry ${accountId}: quarantine ${setting === 'OFF' ? 'off' : `at ${setting} and above`}`);
        return 0;
      }
      const repo = await repository(values.repository);
      if (repo === undefined) return 1;
      await meta.repositories.putPolicyText(repo.id, 'quarantine', setting, now);
      out(`repository ${repo.name}: quarantine ${setting === 'OFF' ? 'off' : `at ${setting} and above`}`);
      return 0;
    }
    if (sub === 'exempt' || sub === 'unexempt') {
      const at = (arg as string).lastIndexOf('@');
      if (at <= 0) throw new UsageError(`name the image as REPO@DIGEST, not "${arg as string}"`);
      const repo = await repository((arg as string).slice(0, at));
      if (repo === undefined) return 1;
      const digest = (arg as string).slice(at + 1);
      const current = JSON.parse((await meta.repositories.policyText(repo.id, 'quarantine-exemptions')) ?? '[]') as string[];
      const next = sub === 'exempt' ? [...new Set([...current, digest])] : current.filter((d) => d !== digest);
      await meta.repositories.putPolicyText(repo.id, 'quarantine-exemptions', next.length === 0 ? null : JSON.stringify(next), now);
      out(`${repo.name}@${digest}: ${sub === 'exempt' ? 'exempt from quarantine' : 'no longer exempt'}`);
      return 0;
    }
    out(`registry ${accountId}\t${(await meta.accountPolicies.get(accountId, 'quarantine')) ?? 'OFF'}`);
    for (const kind of ['quarantine', 'quarantine-exemptions'] as const) {
      for (const repo of await meta.repositories.withPolicy(kind, { limit: 1000 })) {
        if (repo.accountId !== accountId) continue;
        out(`repository ${repo.name}\t${kind === 'quarantine' ? 'setting' : 'exempt'}\t${(await meta.repositories.policyText(repo.id, kind)) ?? ''}`);
      }
    }
    return 0;
  } finally {
    await meta.close();
  }
}
