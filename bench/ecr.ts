// The ECR suite (`--suite ecr`): what berth's ECR JSON API costs next to its own /v2/ and next to
// CNCF Distribution's /v2/ for the same kind of work, in the same run:
//   - small requests at concurrency 8: DescribeRepositories and BatchGetImage (the API's manifest
//     read) signed with SigV4 by the AWS SDK, against a /v2/ manifest GET with an access key, with
//     a GetAuthorizationToken login token, and on Distribution (no authentication);
//   - layer uploads: the layer API (InitiateLayerUpload, UploadLayerPart in 10 MiB parts,
//     CompleteLayerUpload) against /v2/ chunked uploads in 10 MiB PATCHes, on berth and Distribution.
// The client runs in this process on the same two cores, so SigV4 signing is part of the cost.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  BatchGetImageCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  InitiateLayerUploadCommand,
  UploadLayerPartCommand,
} from '@aws-sdk/client-ecr';
import { AttachRolePolicyCommand, AttachUserPolicyCommand, CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { formatMs, summarize, type LatencySummary } from './report.ts';
import { startBerth, startDistribution, type ServerHandle } from './servers.ts';
import { log } from './workload.ts';

const MiB = 1024 * 1024;
const PART = 10 * MiB;
const REPO = 'bench/ecr';

export interface EcrOptions {
  scale: number;
  distributionBin: string;
}

interface RateResult {
  label: string;
  requests: number;
  perSecond: number;
  latency: LatencySummary;
}

interface UploadResult {
  label: string;
  layers: number;
  bytes: number;
  mbPerSec: number;
  latency: LatencySummary;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** `total` calls of `fn`, `concurrency` at a time: rate and per-call latency. */
async function rate(label: string, total: number, concurrency: number, fn: () => Promise<void>): Promise<RateResult> {
  for (let i = 0; i < Math.min(50, total); i++) await fn(); // warm-up: connections, caches, JIT
  const times: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const t0 = performance.now();
        await fn();
        times.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { label, requests: total, perSecond: total / seconds, latency: summarize(times) };
}

async function ok(r: Response, what: string): Promise<Response> {
  if (!r.ok) throw new Error(`${what}: HTTP ${r.status} ${(await r.text()).slice(0, 300)}`);
  return r;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Pushes a small image (one 1 KiB layer) as `REPO:v1` through /v2/; returns the manifest digest. */
async function seedImage(url: string, auth: string | undefined): Promise<string> {
  const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
  const blobs = [Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), randomBytes(1024)];
  for (const b of blobs) {
    // POST then PUT: Distribution does not take the one-request (POST ?digest=) form.
    const start = await ok(await fetch(`${url}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers }), 'upload POST');
    await start.arrayBuffer();
    const put = new URL(start.headers.get('location') ?? '', url);
    put.searchParams.set('digest', sha256(b));
    await (await ok(await fetch(put, { method: 'PUT', body: b, headers: { ...headers, 'content-type': 'application/octet-stream' } }), 'blob PUT')).arrayBuffer();
  }
  const [config, layer] = blobs as [Buffer, Buffer];
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  });
  await (await ok(await fetch(`${url}/v2/${REPO}/manifests/v1`, { method: 'PUT', body: manifest, headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }), 'manifest push')).arrayBuffer();
  return sha256(Buffer.from(manifest));
}

async function getManifest(url: string, auth: string | undefined): Promise<void> {
  const r = await ok(await fetch(`${url}/v2/${REPO}/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json', ...(auth === undefined ? {} : { authorization: auth }) } }), 'manifest GET');
  await r.arrayBuffer();
}

/** A /v2/ chunked upload of `data` in PART-sized PATCHes. */
async function uploadV2(url: string, auth: string | undefined, data: Buffer): Promise<void> {
  const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
  const start = await ok(await fetch(`${url}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers }), 'upload POST');
  await start.arrayBuffer();
  let location = new URL(start.headers.get('location') ?? '', url).toString();
  for (let at = 0; at < data.length; at += PART) {
    const chunk = data.subarray(at, Math.min(at + PART, data.length));
    const r = await ok(
      await fetch(location, { method: 'PATCH', body: chunk, headers: { ...headers, 'content-type': 'application/octet-stream', 'content-range': `${at}-${at + chunk.length - 1}` } }),
      'upload PATCH',
    );
    await r.arrayBuffer();
    location = new URL(r.headers.get('location') ?? '', url).toString();
  }
  const done = new URL(location);
  done.searchParams.set('digest', sha256(data));
  await (await ok(await fetch(done, { method: 'PUT', headers }), 'upload PUT')).arrayBuffer();
}

/** The layer API: initiate, PART-sized parts, complete. */
async function uploadApi(ecr: ECRClient, data: Buffer): Promise<void> {
  const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: REPO }));
  for (let at = 0; at < data.length; at += PART) {
    const end = Math.min(at + PART, data.length);
    await ecr.send(new UploadLayerPartCommand({ repositoryName: REPO, uploadId, partFirstByte: at, partLastByte: end - 1, layerPartBlob: data.subarray(at, end) }));
  }
  await ecr.send(new CompleteLayerUploadCommand({ repositoryName: REPO, uploadId, layerDigests: [sha256(data)] }));
}

async function uploads(label: string, count: number, size: number, fn: (data: Buffer) => Promise<void>): Promise<UploadResult> {
  const layers = Array.from({ length: count }, () => randomBytes(size));
  await fn(randomBytes(size)); // warm-up
  const times: number[] = [];
  const start = performance.now();
  for (const data of layers) {
    const t0 = performance.now();
    await fn(data);
    times.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  return { label, layers: count, bytes: count * size, mbPerSec: (count * size) / 1e6 / seconds, latency: summarize(times) };
}

/**
 * An IAM user with AWS's ReadOnly policy (Basic with its access key) and a role session with the
 * same policy (its login token): what policy evaluation costs for principals other than root.
 */
async function iamPrincipals(url: string, user: string, password: string): Promise<{ userAuth: string; roleTokenAuth: string }> {
  const credentials = { accessKeyId: user, secretAccessKey: password };
  const iam = new IAMClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });
  try {
    const readOnly = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
    const u = await iam.send(new CreateUserCommand({ UserName: 'bench-reader' }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'bench-reader', PolicyArn: readOnly }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'bench-reader' }));
    const userKey = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: u.User?.Arn }, Action: 'sts:AssumeRole' }] });
    const role = await iam.send(new CreateRoleCommand({ RoleName: 'bench-puller', AssumeRolePolicyDocument: trust }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'bench-puller', PolicyArn: readOnly }));
    const sts = new STSClient({ endpoint: url, region: 'us-east-1', credentials: userKey, maxAttempts: 1 });
    const s = await sts.send(new AssumeRoleCommand({ RoleArn: role.Role?.Arn, RoleSessionName: 'bench' }));
    sts.destroy();
    const session = new ECRClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: s.Credentials?.AccessKeyId ?? '', secretAccessKey: s.Credentials?.SecretAccessKey ?? '', sessionToken: s.Credentials?.SessionToken ?? '' },
      maxAttempts: 1,
    });
    const token = (await session.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken ?? '';
    session.destroy();
    return { userAuth: basic(userKey.accessKeyId, userKey.secretAccessKey), roleTokenAuth: `Basic ${token}` };
  } finally {
    iam.destroy();
  }
}

export async function runEcrSuite(opts: EcrOptions, rootDir: string): Promise<{ output: string; json: unknown; failed: boolean }> {
  const requests = Math.max(100, Math.round(4000 * opts.scale));
  const layerSize = Math.max(PART, Math.round(64 * MiB * opts.scale));
  const layerCount = 4;
  const rates: RateResult[] = [];
  const ups: UploadResult[] = [];
  let berth: ServerHandle | undefined;
  let dist: ServerHandle | undefined;
  let ecr: ECRClient | undefined;
  try {
    const berthDir = join(rootDir, 'ecr-berth');
    mkdirSync(berthDir, { recursive: true });
    berth = await startBerth(berthDir);
    const creds = berth.basicAuth;
    if (creds === undefined) throw new Error('berth has no credentials');
    ecr = new ECRClient({ endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: creds.user, secretAccessKey: creds.password }, maxAttempts: 1 });
    await ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    const keyAuth = basic(creds.user, creds.password);
    await seedImage(berth.url, keyAuth);
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken ?? '';
    const tokenAuth = `Basic ${token}`;
    const client = ecr;
    const principals = await iamPrincipals(berth.url, creds.user, creds.password);

    log(`ecr suite: ${requests} requests per case at concurrency 8`);
    rates.push(await rate('berth ECR API DescribeRepositories (SigV4)', requests, 8, async () => void (await client.send(new DescribeRepositoriesCommand({ repositoryNames: [REPO] })))));
    rates.push(await rate('berth ECR API BatchGetImage (SigV4)', requests, 8, async () => void (await client.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] })))));
    rates.push(await rate('berth /v2/ manifest GET, access key', requests, 8, () => getManifest(berth?.url ?? '', keyAuth)));
    rates.push(await rate('berth /v2/ manifest GET, login token', requests, 8, () => getManifest(berth?.url ?? '', tokenAuth)));
    rates.push(await rate('berth /v2/ manifest GET, IAM user (managed ReadOnly), access key', requests, 8, () => getManifest(berth?.url ?? '', principals.userAuth)));
    rates.push(await rate('berth /v2/ manifest GET, assumed role session, login token', requests, 8, () => getManifest(berth?.url ?? '', principals.roleTokenAuth)));

    log(`ecr suite: ${layerCount} layers of ${layerSize / MiB} MiB in ${PART / MiB} MiB parts`);
    ups.push(await uploads('berth layer API (UploadLayerPart)', layerCount, layerSize, (d) => uploadApi(client, d)));
    ups.push(await uploads('berth /v2/ chunked PATCH', layerCount, layerSize, (d) => uploadV2(berth?.url ?? '', keyAuth, d)));
    await berth.stop();
    berth = undefined;

    const distDir = join(rootDir, 'ecr-distribution');
    mkdirSync(distDir, { recursive: true });
    dist = await startDistribution(opts.distributionBin, distDir);
    await seedImage(dist.url, undefined);
    rates.push(await rate('Distribution /v2/ manifest GET, no auth', requests, 8, () => getManifest(dist?.url ?? '', undefined)));
    ups.push(await uploads('Distribution /v2/ chunked PATCH', layerCount, layerSize, (d) => uploadV2(dist?.url ?? '', undefined, d)));
    await dist.stop();
    dist = undefined;
  } finally {
    ecr?.destroy();
    await berth?.stop();
    await dist?.stop();
  }

  const lines = ['', 'ECR API (berth) next to /v2/ (berth and CNCF Distribution), same machine, same run', ''];
  lines.push('| small requests, concurrency 8 | requests/s | p50 | p99 |', '|---|---|---|---|');
  for (const r of rates) lines.push(`| ${r.label} | ${r.perSecond.toFixed(0)} | ${formatMs(r.latency.p50Ms)} | ${formatMs(r.latency.p99Ms)} |`);
  lines.push('', `| upload ${layerCount} x ${(layerSize / MiB).toFixed(0)} MiB, ${PART / MiB} MiB parts | MB/s | p50 per layer | p99 per layer |`, '|---|---|---|---|');
  for (const u of ups) lines.push(`| ${u.label} | ${u.mbPerSec.toFixed(1)} | ${formatMs(u.latency.p50Ms)} | ${formatMs(u.latency.p99Ms)} |`);
  lines.push('');
  return { output: `${lines.join('\n')}\n`, json: { rates, uploads: ups }, failed: false };
}
