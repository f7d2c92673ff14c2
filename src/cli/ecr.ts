// `berth repo`, `berth image` and `berth login`: the everyday ECR operations for people without the
// AWS CLI, through berth's own ECR API with the AWS SDK (the same requests `aws ecr` sends).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
// The SDK is loaded when one of these commands runs, not on every start of `berth serve`.
import type * as EcrSdk from '@aws-sdk/client-ecr';
import type { ECRClient, ImageDetail, Repository } from '@aws-sdk/client-ecr';

type Sdk = typeof EcrSdk;

export const ECR_HELP = `Everyday registry commands (through berth's ECR API, as the AWS CLI would call it):
  berth repo create NAME [--immutable] [--scan-on-push]
  berth repo list [--page-size N]
  berth repo delete NAME [--force]      --force also deletes the repository's images
  berth image list REPO [--page-size N]
  berth image delete REPO TAG|DIGEST
  berth login                           print a registry password, valid 12 hours:
                                          berth login | podman login -u AWS --password-stdin HOST

Options of these commands:
  --endpoint URL    BERTH_ENDPOINT     default http://127.0.0.1:5000
  --region REGION   AWS_DEFAULT_REGION or BERTH_REGION, default us-east-1
  --data-dir DIR    BERTH_DATA_DIR     where root-credentials.json is, default ./data
  --json            JSON output instead of text tables
  --page-size N     list commands: fetch N entries per request (1-1000, default 1000)
Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), else
BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY, else <data-dir>/root-credentials.json.
`;

/** A usage error: exit status 2 with the message and the help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

interface CommonOptions {
  endpoint: string;
  region: string;
  dataDir: string;
  json: boolean;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** AWS_* variables, else BERTH_ROOT_*, else the credentials file berth wrote on first start. */
export function resolveCredentials(env: NodeJS.ProcessEnv, dataDir: string): Credentials {
  const awsId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const awsSecret = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (awsId !== undefined && awsSecret !== undefined) {
    const token = nonEmpty(env.AWS_SESSION_TOKEN);
    return { accessKeyId: awsId, secretAccessKey: awsSecret, ...(token !== undefined ? { sessionToken: token } : {}) };
  }
  const rootId = nonEmpty(env.BERTH_ROOT_ACCESS_KEY_ID);
  const rootSecret = nonEmpty(env.BERTH_ROOT_SECRET_ACCESS_KEY);
  if (rootId !== undefined && rootSecret !== undefined) return { accessKeyId: rootId, secretAccessKey: rootSecret };
  const file = join(dataDir, 'root-credentials.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(
      `no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY), or point --data-dir at berth's data directory (${file}: ${code === 'ENOENT' ? 'not found' : (e as Error).message})`,
    );
  }
  let saved: { accessKeyId?: unknown; secretAccessKey?: unknown };
  try {
    saved = JSON.parse(text) as { accessKeyId?: unknown; secretAccessKey?: unknown };
  } catch {
    throw new UsageError(`${file} is not valid JSON`);
  }
  if (typeof saved.accessKeyId !== 'string' || typeof saved.secretAccessKey !== 'string') throw new UsageError(`${file} has no accessKeyId and secretAccessKey`);
  return { accessKeyId: saved.accessKeyId, secretAccessKey: saved.secretAccessKey };
}

function commonOptions(values: { endpoint?: string | undefined; region?: string | undefined; 'data-dir'?: string | undefined; json?: boolean | undefined }, env: NodeJS.ProcessEnv): CommonOptions {
  return { ...connection(values, env), json: values.json === true };
}

/** Endpoint, region and data directory of the CLI's API commands: flags, then BERTH_* and AWS_* variables. */
export function connection(values: { endpoint?: string | undefined; region?: string | undefined; 'data-dir'?: string | undefined }, env: NodeJS.ProcessEnv): { endpoint: string; region: string; dataDir: string } {
  const endpoint = values.endpoint ?? nonEmpty(env.BERTH_ENDPOINT) ?? 'http://127.0.0.1:5000';
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`--endpoint must be an http:// or https:// URL, not "${endpoint}"`);
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ''),
    region: values.region ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? nonEmpty(env.BERTH_REGION) ?? 'us-east-1',
    dataDir: values['data-dir'] ?? nonEmpty(env.BERTH_DATA_DIR) ?? './data',
  };
}

