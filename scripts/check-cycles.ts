// Import cycles in src/ (issue 12): a runtime cycle makes module evaluation order depend on which
// file is loaded first, and a value read during evaluation can be undefined. Type-only imports
// are erased and do not count.
//
// `import { type A, type B } from './x.js'` is NOT erased: under `verbatimModuleSyntax` (our
// tsconfig) TypeScript and tsx keep it as `import {} from './x.js'`, which loads x.ts. So it counts
// as an edge here; write `import type { A, B }` instead (the lint rule
// @typescript-eslint/no-import-type-side-effects fixes it). The same holds for `export { type A }`.
//
// Usage: tsx scripts/check-cycles.ts [dir]   (dir defaults to src)
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** file -> the files it loads at runtime, each with the line of its first such import. */
export type ImportGraph = Map<string, Map<string, number>>;

/** One cycle: files in import order, the first repeated at the end; `lines[i]` is the line of `files[i]` importing `files[i + 1]`. */
export type ImportCycle = { files: string[]; lines: number[] };

const SOURCE = /\.(ts|tsx|mts)$/;

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/** A relative specifier to the source file it names (`./x.js` -> `x.ts`), or null for packages and unknown files. */
function resolveSpecifier(fromFile: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const target = path.resolve(path.dirname(fromFile), specifier);
  const stem = target.replace(/\.(js|jsx|mjs|ts|tsx|mts)$/, '');
  const candidates = [target, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, path.join(target, 'index.ts')];
  return candidates.find((candidate) => files.has(candidate)) ?? null;
}

/** The module specifier of a statement that loads its module at runtime, or null. */
function runtimeSpecifier(statement: ts.Statement): ts.StringLiteral | null {
  if (ts.isImportDeclaration(statement)) {
    const clause = statement.importClause;
    if (clause?.isTypeOnly) return null;
    // `import {} from` and `import { type A }` are kept by verbatimModuleSyntax: they still load the module.
    return ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier : null;
  }
  if (ts.isExportDeclaration(statement) && statement.moduleSpecifier) {
    if (statement.isTypeOnly) return null;
    return ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier : null;
  }
  return null;
}

/**
 * The runtime import graph of every source file under `rootDir`: static `import` and
 * `export ... from` with relative specifiers. `import type` and `export type` are left out;
 * dynamic `import()` is too, because it runs after every module has been evaluated.
 */
export function buildImportGraph(rootDir: string): ImportGraph {
  const files = sourceFiles(path.resolve(rootDir));
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
    const edges = new Map<string, number>();
    for (const statement of source.statements) {
      const specifier = runtimeSpecifier(statement);
      if (!specifier) continue;
      const target = resolveSpecifier(file, specifier.text, known);
      if (target && !edges.has(target)) {
        edges.set(target, source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1);
      }
    }
    graph.set(file, edges);
  }
  return graph;
}

/** Strongly connected components (Tarjan), each a set of files that reach one another. */
function stronglyConnected(nodes: readonly string[], next: (node: string) => Iterable<string>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const target of next(node)) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components;
}

/**
 * Every elementary cycle of the graph (Johnson's algorithm), each starting at its
 * alphabetically first file. Stops after `limit` cycles so a tangle cannot run forever.
 */
export function findCycles(graph: ImportGraph, limit = 1000): ImportCycle[] {
  const order = [...graph.keys()].sort();
  const cycles: ImportCycle[] = [];
  for (let start = 0; start < order.length && cycles.length < limit; start++) {
    // Johnson: cycles through order[start] that use only order[start..]; search its component.
    const allowed = new Set(order.slice(start));
    const next = (node: string) => [...(graph.get(node)?.keys() ?? [])].filter((t) => allowed.has(t)).sort();
    const component = stronglyConnected([...allowed], next).find((c) => c.includes(order[start]!));
    if (!component || (component.length === 1 && !graph.get(order[start]!)?.has(order[start]!))) continue;
    const inComponent = new Set(component);
    const blocked = new Set<string>();
    const blockedBy = new Map<string, Set<string>>();
    const chain: string[] = [];
    const unblock = (node: string): void => {
      blocked.delete(node);
      for (const waiting of blockedBy.get(node) ?? []) if (blocked.has(waiting)) unblock(waiting);
      blockedBy.delete(node);
    };
    const circuit = (node: string): boolean => {
      let found = false;
      chain.push(node);
      blocked.add(node);
      for (const target of next(node).filter((t) => inComponent.has(t))) {
        if (cycles.length >= limit) break;
        if (target === order[start]) {
          const files = [...chain, target];
          cycles.push({
            files,
            lines: files.slice(0, -1).map((file, i) => graph.get(file)!.get(files[i + 1]!)!),
          });
          found = true;
        } else if (!blocked.has(target) && circuit(target)) {
          found = true;
        }
      }
      if (found) {
        unblock(node);
      } else {
        // Stay blocked until a successor finds its way back to the start.
        for (const target of next(node).filter((t) => inComponent.has(t))) {
          blockedBy.set(target, (blockedBy.get(target) ?? new Set()).add(node));
        }
      }
      chain.pop();
      return found;
    };
    circuit(order[start]!);
  }
  return cycles;
}

/** `a.ts:3 -> b.ts:7 -> a.ts`: each file with the line that imports the next one. */
export function formatCycle(cycle: ImportCycle, relativeTo: string): string {
  return cycle.files
    .map((file, i) => {
      const name = path.relative(relativeTo, file);
      return i < cycle.lines.length ? `${name}:${cycle.lines[i]}` : name;
    })
    .join(' -> ');
}

const LIMIT = 1000;

function main(): number {
  const rootDir = process.argv[2] ?? 'src';
  const cycles = findCycles(buildImportGraph(rootDir), LIMIT);
  if (cycles.length === 0) {
    console.log(`No import cycles in ${rootDir}/ (type-only imports ignored).`);
    return 0;
  }
  console.log(`${cycles.length} import cycle(s) in ${rootDir}/ (type-only imports ignored):`);
  for (const cycle of cycles) console.log(`  ${formatCycle(cycle, process.cwd())}`);
  if (cycles.length === LIMIT) console.log(`(stopped after ${LIMIT}; there may be more)`);
  console.log(
    'Break each one: depend on an index.ts with `import type`, or inject the dependency from src/container.ts.',
  );
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main();
}
