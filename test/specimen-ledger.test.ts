import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The specimen ledger is the only author of specimen rows (ARCHITECTURE.md): every statement that
// updates, inserts into or deletes from the specimen table (and the external ids it keeps unique)
// lives in the ledger's files. A new writer anywhere
// else in src/ fails here, and must become a ledger command instead.

const SRC = join(import.meta.dirname, '..', 'src');
const LEDGER_FILES = new Set([
  'modules/specimens/specimens.ledger.ts',
  'modules/specimens/specimens.ledger-bulk.ts',
  'modules/specimens/specimens.ledger-register.ts',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

// SQL text (`update specimen`, `insert into specimen`) and Drizzle (`.update(specimens)`, `.insert(specimens)`).
const WRITES = [
  /\bupdate\s+specimen\b(?!_)/i,
  /\binsert\s+into\s+specimen\b(?!_)/i,
  /\.update\(\s*specimens\s*\)/,
  /\.insert\(\s*specimens\s*\)/,
  /\bdelete\s+from\s+specimen\b(?!_)/i,
  /\.delete\(\s*specimens\s*\)/,
  /\b(?:update|insert\s+into|delete\s+from)\s+specimen_external_id\b/i,
  /\.(?:update|insert|delete)\(\s*specimenExternalIds\s*\)/,
];

function writersOf(files: string[]) {
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) =>
        WRITES.some((re) => re.test(line)) ? [`${relative(SRC, file)}:${i + 1}: ${line.trim()}`] : [],
      ),
  );
}

describe('the specimen ledger', () => {
  it('holds every statement in src/ that writes the specimen tables', () => {
    const outside = writersOf(sourceFiles(SRC)).filter((w) => !LEDGER_FILES.has(w.split(':')[0]!));
    expect(outside).toEqual([]);
  });

  it('is found by the check: the ledger itself writes the table', () => {
    const inLedger = writersOf([join(SRC, 'modules/specimens/specimens.ledger.ts')]);
    expect(inLedger.some((w) => w.includes('.update(specimens)'))).toBe(true);
    expect(inLedger.some((w) => w.includes('.insert(specimens)'))).toBe(true);
    expect(inLedger.some((w) => /update specimen s set qc_status/.test(w))).toBe(true);
  });
});
