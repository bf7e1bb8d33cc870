// @ts-check
import fs from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Module boundaries (STYLE.md rules 1 and 5, issue 12). The rules are generated from the folders
// under src/modules so a new module is covered the day it is created.
const modules = fs
  .readdirSync(path.join(import.meta.dirname, 'src/modules'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** Adapters face a transport; every other file in a module is domain code. */
const adapterFiles = ['routes', 'resolvers', 'loaders', 'handlers', 'jobs', 'cli']
  .map((role) => `*.${role}.ts`)
  .concat('index.ts');
const testFiles = ['**/*.test.ts'];

/** @param {string} text */
const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Another module's files other than its index.js, seen from inside src/modules/<own>/.
 * `tables`: the importer is a `*.table.ts`, which may reach another module's `*.table.js` because
 * Drizzle foreign keys need the table object itself.
 * @param {string} own
 * @param {{ tables: boolean }} options
 */
const otherModulesInternals = (own, { tables }) =>
  modules
    .filter((other) => other !== own)
    .map((other) => ({
      regex: `^\\.\\./(\\.\\./modules/)?${escapeRegex(other)}/(?!index\\.js$${tables ? '|[^/]+\\.table\\.js$' : ''})`,
      caseSensitive: true,
      message: tables
        ? `Import ../${other}/index.js instead, or ../${other}/${other}.table.js for a foreign key: ` +
          `outside ${other}, only its index.ts and its tables (from *.table.ts) are public.`
        : `Import ../${other}/index.js instead: outside ${other}, only its index.ts is public. ` +
          `If it lacks what you need, export it from there (no tables).`,
    }));

/**
 * A module's files other than index.js, seen from outside src/modules.
 * @param {string} toSrc relative path from the importing folder to src/ ('./', '../', '../src/')
 * @param {{ tables: boolean }} options as in otherModulesInternals (src/auth, src/jobs and src/http
 * have tables with foreign keys too)
 */
const moduleInternalsFrom = (toSrc, { tables }) =>
  modules.map((module) => ({
    regex: `(^|/)modules/${escapeRegex(module)}/(?!index\\.js$${tables ? '|[^/]+\\.table\\.js$' : ''})`,
    caseSensitive: true,
    message: tables
      ? `Import ${toSrc}modules/${module}/index.js instead, or ${toSrc}modules/${module}/${module}.table.js ` +
        `for a foreign key: outside ${module}, only its index.ts and its tables (from *.table.ts) are public.`
      : `Import ${toSrc}modules/${module}/index.js instead: outside ${module}, only its index.ts is public. ` +
        `If it lacks what you need, export it from there (no tables).`,
  }));

const transportMessage =
  'Domain code (services, repos, schemas, rules) stays transport-free: do this in an adapter ' +
  '(*.routes.ts, *.resolvers.ts, *.loaders.ts, *.handlers.ts, *.jobs.ts) and pass the result in, ' +
  'or move the shared helper out of src/http and src/graphql.';
/** Domain files may not depend on HTTP, GraphQL or the queue. */
const transportImports = [
  { regex: '^(fastify|mercurius|bullmq)([-/].*)?$', caseSensitive: true, message: transportMessage },
  { regex: '^@(fastify|bull-board)/', caseSensitive: true, message: transportMessage },
  { regex: '^(\\.\\./){2,}(http|graphql)(/|$)', caseSensitive: true, message: transportMessage },
];

/**
 * One config object per kind of file: flat config replaces a rule's options rather than merging
 * them, so each object carries every pattern that applies to its files.
 * @param {string[]} files
 * @param {string[]} ignores
 * @param {object[]} patterns
 */
const restrictImports = (files, ignores, patterns) => ({
  files,
  ignores: [...ignores, ...testFiles],
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

const boundaries = modules.flatMap((module) => {
  const inModule = (/** @type {string} */ glob) => `src/modules/${module}/**/${glob}`;
  return [
    restrictImports(
      [inModule('*.ts')],
      [inModule('*.table.ts'), ...adapterFiles.map(inModule)],
      [...otherModulesInternals(module, { tables: false }), ...transportImports],
    ),
    restrictImports(
      [inModule('*.table.ts')],
      [],
      [...otherModulesInternals(module, { tables: true }), ...transportImports],
    ),
    restrictImports(adapterFiles.map(inModule), [], otherModulesInternals(module, { tables: false })),
  ];
});

// Outside src/modules, by folder depth so the message can give the exact path. test/ is not
// listed: tests may reach into a module's internals.
const outsideModules = [
  { files: 'src/*.ts', toSrc: './' },
  { files: 'src/*/*.ts', toSrc: '../' },
  { files: 'src/*/*/*.ts', toSrc: '../../' },
  { files: 'bench/*.ts', toSrc: '../src/' },
  { files: 'bench/*/*.ts', toSrc: '../../src/' },
].flatMap(({ files, toSrc }) => {
  const tables = files.replace(/\*\.ts$/, '*.table.ts');
  return [
    restrictImports([files], ['src/modules/**', tables], moduleInternalsFrom(toSrc, { tables: false })),
    restrictImports([tables], ['src/modules/**'], moduleInternalsFrom(toSrc, { tables: true })),
  ];
});

export default tseslint.config(
  // bench/postgraphile-server.mjs runs under Node 22 from PostGraphile's own install, whose
  // packages this project does not have: nothing here could type it.
  { ignores: ['node_modules/', 'migrations/', 'dist/', '.data/', 'bench/postgraphile-server.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // `import { type A }` still loads the module under verbatimModuleSyntax; `import type` does not
      // (scripts/check-cycles.ts counts the first as a runtime import).
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  ...boundaries,
  ...outsideModules,
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
