import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// One verb per operation everywhere (CONTRIBUTING.md rule 17): the REST operationId is the name of
// the service method the route calls, a GraphQL mutation bears the same name, and so does the
// audit action its write records.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function operationIds(): Promise<string[]> {
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
    paths: Record<string, Record<string, { operationId?: string }>>;
  }>();
  return Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((o) => o.operationId ?? []));
}

function serviceMethods(): Set<string> {
  const names = new Set<string>();
  for (const service of Object.values(t.c.services as Record<string, unknown>)) {
    if (service && typeof service === 'object') for (const k of Object.keys(service)) names.add(k);
  }
  return names;
}

const ROOT = join(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('operation names', () => {
  it('names every REST operation after the service method it calls', async () => {
    const methods = serviceMethods();
    const ops = await operationIds();
    expect(ops.length).toBeGreaterThan(50);
    expect(ops.filter((op) => !methods.has(op))).toEqual([]);
  });

  it('names every GraphQL mutation after a REST operation', async () => {
    const schema = readFileSync(join(ROOT, 'schema.graphql'), 'utf8');
    const bodies = [...schema.matchAll(/(?:extend )?type Mutation \{([\s\S]*?)\n\}/g)].map((m) => m[1]!);
    const mutations = bodies.flatMap((body) => [...body.matchAll(/^\s+([a-zA-Z]+)\(/gm)].map((m) => m[1]!));
    expect(mutations.length).toBeGreaterThan(10);
    const ops = new Set(await operationIds());
    expect(mutations.filter((m) => !ops.has(m))).toEqual([]);
  });

  it('records audit actions named after the operation that wrote them', async () => {
    // Every audit action written anywhere in src/: `action: '...'` literals and the ledger's table.
    // src/http holds no audit writes, and its `action:` literals are other settings (frame policy).
    const text = sourceFiles(join(ROOT, 'src'))
      .filter((f) => !f.startsWith(join(ROOT, 'src/http')))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const ledger = readFileSync(join(ROOT, 'src/modules/specimens/specimens.ledger-rules.ts'), 'utf8');
    const table = /const AUDIT_ACTION[^{]*\{([\s\S]*?)\n\};/.exec(ledger)?.[1] ?? '';
    const actions = new Set([
      ...[...text.matchAll(/action: '([a-zA-Z]+)'/g)].map((m) => m[1]!),
      ...[...table.matchAll(/: '([a-zA-Z]+)'/g)].map((m) => m[1]!),
    ]);
    expect(actions.size).toBeGreaterThan(20);
    const ops = new Set(await operationIds());
    // Writes the ledger records on the record's behalf, and sharing's, whose operations come with it;
    // and the sharing deadline passes, which the scheduler runs and no one calls.
    const notOperations = new Set([
      'reconsent',
      'reserveSpecimen',
      'releaseReservation',
      'shipSpecimen',
      'deliverSpecimen',
      'expireSharingReservations',
      'remindSharingReviews',
      // The row a break-glass key leaves in the audit log of the institution it opens (createApiKey).
      'breakGlass',
      // The rows an import's apply job writes for each tube it registers (startImport queued it).
      'importSpecimens',
    ]);
    expect([...actions].filter((a) => !ops.has(a) && !notOperations.has(a))).toEqual([]);
  });
});
