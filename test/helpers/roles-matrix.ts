import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { PERMISSIONS, ROLES } from '../../src/auth/roles.js';

// The README's roles x operations table, generated from PERMISSIONS so the two cannot drift
// (test/docs.test.ts compares them). `npx tsx test/helpers/roles-matrix.ts` rewrites the README.

export const ROLES_START = '<!-- roles:start -->';
export const ROLES_END = '<!-- roles:end -->';

export const README = fileURLToPath(new URL('../../README.md', import.meta.url));

type Permissions = Record<string, readonly string[]>;

/** One row per operation, one column per role; `operator` marks the platform operator's admins. */
export function rolesMatrix(
  permissions: Permissions = PERMISSIONS,
  roles: readonly string[] = ROLES,
): string {
  const cell = (allowed: readonly string[], role: string) => {
    if (allowed.includes(role)) return '✓';
    if (role === 'admin' && allowed.includes('operator')) return 'operator';
    return '–';
  };
  const lines = [
    `| operation | ${roles.join(' | ')} |`,
    `|---|${roles.map(() => ':-:').join('|')}|`,
    ...Object.entries(permissions).map(
      ([operation, allowed]) => `| \`${operation}\` | ${roles.map((r) => cell(allowed, r)).join(' | ')} |`,
    ),
  ];
  return lines.join('\n');
}

/** The table as it stands in the README, which `prettier --check` keeps aligned. */
export async function formattedRolesMatrix(): Promise<string> {
  const options = (await prettier.resolveConfig(README)) ?? {};
  return (await prettier.format(rolesMatrix(), { ...options, parser: 'markdown' })).trimEnd();
}

/** The text between the markers, without the blank lines around it. */
export function readmeRolesSection(readme: string): string | undefined {
  const start = readme.indexOf(ROLES_START);
  const end = readme.indexOf(ROLES_END);
  if (start < 0 || end < start) return undefined;
  return readme
    .slice(start + ROLES_START.length, end)
    .replace(/^\n+/, '')
    .replace(/\n+$/, '');
}

/** Replaces the table between the markers with the generated one. */
export async function withRolesMatrix(readme: string): Promise<string> {
  const start = readme.indexOf(ROLES_START);
  const end = readme.indexOf(ROLES_END);
  if (start < 0 || end < start) throw new Error(`README has no ${ROLES_START} ... ${ROLES_END} section`);
  const table = await formattedRolesMatrix();
  // Blank lines around the table, as prettier writes markdown.
  return `${readme.slice(0, start + ROLES_START.length)}\n\n${table}\n\n${readme.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README, await withRolesMatrix(readFileSync(README, 'utf8')));
  console.log(`roles matrix written to ${README}`);
}
