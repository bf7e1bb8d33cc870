import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImportGraph, findCycles, formatCycle } from '../scripts/check-cycles.js';

const fixture: Record<string, string> = {
  // a -> b -> a: a runtime cycle.
  'a.ts': "import { b } from './b.js';\nexport const a = 1;\nexport const twice = () => b * 2;\n",
  'b.ts': "import { a } from './a.js';\nexport const b = a + 1;\n",
  // service -> repo at runtime, repo -> service only for types: not a cycle.
  'service.ts': "import { findRows } from './repo.js';\nexport type Service = { rows: typeof findRows };\n",
  'repo.ts': [
    "import type { Service } from './service.js';",
    "export type { Service as RepoService } from './service.js';",
    'export const findRows = (_service?: Service) => [];',
    'export const lazy = () => import("./service.js");',
    '',
  ].join('\n'),
  // Re-exports and bare imports load the module too.
  'models/index.ts': "export * from './model.js';\n",
  'models/model.ts': "import '../registry.js';\nexport const model = 1;\n",
  'registry.ts': "export { model } from './models/index.js';\n",
  // verbatimModuleSyntax keeps `import { type X }` as `import {} from`, so it loads the module.
  'inline-a.ts':
    "import { inlineB } from './inline-b.js';\nexport type InlineA = number;\nexport const x = inlineB;\n",
  'inline-b.ts': "import { type InlineA } from './inline-a.js';\nexport const inlineB: InlineA = 1;\n",
  // Packages and missing files are not part of the graph.
  'leaf.ts':
    "import { z } from 'zod';\nimport { gone } from './missing.js';\nexport const leaf = [z, gone];\n",
};

let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'check-cycles-'));
  for (const [file, text] of Object.entries(fixture)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('import cycle check', () => {
  it('resolves .js specifiers to the .ts files and leaves type-only and dynamic imports out', () => {
    const graph = buildImportGraph(root);
    const edges = (file: string) =>
      [...graph.get(path.join(root, file))!.keys()].map((t) => path.relative(root, t));
    expect(edges('a.ts')).toEqual(['b.ts']);
    expect(edges('repo.ts')).toEqual([]);
    expect(edges('service.ts')).toEqual(['repo.ts']);
    expect(edges('leaf.ts')).toEqual([]);
  });

  it('reports a runtime cycle as a chain of files with the importing lines, and not a type-only back edge', () => {
    const cycles = findCycles(buildImportGraph(root)).map((cycle) => formatCycle(cycle, root));
    expect(cycles).toContain('a.ts:1 -> b.ts:1 -> a.ts');
    expect(cycles.some((cycle) => cycle.includes('service.ts'))).toBe(false);
  });

  it('follows export-from and bare imports', () => {
    const cycles = findCycles(buildImportGraph(root)).map((cycle) => formatCycle(cycle, root));
    expect(cycles).toContain('models/index.ts:1 -> models/model.ts:1 -> registry.ts:1 -> models/index.ts');
  });

  it('counts an import whose specifiers are all inline `type` as a runtime import', () => {
    const cycles = findCycles(buildImportGraph(root)).map((cycle) => formatCycle(cycle, root));
    expect(cycles).toContain('inline-a.ts:1 -> inline-b.ts:1 -> inline-a.ts');
    expect(cycles).toHaveLength(3);
  });

  it('exits 1 and prints each cycle from the command line', () => {
    const run = spawnSync('node_modules/.bin/tsx', ['scripts/check-cycles.ts', root], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('3 import cycle(s)');
    expect(run.stdout).toContain(`${path.relative(process.cwd(), path.join(root, 'a.ts'))}:1 -> `);
  });
});
