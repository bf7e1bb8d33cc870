import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, configSchema, loadConfig, parseConfig, resolveSecret } from '../src/config.js';

// Configuration comes only from the environment (STYLE.md rule 27); a bad value stops the
// process with one line naming the variable, and the donor-hash secret is never a default.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

describe('parseConfig', () => {
  it('gives every variable a default that works on a developer machine', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/biobank',
      REDIS_URL: 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'info',
      WORKERS: true,
    });
    expect(config.BIOBANK_SECRET).toBeUndefined();
  });

  it('takes a hash-tagged queue prefix for Redis Cluster and a number of API processes', () => {
    expect(parseConfig({ QUEUE_PREFIX: '{biobank}', WEB_CONCURRENCY: '4' })).toMatchObject({
      QUEUE_PREFIX: '{biobank}',
      WEB_CONCURRENCY: 4,
    });
    expect(parseConfig({}).WEB_CONCURRENCY).toBe(1);
  });

  it('reads only the variables it knows, and takes an empty value as unset', () => {
    const config = parseConfig({ PORT: '', WORKERS: '0', HOME: '/root', UNRELATED: 'x' });
    expect(config.PORT).toBe(3000);
    expect(config.WORKERS).toBe(false);
    expect(Object.keys(config)).not.toContain('HOME');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['LOG_LEVEL', 'loud'],
    ['WORKERS', 'yes'],
    ['BIOBANK_SECRET', 'too-short'],
    ['QUEUE_PREFIX', 'has:colon'],
    ['QUEUE_PREFIX', '{half-open'],
    ['WEB_CONCURRENCY', '0'],
    ['BODY_LIMIT_BYTES', '10'],
  ])('names %s when it is %j', (variable, value) => {
    const err = configError({ [variable]: value });
    expect(err.message).toMatch(new RegExp(`^invalid environment variable ${variable}: .+`));
    expect(err.message).not.toContain('\n');
  });

  it('never quotes a refused secret back', () => {
    const err = configError({ BIOBANK_SECRET: 'short-but-secret-value' });
    expect(err.message).not.toContain('short-but-secret-value');
  });

  it('describes every variable (the README table is built from these descriptions)', () => {
    const undocumented = Object.entries(configSchema.shape)
      .filter(([, schema]) => !schema.description)
      .map(([name]) => name);
    expect(undocumented).toEqual([]);
  });
});

describe('the command line with a bad environment', () => {
  it('exits with code 2 and one line on stderr naming PORT, without a stack trace', () => {
    const env: Record<string, string | undefined> = { ...process.env, PORT: 'abc' };
    // Keep vitest's own variables out of the child.
    for (const key of Object.keys(env)) if (key.startsWith('VITEST')) delete env[key];
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'migrate'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    const lines = result.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^biobank: invalid environment variable PORT: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });
});

describe('resolveSecret', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('uses BIOBANK_SECRET when set, and writes no file', () => {
    dir = mkdtempSync(join(tmpdir(), 'biobank-secret-'));
    const secret = 's'.repeat(40);
    const config = loadConfig({ BIOBANK_SECRET: secret, DATA_DIR: dir });
    expect(config.BIOBANK_SECRET).toBe(secret);
    expect(existsSync(join(dir, 'biobank-secret'))).toBe(false);
  });

  it('generates a 0600 secret file in DATA_DIR on first start and reuses it afterwards', () => {
    dir = mkdtempSync(join(tmpdir(), 'biobank-secret-'));
    const dataDir = join(dir, 'nested', 'data');
    const first = resolveSecret(parseConfig({ DATA_DIR: dataDir }));
    const file = join(dataDir, 'biobank-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.BIOBANK_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.BIOBANK_SECRET);

    const second = resolveSecret(parseConfig({ DATA_DIR: dataDir }));
    expect(second.BIOBANK_SECRET).toBe(first.BIOBANK_SECRET);

    const elsewhere = mkdtempSync(join(tmpdir(), 'biobank-secret-'));
    try {
      const other = resolveSecret(parseConfig({ DATA_DIR: elsewhere }));
      expect(other.BIOBANK_SECRET).not.toBe(first.BIOBANK_SECRET);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('tightens a secret file readable by others back to 0600', () => {
    dir = mkdtempSync(join(tmpdir(), 'biobank-secret-'));
    const file = join(dir, 'biobank-secret');
    writeFileSync(file, 'k'.repeat(44) + '\n');
    chmodSync(file, 0o644);
    const config = resolveSecret(parseConfig({ DATA_DIR: dir }));
    expect(config.BIOBANK_SECRET).toBe('k'.repeat(44));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a secret file holding fewer than 32 characters', () => {
    dir = mkdtempSync(join(tmpdir(), 'biobank-secret-'));
    writeFileSync(join(dir, 'biobank-secret'), 'short\n', { mode: 0o600 });
    expect(() => resolveSecret(parseConfig({ DATA_DIR: dir }))).toThrow(ConfigError);
  });
});

describe('the generated secret', () => {
  it('is written once and read back by every later start on the same data folder', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'bb-secret-')), 'data');
    const raw = parseConfig({ DATA_DIR: dir });
    const secrets = await Promise.all(
      Array.from({ length: 8 }, async () => resolveSecret(raw).BIOBANK_SECRET),
    );
    expect(new Set(secrets).size).toBe(1);
    expect(secrets[0]!.length).toBeGreaterThanOrEqual(32);
  });
});