/** Text table: a header row and left-aligned columns separated by two spaces. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function when(d: Date | undefined): string {
  return d === undefined ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function humanSize(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u] ?? ''}`;
}

/** The message for a request that could not reach berth (refused, unknown host, reset), or undefined. */
export function unreachable(e: unknown, endpoint: string): string | undefined {
  const cause = (e as { cause?: { code?: string } }).cause;
  const code = (e as { code?: string }).code ?? cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'EHOSTUNREACH') {
    return `berth: cannot reach ${endpoint} (${code}); is berth running there? (--endpoint or BERTH_ENDPOINT)`;
  }
  return undefined;
}

/** JSON without the SDK's $metadata, dates as ISO strings. */
export function json(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => (k === '$metadata' ? undefined : x), 2);
}

const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

async function allRepositories(sdk: Sdk, client: ECRClient, maxResults: number): Promise<Repository[]> {
  const out: Repository[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new sdk.DescribeRepositoriesCommand({ maxResults, ...(nextToken !== undefined ? { nextToken } : {}) }));
    out.push(...(page.repositories ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return out;
}

async function allImages(sdk: Sdk, client: ECRClient, repositoryName: string, maxResults: number): Promise<ImageDetail[]> {
  const out: ImageDetail[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new sdk.DescribeImagesCommand({ repositoryName, maxResults, ...(nextToken !== undefined ? { nextToken } : {}) }));
    out.push(...(page.imageDetails ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return out;
}

function positionals(args: string[], n: number, usage: string): string[] {
  if (args.length !== n) throw new UsageError(`usage: ${usage}`);
  return args;
}

/** `berth repo|image|login ...`; returns the exit status. */
export async function ecrCommand(cmd: string, argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values, positionals: args } = parseArgs({
    args: argv,
    options: {
      endpoint: { type: 'string' },
      region: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
      immutable: { type: 'boolean' },
      'scan-on-push': { type: 'boolean' },
      force: { type: 'boolean' },
      'page-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help === true) {
    out(ECR_HELP);
    return 0;
  }
  const sub = cmd === 'login' ? undefined : args[0];
  const rest = cmd === 'login' ? args : args.slice(1);
  const allowed: Record<string, readonly string[]> = {
    'repo create': ['immutable', 'scan-on-push'],
    'repo delete': ['force'],
    'repo list': ['page-size'],
    'image list': ['page-size'],
    'image delete': [],
    login: [],
  };
  const key = sub === undefined ? cmd : `${cmd} ${sub}`;
  const flags = allowed[key];
  if (flags === undefined) throw new UsageError(sub === undefined ? `usage: berth ${cmd} <command>; see berth --help` : `unknown command "berth ${key}"`);
  for (const f of ['immutable', 'scan-on-push', 'force', 'page-size'] as const) {
    if (values[f] !== undefined && !flags.includes(f)) throw new UsageError(`--${f} is not an option of berth ${key}`);
  }
  const pageSize = values['page-size'] === undefined ? 1000 : Number(values['page-size']);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new UsageError(`--page-size must be an integer from 1 to 1000, not "${values['page-size'] ?? ''}"`);
  const opts = commonOptions(values, env);
  const credentials = resolveCredentials(env, opts.dataDir);
  const sdk = await import('@aws-sdk/client-ecr');
  const client = new sdk.ECRClient({ endpoint: opts.endpoint, region: opts.region, credentials, maxAttempts: 2 });
  try {
    switch (key) {
      case 'repo create': {
        const [name = ''] = positionals(rest, 1, 'berth repo create NAME [--immutable] [--scan-on-push]');
        const r = await client.send(
          new sdk.CreateRepositoryCommand({
            repositoryName: name,
            imageTagMutability: values.immutable === true ? 'IMMUTABLE' : 'MUTABLE',
            imageScanningConfiguration: { scanOnPush: values['scan-on-push'] === true },
          }),
        );
        if (opts.json) out(json(r.repository));
        else out(r.repository?.repositoryUri ?? name);
        return 0;
      }
      case 'repo list': {
        positionals(rest, 0, 'berth repo list');
        const repos = await allRepositories(sdk, client, pageSize);
        if (opts.json) {
          out(json(repos));
          return 0;
        }
        out(
          table(
            ['NAME', 'URI', 'TAGS', 'SCAN ON PUSH', 'CREATED'],
            repos.map((r) => [r.repositoryName ?? '', r.repositoryUri ?? '', r.imageTagMutability ?? '', r.imageScanningConfiguration?.scanOnPush === true ? 'yes' : 'no', when(r.createdAt)]),
          ),
        );
        return 0;
      }
      case 'repo delete': {
        const [name = ''] = positionals(rest, 1, 'berth repo delete NAME [--force]');
        const r = await client.send(new sdk.DeleteRepositoryCommand({ repositoryName: name, force: values.force === true }));
        if (opts.json) out(json(r.repository));
        else out(`deleted ${r.repository?.repositoryName ?? name}`);
        return 0;
      }
      case 'image list': {
        const [repositoryName = ''] = positionals(rest, 1, 'berth image list REPO');
        const images = (await allImages(sdk, client, repositoryName, pageSize)).sort((a, b) => (b.imagePushedAt?.getTime() ?? 0) - (a.imagePushedAt?.getTime() ?? 0));
        if (opts.json) {
          out(json(images));
          return 0;
        }
        out(
          table(
            ['DIGEST', 'TAGS', 'SIZE', 'PUSHED', 'MEDIA TYPE'],
            images.map((i) => [i.imageDigest ?? '', (i.imageTags ?? []).join(',') || '<untagged>', humanSize(i.imageSizeInBytes), when(i.imagePushedAt), i.imageManifestMediaType ?? '']),
          ),
        );
        return 0;
      }
      case 'image delete': {
        const [repositoryName = '', ref = ''] = positionals(rest, 2, 'berth image delete REPO TAG|DIGEST');
        const imageId = DIGEST_RE.test(ref) ? { imageDigest: ref } : { imageTag: ref };
        const r = await client.send(new sdk.BatchDeleteImageCommand({ repositoryName, imageIds: [imageId] }));
        const failures = r.failures ?? [];
        if (opts.json) out(json({ imageIds: r.imageIds ?? [], failures }));
        else {
          for (const id of r.imageIds ?? []) out(`deleted ${repositoryName}${id.imageTag !== undefined ? `:${id.imageTag}` : ''}${id.imageDigest !== undefined ? `@${id.imageDigest}` : ''}`);
          for (const f of failures) err(`berth: ${f.failureCode ?? 'failure'}: ${f.failureReason ?? ''} (${f.imageId?.imageTag ?? f.imageId?.imageDigest ?? ref})`);
        }
        return failures.length > 0 ? 1 : 0;
      }
      case 'login': {
        positionals(rest, 0, 'berth login');
        const r = await client.send(new sdk.GetAuthorizationTokenCommand({}));
        const data = r.authorizationData?.[0];
        const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (data === undefined || colon < 0) {
          err('berth: the registry answered without an authorization token');
          return 1;
        }
        const username = decoded.slice(0, colon);
        const password = decoded.slice(colon + 1);
        if (opts.json) out(json({ username, password, proxyEndpoint: data.proxyEndpoint, expiresAt: data.expiresAt }));
        else out(password);
        return 0;
      }
    }
    throw new UsageError(`unknown command "berth ${key}"`);
  } catch (e) {
    if (e instanceof sdk.ECRServiceException) {
      err(`berth: ${e.name}: ${e.message}`);
      return 1;
    }
    if (e instanceof UsageError) throw e;
    const down = unreachable(e, opts.endpoint);
    if (down !== undefined) {
      err(down);
      return 1;
    }
    throw e;
  } finally {
    client.destroy();
  }
}
