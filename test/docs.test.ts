import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLES } from '../src/auth/roles.js';
import { configSchema } from '../src/config.js';
import { DomainError, isErrorCode } from '../src/errors.js';
import {
  README,
  ROLES_END,
  ROLES_START,
  formattedRolesMatrix,
  readmeRolesSection,
  rolesMatrix,
} from './helpers/roles-matrix.js';

// The README states facts the code decides: who may do what, which variables exist, which
// commands the CLI takes. These tests keep it from drifting.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(README, 'utf8');

describe('README', () => {
  it('holds exactly the roles matrix generated from PERMISSIONS between its markers', async () => {
    expect(readme.split(ROLES_START)).toHaveLength(2);
    expect(readme.split(ROLES_END)).toHaveLength(2);
    // On a mismatch: npx tsx test/helpers/roles-matrix.ts
    expect(readmeRolesSection(readme)).toBe(await formattedRolesMatrix());
  });

  it('generates one row per operation and one column per role', () => {
    const table = rolesMatrix().split('\n');
    expect(table).toHaveLength(2 + Object.keys(PERMISSIONS).length);
    expect(table[0]).toBe(`| operation | ${ROLES.join(' | ')} |`);
    expect(table).toContain('| `institutions.create` | operator | – | – | – | – |');
    expect(table).toContain('| `apiKeys.manage` | ✓ | – | – | – | – |');
  });

  it('lists every environment variable of src/config.ts in its table', () => {
    const missing = Object.keys(configSchema.shape).filter(
      (name) => !new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm').test(readme),
    );
    expect(missing).toEqual([]);
  });

  it('lists in its errors table only catalogue codes, each under the status it answers', () => {
    const rows = [...readme.matchAll(/^\| (\d{3}) +\| (.+) \|$/gm)];
    expect(rows.map(([, status]) => status)).toContain('404');
    const wrong = rows.flatMap(([, status, codes]) =>
      [...codes!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)]
        .map(([, code]) => code!)
        .filter((code) => !isErrorCode(code) || String(new DomainError(code, '').status) !== status)
        .map((code) => `${status} ${code}`),
    );
    expect(wrong).toEqual([]);
  });

  it('shows the command-line usage exactly as `biobank help` prints it', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'help'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(0);
    const usage = result.stdout.trimEnd();
    expect(usage).toMatch(/^usage: npm run biobank -- <command>/);
    expect(readme).toContain(usage);
  });
});
