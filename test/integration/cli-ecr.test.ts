// `berth repo`, `berth image` and `berth login` against a real berth server (a child process with
// strict ECR errors), called through main() with injected output and environment, and once as a
// child process (bin/berth) to show the commands work from a shell.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { main } from '../../src/cli/main.ts';
import { humanSize, table } from '../../src/cli/ecr.ts';
import { childEnv, freePort, repoRoot, startServer, type RunningServer } from '../helpers/server.ts';
import { run } from '../e2e/support.ts';

interface Result {
  code: number;
  out: string;
  err: string;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

describe('berth repo / image / login', () => {
  let server: RunningServer;
  let work: string;
  let ecr: ECRClient;
  /** Environment with the server's endpoint and root credentials as AWS_* variables. */
  let env: NodeJS.ProcessEnv;

  async function berth(args: string[], e: NodeJS.ProcessEnv = env): Promise<Result> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: e });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async function ok(args: string[], e?: NodeJS.ProcessEnv): Promise<string> {
    const r = await berth(args, e);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}\nserver:\n${server.output().slice(-4000)}`);
    return r.out;
  }

  async function v2(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}, auth?: string): Promise<Response> {
    const basic = auth ?? `Basic ${Buffer.from(`${server.accessKeyId}:${server.secretAccessKey}`).toString('base64')}`;
    return await fetch(`${server.url}${path}`, { method, headers: { authorization: basic, ...headers }, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
  }

  /** Pushes a small OCI image (config + one layer) and returns its manifest digest. */
  async function pushImage(repo: string, tag: string): Promise<string> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed: randomBytes(8).toString('hex') }));
    const layer = randomBytes(2048);
    for (const blob of [config, layer]) {
      const start = await v2('POST', `/v2/${repo}/blobs/uploads/`);
      assert.equal(start.status, 202, await start.text());
      const loc = start.headers.get('location') ?? '';
      const put = await v2('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, blob, { 'content-type': 'application/octet-stream' });
      assert.equal(put.status, 201, await put.text());
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
      }),
    );
    const r = await v2('PUT', `/v2/${repo}/manifests/${tag}`, manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    assert.equal(r.status, 201, await r.text());
    return sha256(manifest);
  }

  before(async () => {
    server = await startServer({ env: { BERTH_STRICT_ERRORS: '1' } });
    work = await mkdtemp(join(tmpdir(), 'berth-cli-ecr-'));
    env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, BERTH_ENDPOINT: server.url };
    ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, maxAttempts: 1 });
  });

  after(async () => {
    ecr.destroy();
    await server.stop();
    server.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  test('--help lists the commands and their options', async () => {
    const help = await ok(['--help']);
    for (const s of ['berth repo create NAME [--immutable] [--scan-on-push]', 'berth repo list', 'berth repo delete NAME [--force]', 'berth image list REPO', 'berth image delete REPO TAG|DIGEST', 'berth login', '--endpoint URL', 'BERTH_ENDPOINT', '--json', 'podman login -u AWS --password-stdin']) {
      assert.ok(help.includes(s), `--help mentions ${s}`);
    }
    assert.match(await ok(['repo', '--help']), /berth repo create/);
  });

  test('repo create: prints the repository URI; --immutable and --scan-on-push are stored', async () => {
    const uri = await ok(['repo', 'create', 'cli/plain']);
    assert.equal(uri, `${server.host}/cli/plain`);
    const doc = JSON.parse(await ok(['repo', 'create', 'cli/strict', '--immutable', '--scan-on-push', '--json'])) as Record<string, unknown>;
    assert.equal(doc.repositoryName, 'cli/strict');
    assert.equal(doc.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(doc.imageScanningConfiguration, { scanOnPush: true });
    assert.equal(doc.$metadata, undefined);
    const out = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['cli/plain', 'cli/strict'] }));
    const byName = new Map((out.repositories ?? []).map((r) => [r.repositoryName, r]));
    assert.equal(byName.get('cli/plain')?.imageTagMutability, 'MUTABLE');
    assert.equal(byName.get('cli/plain')?.imageScanningConfiguration?.scanOnPush, false);
    assert.equal(byName.get('cli/strict')?.imageTagMutability, 'IMMUTABLE');
    assert.equal(byName.get('cli/strict')?.imageScanningConfiguration?.scanOnPush, true);
  });

  test('repo create of an existing or invalid name: the ECR exception, exit 1', async () => {
    await ok(['repo', 'create', 'cli/twice']);
    const again = await berth(['repo', 'create', 'cli/twice']);
    assert.equal(again.code, 1);
    assert.match(again.err, /^berth: RepositoryAlreadyExistsException: .*cli\/twice/);
    const bad = await berth(['repo', 'create', 'Invalid_Name']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^berth: InvalidParameterException: /);
  });

  test('repo list: a table of every repository, or JSON; pages through the API', async () => {
    for (const n of ['cli/list-a', 'cli/list-b', 'cli/list-c']) await ok(['repo', 'create', n]);
    const text = await ok(['repo', 'list']);
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+URI\s+TAGS\s+SCAN ON PUSH\s+CREATED$/);
    for (const n of ['cli/list-a', 'cli/list-b', 'cli/list-c', 'cli/strict']) {
      const row = lines.find((l) => l.startsWith(`${n} `));
      assert.ok(row !== undefined, `${n} listed:\n${text}`);
      assert.ok(row.includes(`${server.host}/${n}`));
      assert.match(row, /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    }
    assert.match(lines.find((l) => l.startsWith('cli/strict ')) ?? '', /IMMUTABLE\s+yes/);
    const all = JSON.parse(await ok(['repo', 'list', '--json'])) as Array<{ repositoryName: string; createdAt: string }>;
    const names = all.map((r) => r.repositoryName);
    for (const n of ['cli/list-a', 'cli/list-b', 'cli/list-c']) assert.ok(names.includes(n));
    assert.match(all[0]?.createdAt ?? '', /^\d{4}-\d{2}-\d{2}T/);
    // One repository per request: the same list, fetched page by page.
    const paged = JSON.parse(await ok(['repo', 'list', '--json', '--page-size', '1'])) as Array<{ repositoryName: string }>;
    assert.deepEqual(
      paged.map((r) => r.repositoryName),
      names,
    );
    assert.ok(names.length >= 4);
  });

  test('image list: digests, tags, sizes and push times; image delete by tag and by digest', async () => {
    await ok(['repo', 'create', 'cli/images']);
    const d1 = await pushImage('cli/images', 'one');
    const d2 = await pushImage('cli/images', 'two');
    const put = await v2('PUT', `/v2/cli/images/manifests/also-two`, Buffer.from(await (await v2('GET', `/v2/cli/images/manifests/two`, undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' })).arrayBuffer()), {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    });
    assert.equal(put.status, 201);

    const text = await ok(['image', 'list', 'cli/images']);
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^DIGEST\s+TAGS\s+SIZE\s+PUSHED\s+MEDIA TYPE$/);
    const row1 = lines.find((l) => l.startsWith(d1));
    const row2 = lines.find((l) => l.startsWith(d2));
    assert.ok(row1 !== undefined && row2 !== undefined, text);
    assert.match(row1, new RegExp(`^${d1}\\s+one\\s+\\d`));
    assert.match(row2, /\s(also-two,two|two,also-two)\s/);
    assert.ok(row1.includes('application/vnd.oci.image.manifest.v1+json'));

    const images = JSON.parse(await ok(['image', 'list', 'cli/images', '--json'])) as Array<{ imageDigest: string; imageTags?: string[]; imageSizeInBytes: number; imagePushedAt: string }>;
    assert.deepEqual(images.map((i) => i.imageDigest).sort(), [d1, d2].sort());
    assert.ok(images.every((i) => i.imageSizeInBytes === 2048), `ECR sizes an image as the sum of its layers: ${JSON.stringify(images)}`);
    const paged = JSON.parse(await ok(['image', 'list', 'cli/images', '--json', '--page-size', '1'])) as Array<{ imageDigest: string }>;
    assert.deepEqual(paged.map((i) => i.imageDigest).sort(), [d1, d2].sort());

    // By tag: the tag goes, the image stays while it has another tag.
    assert.equal(await ok(['image', 'delete', 'cli/images', 'also-two']), `deleted cli/images:also-two@${d2}`);
    const after1 = JSON.parse(await ok(['image', 'list', 'cli/images', '--json'])) as Array<{ imageDigest: string; imageTags?: string[] }>;
    assert.deepEqual(after1.find((i) => i.imageDigest === d2)?.imageTags, ['two']);
    // By digest: the image and its tags go.
    const out = await ok(['image', 'delete', 'cli/images', d1]);
    assert.match(out, new RegExp(`^deleted cli/images(:one)?@${d1}$`));
    const after2 = JSON.parse(await ok(['image', 'list', 'cli/images', '--json'])) as Array<{ imageDigest: string }>;
    assert.deepEqual(
      after2.map((i) => i.imageDigest),
      [d2],
    );
    assert.equal((await v2('GET', `/v2/cli/images/manifests/one`)).status, 404);

    // Something that is not there: the failure from BatchDeleteImage, exit 1.
    const missing = await berth(['image', 'delete', 'cli/images', 'no-such-tag']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /ImageNotFound/);
    const json = await berth(['image', 'delete', 'cli/images', 'no-such-tag', '--json']);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.out) as { failures: Array<{ failureCode: string }> }).failures[0]?.failureCode, 'ImageNotFound');
  });

  test('image list of a repository that does not exist: RepositoryNotFoundException, exit 1', async () => {
    const r = await berth(['image', 'list', 'cli/nothing-here']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^berth: RepositoryNotFoundException: /);
  });

  test('repo delete: refused while images remain, --force deletes them too', async () => {
    await ok(['repo', 'create', 'cli/doomed']);
    await pushImage('cli/doomed', 'v1');
    const refused = await berth(['repo', 'delete', 'cli/doomed']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^berth: RepositoryNotEmptyException: /);
    assert.equal(await ok(['repo', 'delete', 'cli/doomed', '--force']), 'deleted cli/doomed');
    const names = (JSON.parse(await ok(['repo', 'list', '--json'])) as Array<{ repositoryName: string }>).map((r) => r.repositoryName);
    assert.ok(!names.includes('cli/doomed'));
    assert.equal((await v2('GET', '/v2/cli/doomed/manifests/v1')).status, 404);
    const gone = await berth(['repo', 'delete', 'cli/doomed']);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /RepositoryNotFoundException/);
    await ok(['repo', 'create', 'cli/empty']);
    assert.equal(await ok(['repo', 'delete', 'cli/empty']), 'deleted cli/empty');
  });

  test('login: prints a password the registry accepts with the user name AWS', async () => {
    const password = await ok(['login']);
    assert.match(password, /^\S+$/);
    const res = await v2('GET', '/v2/', undefined, {}, `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`);
    assert.equal(res.status, 200, await res.text());
    const wrong = await v2('GET', '/v2/', undefined, {}, `Basic ${Buffer.from(`AWS:${password.slice(0, -2)}xx`).toString('base64')}`);
    assert.equal(wrong.status, 401);
    const doc = JSON.parse(await ok(['login', '--json'])) as { username: string; password: string; proxyEndpoint: string; expiresAt: string };
    assert.equal(doc.username, 'AWS');
    assert.match(doc.password, /^\S+$/);
    assert.equal(doc.proxyEndpoint, server.url);
    const hours = (Date.parse(doc.expiresAt) - Date.now()) / 3600_000;
    assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);
  });

  test('credentials: AWS_* first, then BERTH_ROOT_*, then <data-dir>/root-credentials.json', async () => {
    const base = { BERTH_ENDPOINT: server.url };
    const wrong = { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNUNKNOWN00', AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) };
    const root = { BERTH_ROOT_ACCESS_KEY_ID: server.accessKeyId, BERTH_ROOT_SECRET_ACCESS_KEY: server.secretAccessKey };
    // AWS_* wins over BERTH_ROOT_*: with wrong AWS_* keys the call is refused.
    const r = await berth(['repo', 'list'], { ...base, ...root, ...wrong });
    assert.equal(r.code, 1);
    assert.match(r.err, /UnrecognizedClientException/);
    await ok(['repo', 'list'], { ...base, ...root });
    // The data directory's credentials file (as berth writes it on first start).
    const dataDir = join(work, 'data');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'root-credentials.json'), JSON.stringify({ accountId: '123456789012', accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }), { mode: 0o600 });
    await ok(['repo', 'list', '--data-dir', dataDir], base);
    await ok(['repo', 'list'], { ...base, BERTH_DATA_DIR: dataDir });
    // Only one of a pair does not count.
    await ok(['repo', 'list', '--data-dir', dataDir], { ...base, AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNUNKNOWN00' });
    // None at all: a usage error naming what to set.
    const none = await berth(['repo', 'list', '--data-dir', join(work, 'nowhere')], base);
    assert.equal(none.code, 2);
    assert.match(none.err, /no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    assert.ok(none.err.includes(join(work, 'nowhere', 'root-credentials.json')));
  });

  test('endpoint: --endpoint over BERTH_ENDPOINT; a closed port is reported, exit 1', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const r = await berth(['repo', 'list'], { ...env, BERTH_ENDPOINT: closed });
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(`cannot reach ${closed}`), r.err);
    await ok(['repo', 'list', '--endpoint', server.url], { ...env, BERTH_ENDPOINT: closed });
    const bad = await berth(['repo', 'list', '--endpoint', 'ftp://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--endpoint must be an http/);
  });

  test('region: AWS_DEFAULT_REGION or BERTH_REGION sign the request (another region is refused by the server)', async () => {
    for (const e of [{ AWS_DEFAULT_REGION: 'eu-west-1' }, { BERTH_REGION: 'eu-west-1' }]) {
      const r = await berth(['repo', 'list'], { ...env, ...e });
      assert.equal(r.code, 1);
      assert.match(r.err, /InvalidSignatureException: .*region/);
    }
    await ok(['repo', 'list'], { ...env, AWS_DEFAULT_REGION: 'us-east-1', BERTH_REGION: 'eu-west-1' });
    const r = await berth(['repo', 'list', '--region', 'ap-south-1']);
    assert.equal(r.code, 1);
  });

  test('usage errors: exit 2 with a message', async () => {
    for (const [args, re] of [
      [['repo'], /usage: berth repo <command>/],
      [['image'], /usage: berth image <command>/],
      [['repo', 'rename', 'a'], /unknown command "berth repo rename"/],
      [['repo', 'create'], /usage: berth repo create NAME/],
      [['repo', 'create', 'a', 'b'], /usage: berth repo create NAME/],
      [['repo', 'delete'], /usage: berth repo delete NAME/],
      [['image', 'list'], /usage: berth image list REPO/],
      [['image', 'delete', 'repo'], /usage: berth image delete REPO TAG\|DIGEST/],
      [['login', 'extra'], /usage: berth login/],
      [['repo', 'list', '--force'], /--force is not an option of berth repo list/],
      [['repo', 'delete', 'x', '--immutable'], /--immutable is not an option of berth repo delete/],
      [['repo', 'list', '--page-size', '0'], /--page-size must be an integer from 1 to 1000/],
      [['repo', 'list', '--no-such-option'], /Unknown option '--no-such-option'/],
    ] as const) {
      const r = await berth([...args]);
      assert.equal(r.code, 2, `berth ${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re, `berth ${args.join(' ')}`);
    }
  });

  test('as a command: bin/berth login | the password works; bin/berth repo list prints the table', async () => {
    const bin = join(repoRoot, 'bin/berth');
    const e = childEnv({ AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, BERTH_ENDPOINT: server.url });
    const login = await run(bin, ['login'], { env: e, timeoutMs: 60_000 });
    assert.equal(login.code, 0, login.stderr);
    const password = login.stdout.toString('utf8');
    assert.match(password, /^\S+\n$/, 'one line: the password');
    const res = await v2('GET', '/v2/', undefined, {}, `Basic ${Buffer.from(`AWS:${password.trim()}`).toString('base64')}`);
    assert.equal(res.status, 200);
    const list = await run(bin, ['repo', 'list'], { env: e, timeoutMs: 60_000 });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout.toString('utf8'), /^NAME\s+URI/);
    const bad = await run(bin, ['repo', 'create'], { env: e, timeoutMs: 60_000 });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /usage: berth repo create NAME/);
  });
});

describe('berth CLI output helpers', () => {
  test('table: aligned columns, no trailing spaces', () => {
    assert.equal(
      table(
        ['A', 'BB', 'C'],
        [
          ['xxx', 'y', ''],
          ['1', '22', '3'],
        ],
      ),
      'A    BB  C\nxxx  y\n1    22  3',
    );
    assert.equal(table(['NAME'], []), 'NAME');
  });

  test('humanSize', () => {
    assert.equal(humanSize(undefined), '');
    assert.equal(humanSize(0), '0 B');
    assert.equal(humanSize(1023), '1023 B');
    assert.equal(humanSize(1536), '1.5 KiB');
    assert.equal(humanSize(50 * 1024 * 1024), '50 MiB');
  });
});
