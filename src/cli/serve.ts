// `berth serve`: compose, listen, print the banner, stop gracefully on SIGTERM/SIGINT.
import { compose, defaultPublicUrl, parseListen } from '../app/compose.ts';
import type { Config } from '../config/index.ts';

function publicAddress(config: Config): string {
  if (config.publicUrl !== undefined) return config.publicUrl.replace(/\/+$/, '');
  return defaultPublicUrl(config, parseListen(config.listen).port);
}

export async function serve(config: Config): Promise<number> {
  const app = await compose(config);
  const address = await app.start();
  const pub = publicAddress(config);
  const hostPort = pub.replace(/^https?:\/\//, '');
  const insecure = pub.startsWith('http://') ? ' --tls-verify=false' : '';
  const lines = [
    '',
    `berth is ready on ${address}`,
    `  registry:  ${pub}`,
    `  region:    ${config.region}`,
    `  account:   ${app.boot.accountId}`,
    `  data:      ${app.config.dataDir}`,
  ];
  if (app.boot.generatedSecret !== undefined) {
    lines.push(
      '',
      '  Root credentials were generated; they are shown this once and kept in',
      `  ${app.boot.credentialsFile} (mode 0600):`,
      `    access key id:      ${app.boot.rootAccessKeyId}`,
      `    secret access key:  ${app.boot.generatedSecret}`,
    );
  } else {
    lines.push(`  access key id: ${app.boot.rootAccessKeyId}`);
  }
  lines.push('', '  Log in:', `    podman login${insecure} --username ${app.boot.rootAccessKeyId} ${hostPort}`, '');
  process.stdout.write(`${lines.join('\n')}\n`);

  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) {
        app.log.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      app.log.info({ signal: sig }, 'shutting down');
      app.close().then(resolve, (e: unknown) => {
        app.log.error({ err: e }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  app.log.info('stopped');
  return 0;
}
