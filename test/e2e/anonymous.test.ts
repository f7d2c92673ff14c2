// Anonymous pulls through real clients: a repository whose policy grants `Principal: "*"` the pull
// actions is pulled by skopeo and podman with no credentials at all; a private repository is not
// (the clients get the challenge and give up), and nothing else becomes anonymous: pushing to the
// public repository without credentials fails and stores nothing.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ECRClient, SetRepositoryPolicyCommand, CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import type { Fixture } from '../fixtures/build.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { Cleanup, assertDirMatches, assertOk, describeRun, loadFixtures, makeTempDir, missingTools, podmanSandbox, run, skopeo, type Skopeo } from './support.ts';

const PUBLIC = 'public/tiny';
const PRIVATE = 'private/tiny';

describe('anonymous pulls of a public repository (skopeo, podman)', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let sk: Skopeo;
  let tiny: Fixture;
  let work: string;
  let creds: string;

  before(async () => {
    skip = missingTools([
      ['skopeo', 'skopeo'],
      ['podman', 'podman'],
    ]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures(['tiny']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    tiny = loaded.fixtures.tiny;
    work = await makeTempDir('anonymous');
    cleanup.dir(work);
    server = await startServer();
    cleanup.server(server);
    sk = skopeo(server, work);
    creds = `${server.accessKeyId}:${server.secretAccessKey}`;
    const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, maxAttempts: 1 });
    try {
      for (const name of [PUBLIC, PRIVATE]) await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
      await ecr.send(
        new SetRepositoryPolicyCommand({
          repositoryName: PUBLIC,
          policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'PublicPull', Effect: 'Allow', Principal: '*', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'] }] }),
        }),
      );
    } finally {
      ecr.destroy();
    }
    await sk.push(tiny, `${PUBLIC}:latest`);
    await sk.push(tiny, `${PRIVATE}:latest`);
  });

  after(async () => {
    await cleanup.run();
  });

  function skipped(t: TestContext): boolean {
    if (skip === undefined) return false;
    t.skip(skip);
    return true;
  }

  test('skopeo inspects and copies the public repository with no credentials, byte for byte', async (t) => {
    if (skipped(t)) return;
    const r = await sk.ok(['inspect', '--raw', '--tls-verify=false', '--no-creds', sk.ref(`${PUBLIC}:latest`)]);
    assert.ok(r.stdout.length > 0);
    const dir = join(work, 'public-copy');
    await sk.ok(['copy', '--preserve-digests', '--src-tls-verify=false', '--src-no-creds', sk.ref(`${PUBLIC}:latest`), `dir:${dir}`]);
    await assertDirMatches(dir, tiny);
  });

  test('skopeo without credentials is refused the private repository, the catalog and pushes to the public one', async (t) => {
    if (skipped(t)) return;
    const priv = await sk.run(['inspect', '--raw', '--tls-verify=false', '--no-creds', sk.ref(`${PRIVATE}:latest`)]);
    assert.notEqual(priv.code, 0, describeRun(priv));
    assert.match(priv.stderr, /unauthorized|authentication required/i, describeRun(priv));
    const push = await sk.run(['copy', '--dest-tls-verify=false', '--dest-no-creds', tiny.source, sk.ref(`${PUBLIC}:anonymous`)]);
    assert.notEqual(push.code, 0, describeRun(push));
    const tags = await sk.ok(['list-tags', '--tls-verify=false', '--creds', creds, sk.ref(PUBLIC)]);
    assert.deepEqual((JSON.parse(tags.stdout.toString('utf8')) as { Tags: string[] }).Tags, ['latest'], 'nothing was pushed anonymously');
    const catalog = await fetch(`${server.url}/v2/_catalog`);
    assert.equal(catalog.status, 401);
    assert.match(catalog.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  });

  test('podman pulls the public repository with an empty auth file, and not the private one', async (t) => {
    if (skipped(t)) return;
    const sandbox = await podmanSandbox(join(work, 'podman'));
    await writeFile(sandbox.authFile, '{"auths":{}}\n');
    const podman = async (args: string[]): Promise<Awaited<ReturnType<typeof run>>> => await run('podman', [...sandbox.flags, ...args], { env: sandbox.env, timeoutMs: 180_000 });
    assertOk(await podman(['pull', '--tls-verify=false', `${server.host}/${PUBLIC}:latest`]), server);
    const digest = (await podman(['image', 'inspect', '--format', '{{.Digest}}', `${server.host}/${PUBLIC}:latest`])).stdout.toString('utf8').trim();
    assert.equal(digest, tiny.manifestDigest);
    const priv = await podman(['pull', '--tls-verify=false', `${server.host}/${PRIVATE}:latest`]);
    assert.notEqual(priv.code, 0, describeRun(priv));
    assert.match(priv.stderr, /unauthorized|authentication required/i, describeRun(priv));
  });
});
