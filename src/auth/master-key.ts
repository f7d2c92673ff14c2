// Where the master key comes from: the configuration (auth.masterKey), or generated once and kept
// in <dataDir>/master.key (mode 0600) for one process on SQLite, or in the database for several
// processes over PostgreSQL (so that every process signs and decrypts alike; set auth.masterKey to
// keep it out of the database).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetaStore } from '../meta/index.ts';
import { Keyring } from './crypto.ts';

export async function loadKeyring(opts: { configured?: string | undefined; dataDir: string; meta: MetaStore }): Promise<Keyring> {
  if (opts.configured !== undefined) return new Keyring(Buffer.from(opts.configured, 'base64'));
  if (opts.meta.dialect === 'postgres') {
    const b64 = await opts.meta.settings.setIfAbsent('master_key', Keyring.generate().toString('base64'));
    return new Keyring(Buffer.from(b64, 'base64'));
  }
  const file = join(opts.dataDir, 'master.key');
  if (!existsSync(file)) writeFileSync(file, `${Keyring.generate().toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return new Keyring(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
}
