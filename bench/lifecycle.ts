// The lifecycle suite (`--suite lifecycle`): what lifecycle policies and garbage collection cost at
// the sizes issue 5 names, on berth's default stores (SQLite and the filesystem):
//   - the engine alone: a three-rule policy evaluated over 100,000 images (pure computation);
//   - a preview on a repository of 100,000 images (reading the images from the database, then the
//     engine);
//   - one collector pass after deleting 10,000 of the 100,000 images (each with its own layer):
//     the links, then the blobs (bytes and rows) that nobody references any more.
// The images are written straight into the stores (rows and small blob files), not pushed: this
// measures the policy and the collector, not the push path. --scale shrinks the counts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { compose } from '../src/app/compose.ts';
import { loadConfig } from '../src/config/index.ts';
import { evaluateLifecyclePolicy, parseLifecyclePolicy, type LifecycleImage } from '../src/lifecycle/index.ts';
import { blobKey } from '../src/storage/paths.ts';
import { formatMs } from './report.ts';
import { log } from './workload.ts';

const DAY = 86_400_000;
const MT = 'application/vnd.oci.image.manifest.v1+json';

const POLICY = JSON.stringify({
  rules: [
    { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } },
    { rulePriority: 2, selection: { tagStatus: 'tagged', tagPatternList: ['release-*'], countType: 'imageCountMoreThan', countNumber: 500 }, action: { type: 'expire' } },
    { rulePriority: 3, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 5000 }, action: { type: 'expire' } },
  ],
});

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export async function runLifecycleSuite(opts: { scale: number }, rootDir: string): Promise<{ output: string; json: unknown; failed: boolean }> {
  const images = Math.max(1000, Math.round(100_000 * opts.scale));
  const deleted = Math.round(images / 10);
  const base = Date.UTC(2026, 0, 1);

  // 1. The engine alone.
  const policy = parseLifecyclePolicy(POLICY);
  const synthetic: LifecycleImage[] = Array.from({ length: images }, (_, i) => ({
    digest: sha256(`image-${i}`),
    tags: i % 3 === 0 ? [] : [i % 3 === 1 ? `release-${i}` : `dev-${i}`],
    pushedAt: base + i * 60_000,
    storageClass: 'standard',
  }));
  const engineRuns: number[] = [];
  let selected = 0;
  for (let r = 0; r < 3; r++) {
    const t = await timed(() => evaluateLifecyclePolicy(policy, synthetic, base + images * 60_000 + 30 * DAY));
    engineRuns.push(t.ms);
    selected = t.value.length;
  }
  engineRuns.sort((a, b) => a - b);
  log(`lifecycle suite: engine over ${images} images: ${formatMs(engineRuns[1] ?? 0)} (${selected} selected)`);

  // 2 and 3. A repository of `images` images in the stores, a preview, deletes and a collector pass.
  const dir = join(rootDir, 'lifecycle-berth');
  mkdirSync(dir, { recursive: true });
  let clock = base;
  const config = loadConfig({ env: { BERTH_LISTEN: '127.0.0.1:0', BERTH_DATA_DIR: dir, BERTH_LOG_LEVEL: 'silent', BERTH_THROTTLE_ENABLED: 'false', BERTH_GC_ENABLED: 'false' } });
  const app = await compose(config, { log: pino({ level: 'silent' }), now: () => clock });
  try {
    const accountId = app.boot.accountId;
    const { repository: repo } = await app.meta.repositories.ensure(accountId, 'bench/lifecycle', clock);
    const config0 = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    await app.storage.put(blobKey(sha256(config0)), config0);
    await app.meta.blobs.put(sha256(config0), config0.length, clock);
    await app.meta.blobs.link(repo.id, sha256(config0), clock);
    const digests: string[] = [];
    const fill = await timed(async () => {
      for (let at = 0; at < images; at += 1000) {
        const batch: Array<{ layer: Buffer; manifest: Buffer; tag: string | undefined }> = [];
        for (let i = at; i < Math.min(at + 1000, images); i++) {
          const layer = randomBytes(64);
          const manifest = Buffer.from(
            JSON.stringify({ schemaVersion: 2, mediaType: MT, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config0), size: config0.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }] }),
          );
          batch.push({ layer, manifest, tag: i % 3 === 0 ? undefined : i % 3 === 1 ? `release-${i}` : `dev-${i}` });
        }
        for (const b of batch) await app.storage.put(blobKey(sha256(b.layer)), b.layer);
        await app.meta.transaction(async (tx) => {
          for (const [k, b] of batch.entries()) {
            const pushedAt = base + (at + k) * 60_000;
            await tx.blobs.put(sha256(b.layer), b.layer.length, pushedAt);
            await tx.blobs.link(repo.id, sha256(b.layer), pushedAt);
            const digest = sha256(b.manifest);
            await tx.manifests.put({ repositoryId: repo.id, digest, mediaType: MT, size: b.manifest.length, artifactType: null, subjectDigest: null, configDigest: sha256(config0), annotations: null, body: b.manifest, pushedAt, references: [{ childDigest: sha256(config0), kind: 'blob' }, { childDigest: sha256(b.layer), kind: 'blob' }] });
            if (b.tag !== undefined) await tx.tags.put(repo.id, b.tag, digest, pushedAt);
            digests.push(digest);
          }
        });
      }
    });
    log(`lifecycle suite: ${images} images written in ${formatMs(fill.ms)}`);
    // The links the fill queued are not garbage: take them out, as a registry at rest would have.
    clock = base + images * 60_000 + 2 * DAY;
    await app.registry.gc.collect();

    clock = base + images * 60_000 + 30 * DAY;
    const preview = await timed(async () => await app.registry.lifecycle.preview(repo, POLICY));
    log(`lifecycle suite: preview over ${images} images: ${formatMs(preview.ms)} (${preview.value.results.length} selected)`);

    const del = await timed(async () => {
      for (let i = 0; i < deleted; i++) await app.registry.manifests.delete(repo, digests[i * 10] ?? '');
    });
    log(`lifecycle suite: ${deleted} images deleted in ${formatMs(del.ms)}`);
    clock += 2 * DAY; // past the grace period
    let passes = 0;
    let linksRemoved = 0;
    let blobsRemoved = 0;
    let bytesFreed = 0;
    const gc = await timed(async () => {
      for (;;) {
        const r = await app.registry.gc.collect();
        passes++;
        linksRemoved += r.linksRemoved;
        blobsRemoved += r.blobsRemoved;
        bytesFreed += r.bytesFreed;
        if (r.candidates === 0 || passes > 10) return;
      }
    });
    log(`lifecycle suite: collection after ${deleted} deletes: ${formatMs(gc.ms)} (${passes} passes, ${linksRemoved} links, ${blobsRemoved} blobs, ${bytesFreed} bytes)`);
    const failed = blobsRemoved !== deleted;
    const lines = [
      '',
      `Lifecycle policies and garbage collection (berth, SQLite + filesystem, ${images} images)`,
      '',
      '| operation | time |',
      '|---|---|',
      `| engine: 3-rule policy over ${images} images (median of 3) | ${formatMs(engineRuns[1] ?? 0)} |`,
      `| preview: read ${images} images from the database and evaluate | ${formatMs(preview.ms)} |`,
      `| delete ${deleted} images (BatchDeleteImage's path, one by one) | ${formatMs(del.ms)} |`,
      `| collect: ${linksRemoved} links and ${blobsRemoved} blobs (${bytesFreed} bytes) in ${passes} passes | ${formatMs(gc.ms)} |`,
      '',
    ];
    if (failed) lines.push(`FAILED: ${blobsRemoved} blobs collected, ${deleted} expected`, '');
    return { output: `${lines.join('\n')}\n`, json: { images, deleted, engineMs: engineRuns[1], previewMs: preview.ms, deleteMs: del.ms, gcMs: gc.ms, passes, linksRemoved, blobsRemoved, bytesFreed }, failed };
  } finally {
    await app.close();
  }
}
