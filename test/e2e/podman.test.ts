// podman against a real berth server: login (good and bad secret), pull images pushed by skopeo,
// tag + push to a new repository (OCI and Docker schema 2), pull back and compare digests.
// podman runs with its own storage (vfs), run root, configuration files, HOME and XDG_RUNTIME_DIR in
// a temporary directory, so the machine's podman setup is neither read nor changed.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fixture } from '../fixtures/build.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import {
  Cleanup,
  assertOk,
  describeRun,
  fixtureConfig,
  loadFixtures,
  makeTempDir,
  missingTools,
  podmanSandbox,
  run,
  sha256Hex,
  skopeo,
  type RunResult,
  type Skopeo,
} from './support.ts';

type Name = 'tiny' | 'tiny-docker' | 'debian' | 'multiarch';

const SEEDED: Record<Name, string> = {
  tiny: 'e2e/tiny:latest',
  'tiny-docker': 'e2e/tiny-docker:latest',
  debian: 'e2e/debian:bookworm',
  multiarch: 'e2e/multiarch:latest',
};

describe('podman', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let sk: Skopeo;
  let fx: Record<Name, Fixture>;
  let work: string;
  let env: Record<string, string>;
  let globalFlags: string[];
  let authFile: string;

  before(async () => {
    skip = missingTools([
      ['podman', 'podman'],
      ['skopeo', 'skopeo'],
    ]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures<Name>(['tiny', 'tiny-docker', 'debian', 'multiarch']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    fx = loaded.fixtures;
    work = await makeTempDir('podman');
    cleanup.dir(work);
    const dirs = ['home', 'runtime', 'config', 'data', 'root', 'runroot', 'tmp', 'skopeo-home'];
    for (const d of dirs) await mkdir(join(work, d), { mode: 0o700 });
    ({ env, flags: globalFlags, authFile } = await podmanSandbox(work));
    // podman's storage holds files podman may make read-only; `podman system reset` is not needed:
    // removing the directory (cleanup.dir above) is enough with vfs and no containers.

    server = await startServer();
    cleanup.server(server);
    sk = skopeo(server, join(work, 'skopeo-home'));
    for (const name of ['tiny', 'tiny-docker', 'debian', 'multiarch'] as const) await sk.push(fx[name], SEEDED[name]);
  });

  after(async () => {
    await cleanup.run();
  });

  function skipped(t: TestContext): boolean {
    if (skip === undefined) return false;
    t.skip(skip);
    return true;
  }

  async function podman(args: string[], input?: string): Promise<RunResult> {
    return await run('podman', [...globalFlags, ...args], { env, timeoutMs: 180_000, ...(input === undefined ? {} : { input }) });
  }

  async function podmanOk(args: string[], input?: string): Promise<RunResult> {
    return assertOk(await podman(args, input), server);
  }

  function image(repoAndTag: string): string {
    return `${server.host}/${repoAndTag}`;
  }

  async function inspectImage(ref: string): Promise<{ digest: string; architecture: string; os: string; id: string }> {
    const r = await podmanOk(['image', 'inspect', '--format', '{{.Digest}}|{{.Architecture}}|{{.Os}}|{{.ID}}', ref]);
    const [digest = '', architecture = '', os = '', id = ''] = r.stdout.toString('utf8').trim().split('|');
    return { digest, architecture, os, id };
  }

  /** The manifest digest a tag points at in berth, from the raw manifest skopeo fetches. */
  async function registryDigest(repoAndTag: string): Promise<string> {
    const r = await sk.ok(['inspect', '--raw', '--tls-verify=false', '--creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref(repoAndTag)]);
    return `sha256:${sha256Hex(r.stdout)}`;
  }

  test('login with the access key succeeds; a wrong secret is refused', async (t) => {
    if (skipped(t)) return;
    const bad = join(work, 'bad-auth.json');
    const r = await podman(['login', '--tls-verify=false', '--authfile', bad, '-u', server.accessKeyId, '--password-stdin', server.host], 'not-the-secret\n');
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /invalid username\/password|unauthorized/i, describeRun(r));
    if (existsSync(bad)) {
      const saved = JSON.parse(await readFile(bad, 'utf8')) as { auths?: Record<string, unknown> };
      assert.equal(saved.auths?.[server.host], undefined, 'a failed login must not store credentials');
    }

    const ok = await podmanOk(['login', '--tls-verify=false', '-u', server.accessKeyId, '--password-stdin', server.host], `${server.secretAccessKey}\n`);
    assert.match(ok.stdout.toString('utf8'), /Login Succeeded/i, describeRun(ok));
    const saved = JSON.parse(await readFile(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(saved.auths[server.host]?.auth ?? '', 'base64').toString('utf8'), `${server.accessKeyId}:${server.secretAccessKey}`);
  });

  test('pull without credentials is refused', async (t) => {
    if (skipped(t)) return;
    const empty = join(work, 'empty-auth.json');
    await writeFile(empty, '{"auths":{}}\n');
    const r = await podman(['pull', '--tls-verify=false', '--authfile', empty, image(SEEDED.tiny)]);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /unauthorized|authentication required/i, describeRun(r));
  });

  test('pulls the images skopeo pushed, with their manifest digests', async (t) => {
    if (skipped(t)) return;
    for (const name of ['tiny', 'tiny-docker', 'debian'] as const) {
      const f = fx[name];
      await podmanOk(['pull', '--tls-verify=false', image(SEEDED[name])]);
      const info = await inspectImage(image(SEEDED[name]));
      const config = JSON.parse((await fixtureConfig(f)).toString('utf8')) as { architecture: string; os: string };
      assert.equal(info.digest, f.manifestDigest, `${name}: podman inspect .Digest`);
      assert.equal(info.architecture, config.architecture, `${name}: .Architecture`);
      assert.equal(info.os, config.os, `${name}: .Os`);
    }
    // The index: podman picks the host's platform and records the index digest.
    await podmanOk(['pull', '--tls-verify=false', image(SEEDED.multiarch)]);
    const info = await inspectImage(image(SEEDED.multiarch));
    assert.equal(info.digest, fx.multiarch.manifestDigest, 'multiarch: .Digest is the index digest');
    // By digest too.
    await podmanOk(['pull', '--tls-verify=false', `${server.host}/e2e/tiny@${fx.tiny.manifestDigest}`]);
  });

  test('tag + push to a new repository, pull back: same digest', async (t) => {
    if (skipped(t)) return;
    for (const [name, format] of [
      ['debian', 'oci'], // first: still in local storage from the previous test
      ['tiny', 'oci'],
      ['tiny', 'v2s2'],
    ] as const) {
      const target = `e2e/podman/${name}:${format}`;
      await podmanOk(['pull', '--tls-verify=false', image(SEEDED[name])]);
      const original = await inspectImage(image(SEEDED[name]));
      await podmanOk(['tag', image(SEEDED[name]), image(target)]);
      const digestFile = join(work, `digest-${name}-${format}`);
      await podmanOk(['push', '--tls-verify=false', '--format', format, '--digestfile', digestFile, image(target)]);
      const pushed = (await readFile(digestFile, 'utf8')).trim();
      assert.match(pushed, /^sha256:[0-9a-f]{64}$/);
      assert.equal(await registryDigest(target), pushed, `${target}: the registry serves the manifest podman pushed`);

      // Forget every local image (else podman's record of the same image keeps its first digest),
      // then pull the pushed one back from berth.
      await podmanOk(['rmi', '--all', '--force']);
      const gone = await podman(['image', 'exists', image(target)]);
      assert.notEqual(gone.code, 0, `${target} should be gone locally`);
      await podmanOk(['pull', '--tls-verify=false', image(target)]);
      const info = await inspectImage(image(target));
      assert.equal(info.digest, pushed, `${target}: podman inspect .Digest after pull`);
      assert.equal(info.id, original.id, `${target}: same image (config) as the original`);
      const repoDigests = (await podmanOk(['image', 'inspect', '--format', '{{range .RepoDigests}}{{.}}\n{{end}}', image(target)])).stdout.toString('utf8');
      assert.ok(repoDigests.split('\n').includes(`${server.host}/e2e/podman/${name}@${pushed}`), `RepoDigests of ${target}: ${repoDigests}`);
    }
    // The v2s2 push really is a Docker schema 2 manifest.
    const raw = await sk.ok(['inspect', '--raw', '--tls-verify=false', '--creds', `${server.accessKeyId}:${server.secretAccessKey}`, sk.ref('e2e/podman/tiny:v2s2')]);
    assert.equal((JSON.parse(raw.stdout.toString('utf8')) as { mediaType: string }).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  });
});
