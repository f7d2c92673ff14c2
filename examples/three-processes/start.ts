// Starts the three berth processes of this example on one machine, each with its own --listen and
// BERTH_ROLES over the shared berth.yaml, and stops them together on Ctrl-C / SIGTERM. On separate
// machines, run the same `berth serve` command lines under systemd or your orchestrator instead.
//
//   export BERTH_DATABASE_POSTGRES_URL=postgres://berth:secret@db.internal:5432/berth
//   export BERTH_STORAGE_S3_ACCESS_KEY_ID=... BERTH_STORAGE_S3_SECRET_ACCESS_KEY=...
//   export BERTH_ROOT_ACCESS_KEY_ID=... BERTH_ROOT_SECRET_ACCESS_KEY=...
//   node examples/three-processes/start.ts [--ports 5001,5002,5003] [--config FILE]
//
// The environment passes through to every process (BERTH_* overrides berth.yaml).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** The three processes: berth-1 and berth-2 do everything (the scheduler runs on whichever holds the leader lease), berth-3 only serves requests. */
export const PROCESSES = [
  { name: 'berth-1', roles: 'all' },
  { name: 'berth-2', roles: 'all' },
  { name: 'berth-3', roles: 'api' },
] as const;

const { values } = parseArgs({
  options: { ports: { type: 'string', default: '5001,5002,5003' }, config: { type: 'string', default: `${here}berth.yaml` }, host: { type: 'string', default: '127.0.0.1' } },
  allowPositionals: false,
});
const ports = values.ports.split(',').map(Number);
if (ports.length !== PROCESSES.length || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
  process.stderr.write(`--ports needs ${PROCESSES.length} comma-separated ports\n`);
  process.exit(2);
}

let stopping = false;
const children: ChildProcess[] = [];
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
}

children.push(
  ... PROCESSES.map((p, i) => {
  const listen = `${values.host}:${ports[i] ?? 0}`;
  const child = spawn(process.execPath, [main, 'serve', '--config', values.config, '--listen', listen], {
    env: { ...process.env, BERTH_ROLES: p.roles },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${p.name}] ${line}\n`));
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`[${p.name}] exited (${signal ?? code ?? ''})\n`);
    // One process failing (a configuration error, say) stops the example rather than leaving two.
    stop('SIGTERM');
  });
  process.stdout.write(`[${p.name}] berth serve --listen ${listen} with BERTH_ROLES=${p.roles} (pid ${child.pid ?? '?'})\n`);
  return child;
}),
);

process.once('SIGINT', () => stop('SIGTERM'));
process.once('SIGTERM', () => stop('SIGTERM'));

const codes = await Promise.all(children.map(async (c) => await new Promise<number>((resolve) => c.once('exit', (code) => resolve(code ?? 1)))));
process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
