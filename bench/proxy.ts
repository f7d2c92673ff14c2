// `--suite proxy`: the pull-through cache against a CNCF Distribution upstream on loopback: time to
// first byte and total time of a 100 MiB layer (a) straight from Distribution, (b) through berth on
// a cold cache (berth fetches it from upstream while it streams it and stores it), (c) through
// berth once cached. Each pull is a manifest GET then the layer GET, as a client does.
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { compose } from '../src/app/compose.ts';
import { loadConfig } from '../src/config/index.ts';
import { RegistryClient } from '../src/upstream/index.ts';
import { distributionMissing, startDistribution } from '../test/helpers/distribution.ts';
import { testImage } from '../test/helpers/images.ts';
import { log } from './workload.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Pull {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  digestOk: boolean;
}

/** GET the manifest, then the layer; time to the layer's first body byte and to its end, from the manifest request. */
async function pull(base: string, repo: string, layer: string, auth?: string): Promise<Pull> {
  const headers = auth === undefined ? {} : { authorization: auth };
  const start = performance.now();
  const m = await fetch(`${base}/v2/${repo}/manifests/latest`, { headers: { ...headers, accept: MANIFEST } });
  if (m.status !== 200) throw new Error(`manifest: ${m.status} ${await m.text()}`);
  await m.arrayBuffer();
  const r = await fetch(`${base}/v2/${repo}/blobs/${layer}`, { headers });
  if (r.status !== 200 || r.body === null) throw new Error(`blob: ${r.status}`);
  const hash = createHash('sha256');
  let ttfb = 0;
  let bytes = 0;
  for await (const chunk of r.body as AsyncIterable<Uint8Array>) {
    if (bytes === 0) ttfb = performance.now() - start;
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { ttfbMs: ttfb, totalMs: performance.now() - start, bytes, digestOk: `sha256:${hash.digest('hex')}` === layer };
}

export async function runProxySuite(opts: { scale: number }, rootDir: string): Promise<{ output: string; json: unknown; failed: boolean }> {
  const missing = distributionMissing();
  if (missing !== false) return { output: `\nberth pull-through cache: not run: ${missing}\n`, json: { skipped: missing }, failed: false };
  const size = Math.max(1024 * 1024, Math.round(100 * 1024 * 1024 * opts.scale));
  const upstream = await startDistribution();
  const dir = join(rootDir, 'proxy-berth');
  await mkdir(dir, { recursive: true });
  const app = await compose(loadConfig({ env: { BERTH_LISTEN: '127.0.0.1:0', BERTH_DATA_DIR: dir, BERTH_LOG_LEVEL: 'silent', BERTH_THROTTLE_ENABLED: 'false', BERTH_GC_ENABLED: 'false' } }), { log: pino({ level: 'silent' }) });
  try {
    const url = (await app.start()).replace('0.0.0.0', '127.0.0.1');
    // The root credentials berth generated for this data dir.
    const creds = JSON.parse(await readFile(join(dir, 'root-credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    const auth = `Basic ${Buffer.from(`${creds.accessKeyId}:${creds.secretAccessKey}`).toString('base64')}`;

    log(`proxy suite: pushing a ${(size / 1024 / 1024).toFixed(0)} MiB layer to Distribution`);
    const client = new RegistryClient({ baseUrl: upstream.url });
    const img = testImage('bench', { layer: randomBytes(size) });
    for (const [digest, bytes] of img.blobs) await client.pushBlob('bench/big', digest, bytes.length, bytes);
    const layer = [...img.blobs.keys()][1] as string;
    await client.putManifest('bench/big', 'latest', img.manifest, MANIFEST);
    const now = Date.now();
    await app.meta.pullThroughCacheRules.create({ accountId: app.boot.accountId, prefix: 'up', upstreamUrl: upstream.url, upstreamRegistry: '', upstreamPrefix: null, credentialArn: null, customRoleArn: null, createdAt: now, updatedAt: now });

    const direct = await pull(upstream.url, 'bench/big', layer);
    const cold = await pull(url, 'up/bench/big', layer, auth);
    // Cached once the import has stored the manifest.
    const repoName = 'up/bench/big';
    for (let i = 0; i < 600; i++) {
      const repo = await app.meta.repositories.get(app.boot.accountId, repoName);
      if (repo !== undefined && (await app.meta.tags.get(repo.id, 'latest')) !== undefined) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cached = await pull(url, repoName, layer, auth);
    const rows: Array<[string, Pull]> = [
      ['Distribution directly', direct],
      ['berth, cold cache (from upstream)', cold],
      ['berth, cached', cached],
    ];
    const mib = size / 1024 / 1024;
    const lines = rows.map(([name, p]) => `| ${name} | ${p.ttfbMs.toFixed(1)} ms | ${p.totalMs.toFixed(0)} ms | ${(mib / (p.totalMs / 1000)).toFixed(0)} MiB/s | ${p.digestOk && p.bytes === size ? 'ok' : 'WRONG'} |`);
    const output = `\nberth pull-through cache (${mib.toFixed(0)} MiB layer, Distribution upstream on loopback; manifest GET then layer GET)\n\n| pull | time to first layer byte | total | throughput | content |\n|---|---|---|---|---|\n${lines.join('\n')}\n`;
    const failed = rows.some(([, p]) => !p.digestOk || p.bytes !== size);
    return { output, json: Object.fromEntries(rows.map(([n, p]) => [n, p])), failed };
  } finally {
    await app.close();
    await upstream.close();
  }
}
