import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configKeys, envName, loadConfig, readConfigFile, validateConfig } from './load.ts';
import { parseDuration } from './duration.ts';
import { configFromArgs, main } from '../cli/main.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-config-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileNo = 0;
function file(text: string): string {
  const p = join(dir, `config-${++fileNo}.yaml`);
  writeFileSync(p, text);
  return p;
}

/** A ConfigError whose message names every `needle` (the key and its BERTH_ variable). */
function configError(...needles: string[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message names ${n}:\n${e.message}`);
    return true;
  };
}

/**
 * Runs the CLI in-process, capturing what it writes. The CLI writes strings; anything else (the test
 * runner's own serialized reports) passes through untouched.
 */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = { stdout: '', stderr: '' };
  const restore: Array<() => void> = [];
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const original = stream.write.bind(stream);
    stream.write = (chunk: string | Uint8Array): boolean => {
      if (typeof chunk !== 'string') return original(chunk);
      captured[name] += chunk;
      return true;
    };
    restore.push(() => {
      stream.write = original;
    });
  }
  try {
    const code = await main(argv);
    return { code, ...captured };
  } finally {
    for (const r of restore) r();
  }
}

describe('envName', () => {
  test('a dotted camelCase path becomes BERTH_ SCREAMING_SNAKE_CASE', () => {
    assert.equal(envName('listen'), 'BERTH_LISTEN');
    assert.equal(envName('dataDir'), 'BERTH_DATA_DIR');
    assert.equal(envName('storage.filesystem.root'), 'BERTH_STORAGE_FILESYSTEM_ROOT');
    assert.equal(envName('database.postgres.poolSize'), 'BERTH_DATABASE_POSTGRES_POOL_SIZE');
    assert.equal(envName('auth.credentialCacheTtl'), 'BERTH_AUTH_CREDENTIAL_CACHE_TTL');
    assert.equal(envName('root.accessKeyId'), 'BERTH_ROOT_ACCESS_KEY_ID');
  });

  test('configKeys lists every leaf with its variable; the variables are unique', () => {
    const keys = configKeys();
    const byPath = new Map(keys.map((k) => [k.path, k]));
    for (const p of ['listen', 'dataDir', 'region', 'root.accessKeyId', 'root.secretAccessKey', 'tls.cert', 'tls.key', 'log.level', 'storage.filesystem.root', 'storage.filesystem.fsync', 'database.driver', 'database.postgres.url', 'database.postgres.poolSize', 'uploads.purgeAfter', 'uploads.purgeInterval', 'shutdown.timeout']) {
      const k = byPath.get(p);
      assert.ok(k !== undefined, `key ${p}`);
      assert.equal(k.env, envName(p));
      assert.notEqual(k.description, '', `${p} has a description`);
    }
    assert.equal(new Set(keys.map((k) => k.env)).size, keys.length);
    assert.equal(byPath.get('uploads.purgeAfter')?.type, 'duration');
    assert.equal(byPath.get('storage.filesystem.fsync')?.type, 'boolean');
    assert.equal(byPath.get('listen')?.default, '0.0.0.0:5000');
  });
});

describe('parseDuration', () => {
  test('forms: seconds, ms, s, m, h, d and combinations', () => {
    const cases: ReadonlyArray<[string | number, number]> = [
      ['45', 45],
      ['1.5', 1.5],
      [45, 45],
      [0, 0],
      ['90s', 90],
      ['15m', 900],
      ['24h', 86400],
      ['7d', 604800],
      ['1h30m', 5400],
      ['1d2h3m4s', 93784],
      ['500ms', 0.5],
      ['1.5h', 5400],
      [' 10s ', 10],
    ];
    for (const [v, s] of cases) assert.equal(parseDuration(v), s, JSON.stringify(v));
  });

  test('anything else throws, saying which forms are accepted', () => {
    for (const v of ['', 'h', '5x', '1h 30m', '-5s', '5 s', '1w', 's5', '1h30', '1y']) {
      assert.throws(() => parseDuration(v), /invalid duration ".*": use a number of seconds or forms like 90s/, JSON.stringify(v));
    }
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => parseDuration(v), /invalid duration/, String(v));
  });
});

describe('loadConfig', () => {
  test('defaults', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.listen, '0.0.0.0:5000');
    assert.equal(c.dataDir, './data');
    assert.equal(c.region, 'us-east-1');
    assert.equal(c.log.level, 'info');
    assert.equal(c.storage.driver, 'filesystem');
    assert.equal(c.storage.filesystem.fsync, true);
    assert.equal(c.database.driver, 'sqlite');
    assert.equal(c.database.postgres.poolSize, 10);
    assert.equal(c.uploads.purgeAfter, 86400);
    assert.equal(c.uploads.purgeInterval, 3600);
    assert.equal(c.auth.credentialCacheTtl, 300);
    assert.equal(c.shutdown.timeout, 30);
  });

  test('BERTH_* environment variables map to their keys, with types converted', () => {
    const c = loadConfig({
      env: {
        BERTH_LISTEN: '127.0.0.1:6000',
        BERTH_DATA_DIR: '/var/lib/berth',
        BERTH_REGION: 'eu-west-3',
        BERTH_LOG_LEVEL: 'debug',
        BERTH_STORAGE_FILESYSTEM_ROOT: '/srv/blobs',
        BERTH_STORAGE_FILESYSTEM_FSYNC: 'false',
        BERTH_DATABASE_POSTGRES_POOL_SIZE: '25',
        BERTH_UPLOADS_PURGE_AFTER: '1h30m',
        BERTH_UPLOADS_PURGE_INTERVAL: '600',
        BERTH_AUTH_CREDENTIAL_CACHE_TTL: '90s',
        BERTH_SHUTDOWN_TIMEOUT: '2m',
        BERTH_ROOT_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        BERTH_ROOT_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        UNRELATED: 'ignored',
      },
    });
    assert.equal(c.listen, '127.0.0.1:6000');
    assert.equal(c.dataDir, '/var/lib/berth');
    assert.equal(c.region, 'eu-west-3');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.storage.filesystem.root, '/srv/blobs');
    assert.equal(c.storage.filesystem.fsync, false);
    assert.equal(c.database.postgres.poolSize, 25);
    assert.equal(c.uploads.purgeAfter, 5400);
    assert.equal(c.uploads.purgeInterval, 600);
    assert.equal(c.auth.credentialCacheTtl, 90);
    assert.equal(c.shutdown.timeout, 120);
    assert.equal(c.root.accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
  });

  test('booleans accept true/false/1/0/yes/no', () => {
    for (const [v, b] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const) {
      assert.equal(loadConfig({ env: { BERTH_STORAGE_FILESYSTEM_FSYNC: v } }).storage.filesystem.fsync, b, v);
    }
  });

  test('an empty environment variable is treated as unset', () => {
    const f = file('listen: 10.0.0.1:7000\n');
    assert.equal(loadConfig({ file: f, env: { BERTH_LISTEN: '' } }).listen, '10.0.0.1:7000');
  });

  test('precedence: flags > environment > file > defaults', () => {
    const f = file('listen: 10.0.0.1:1000\ndataDir: /from/file\nlog:\n  level: warn\nuploads:\n  purgeAfter: 2h\n');
    const fileOnly = loadConfig({ file: f, env: {} });
    assert.equal(fileOnly.listen, '10.0.0.1:1000');
    assert.equal(fileOnly.uploads.purgeAfter, 7200);
    assert.equal(fileOnly.region, 'us-east-1');
    const env = { BERTH_LISTEN: '10.0.0.2:2000', BERTH_LOG_LEVEL: 'error' };
    const withEnv = loadConfig({ file: f, env });
    assert.equal(withEnv.listen, '10.0.0.2:2000');
    assert.equal(withEnv.log.level, 'error');
    assert.equal(withEnv.dataDir, '/from/file');
    const withFlags = loadConfig({ file: f, env, overrides: { listen: '10.0.0.3:3000', dataDir: undefined } });
    assert.equal(withFlags.listen, '10.0.0.3:3000');
    assert.equal(withFlags.dataDir, '/from/file', 'an absent flag does not override');
    assert.equal(withFlags.log.level, 'error');
  });

  test('the command line: --listen and --data-dir beat BERTH_* and the --config / BERTH_CONFIG file', () => {
    const f = file('listen: 10.0.0.1:1000\ndataDir: /from/file\nregion: ap-south-1\n');
    const env = { BERTH_CONFIG: f, BERTH_LISTEN: '10.0.0.2:2000', BERTH_DATA_DIR: '/from/env' };
    const c = configFromArgs(['--listen', '10.0.0.3:3000'], env);
    assert.equal(c.listen, '10.0.0.3:3000');
    assert.equal(c.dataDir, '/from/env');
    assert.equal(c.region, 'ap-south-1');
    const g = file('region: eu-north-1\n');
    assert.equal(configFromArgs(['--config', g], env).region, 'eu-north-1', '--config beats BERTH_CONFIG');
    assert.equal(configFromArgs(['--data-dir', '/from/flag'], env).dataDir, '/from/flag');
  });
});

describe('invalid values: ConfigError naming the key and its BERTH_ variable', () => {
  const cases: ReadonlyArray<[string, Record<string, string>, string, string]> = [
    ['an unknown log level', { BERTH_LOG_LEVEL: 'loud' }, 'log.level', 'BERTH_LOG_LEVEL'],
    ['a bad duration', { BERTH_UPLOADS_PURGE_AFTER: 'soon' }, 'uploads.purgeAfter', 'BERTH_UPLOADS_PURGE_AFTER'],
    ['a negative-looking duration', { BERTH_SHUTDOWN_TIMEOUT: '-5s' }, 'shutdown.timeout', 'BERTH_SHUTDOWN_TIMEOUT'],
    ['a bad boolean', { BERTH_STORAGE_FILESYSTEM_FSYNC: 'maybe' }, 'storage.filesystem.fsync', 'BERTH_STORAGE_FILESYSTEM_FSYNC'],
    ['a pool size below the minimum', { BERTH_DATABASE_POSTGRES_POOL_SIZE: '0' }, 'database.postgres.poolSize', 'BERTH_DATABASE_POSTGRES_POOL_SIZE'],
    ['a pool size that is not a number', { BERTH_DATABASE_POSTGRES_POOL_SIZE: 'ten' }, 'database.postgres.poolSize', 'BERTH_DATABASE_POSTGRES_POOL_SIZE'],
    ['a fractional pool size', { BERTH_DATABASE_POSTGRES_POOL_SIZE: '2.5' }, 'database.postgres.poolSize', 'BERTH_DATABASE_POSTGRES_POOL_SIZE'],
    ['a bad region', { BERTH_REGION: 'Mars' }, 'region', 'BERTH_REGION'],
    ['an account id that is not 12 digits', { BERTH_ACCOUNT_ID: '1234' }, 'accountId', 'BERTH_ACCOUNT_ID'],
    ['an unknown storage driver', { BERTH_STORAGE_DRIVER: 'tape' }, 'storage.driver', 'BERTH_STORAGE_DRIVER'],
    ['an unknown database driver', { BERTH_DATABASE_DRIVER: 'mysql' }, 'database.driver', 'BERTH_DATABASE_DRIVER'],
    ['a public URL that is not a URL', { BERTH_PUBLIC_URL: 'not a url' }, 'publicUrl', 'BERTH_PUBLIC_URL'],
    ['postgres without a URL', { BERTH_DATABASE_DRIVER: 'postgres' }, 'database.postgres.url', 'BERTH_DATABASE_POSTGRES_URL'],
    ['a lowercase access key id', { BERTH_ROOT_ACCESS_KEY_ID: 'akiaiosfodnn7example', BERTH_ROOT_SECRET_ACCESS_KEY: 'x'.repeat(40) }, 'root.accessKeyId', 'BERTH_ROOT_ACCESS_KEY_ID'],
    ['a short secret', { BERTH_ROOT_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', BERTH_ROOT_SECRET_ACCESS_KEY: 'short' }, 'root.secretAccessKey', 'BERTH_ROOT_SECRET_ACCESS_KEY'],
  ];
  for (const [what, env, key, variable] of cases) {
    test(what, () => {
      assert.throws(() => loadConfig({ env }), configError(key, variable));
    });
  }

  test('pairs that belong together are named', () => {
    assert.throws(() => loadConfig({ env: { BERTH_TLS_CERT: '/c.pem' } }), configError('tls', 'tls.cert and tls.key must be given together'));
    assert.throws(() => loadConfig({ env: { BERTH_ROOT_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE' } }), configError('root', 'root.accessKeyId and root.secretAccessKey must be given together'));
  });

  test('every problem is listed, and the file is named', () => {
    const f = file('log:\n  level: loud\nregion: Mars\n');
    assert.throws(() => loadConfig({ file: f, env: {} }), configError(f, 'log.level (BERTH_LOG_LEVEL)', 'region (BERTH_REGION)'));
  });

  test('a file value of the wrong type names the key', () => {
    assert.throws(() => loadConfig({ file: file('listen: 5000\n'), env: {} }), configError('listen', 'BERTH_LISTEN'));
    assert.throws(() => loadConfig({ file: file('storage: fast\n'), env: {} }), configError('storage'));
  });

  test('unknown keys, at the top and nested, are refused by name (typos do not pass silently)', () => {
    assert.throws(() => loadConfig({ file: file('listn: 1.2.3.4:5\n'), env: {} }), configError('listn'));
    assert.throws(() => loadConfig({ file: file('storage:\n  filesystem:\n    rot: /x\n'), env: {} }), configError('rot', 'storage.filesystem'));
    assert.throws(() => loadConfig({ file: file('uploads:\n  purgeAftr: 1h\n'), env: {} }), configError('purgeAftr'));
  });

  test('validateConfig on a value that is not an object', () => {
    assert.throws(() => validateConfig('x'), configError('(top level)'));
    assert.throws(() => validateConfig([]), configError('(top level)'));
  });
});

describe('config files', () => {
  test('a missing file, invalid YAML and a YAML list are ConfigErrors naming the file', () => {
    const missing = join(dir, 'nope.yaml');
    assert.throws(() => readConfigFile(missing), configError('cannot read config file', missing));
    const bad = file('listen: [1, 2\n');
    assert.throws(() => readConfigFile(bad), configError('is not valid YAML', bad));
    const list = file('- a\n- b\n');
    assert.throws(() => readConfigFile(list), configError('must hold a mapping of keys', list));
    const scalar = file('just a string\n');
    assert.throws(() => readConfigFile(scalar), configError('must hold a mapping of keys'));
  });

  test('an empty file or one with only comments means defaults', () => {
    assert.deepEqual(readConfigFile(file('')), {});
    assert.deepEqual(readConfigFile(file('# nothing\n')), {});
    assert.equal(loadConfig({ file: file(''), env: {} }).listen, '0.0.0.0:5000');
  });
});

describe('berth config validate', () => {
  test('a valid file: exit 0 and "<file>: valid"', async () => {
    const f = file('listen: 127.0.0.1:5001\ndataDir: /tmp/x\nuploads:\n  purgeAfter: 12h\nstorage:\n  filesystem:\n    fsync: false\n');
    const r = await runMain(['config', 'validate', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${f}: valid`);
  });

  test('an invalid file: exit 2 with the key and its variable on stderr', async () => {
    const f = file('log:\n  level: loud\nshutdown:\n  timeout: forever\n');
    const r = await runMain(['config', 'validate', f]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    for (const s of [f, 'log.level (BERTH_LOG_LEVEL)', 'shutdown.timeout (BERTH_SHUTDOWN_TIMEOUT)']) assert.ok(r.stderr.includes(s), `${s} in:\n${r.stderr}`);
  });

  test('a missing file or invalid YAML: exit 2', async () => {
    assert.equal((await runMain(['config', 'validate', join(dir, 'absent.yaml')])).code, 2);
    assert.equal((await runMain(['config', 'validate', file('a: [')])).code, 2);
  });

  test('validate checks the file alone: BERTH_* variables in the environment do not change the verdict', async () => {
    const saved = process.env.BERTH_LOG_LEVEL;
    process.env.BERTH_LOG_LEVEL = 'loud';
    try {
      assert.equal((await runMain(['config', 'validate', file('listen: 1.2.3.4:5\n')])).code, 0);
    } finally {
      if (saved === undefined) delete process.env.BERTH_LOG_LEVEL;
      else process.env.BERTH_LOG_LEVEL = saved;
    }
  });

  test('usage errors: exit 2', async () => {
    assert.equal((await runMain(['config'])).code, 2);
    assert.equal((await runMain(['config', 'validate'])).code, 2);
    assert.equal((await runMain(['config', 'frobnicate'])).code, 2);
  });

  test('berth config keys lists every key with its variable', async () => {
    const r = await runMain(['config', 'keys']);
    assert.equal(r.code, 0);
    for (const k of configKeys()) assert.ok(r.stdout.includes(`${k.path}\t${k.env}\t`), k.path);
  });
});
