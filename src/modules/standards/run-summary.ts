import { worstOutcome, type CheckResult } from './standards.rules.js';
import type { QcOutcome } from './standards.table.js';

/** A run's counts: specimens by worst outcome, and each check's outcomes. */
export interface RunSummary {
  specimens: Record<QcOutcome, number>;
  checks: Record<string, Record<QcOutcome, number>>;
}

/** The summary a run row stores (missing counts read as zero). */
export function readSummary(raw: Record<string, unknown>): RunSummary {
  const s = raw as Partial<RunSummary>;
  return {
    specimens: { pass: 0, warn: 0, fail: 0, ...s.specimens },
    checks: { ...s.checks },
  };
}

/** Counts one specimen's results into the summary. */
export function addToSummary(summary: RunSummary, results: CheckResult[]): void {
  const worst = worstOutcome(results);
  if (worst !== 'unchecked') summary.specimens[worst]++;
  for (const r of results) {
    const c = (summary.checks[r.check] ??= { pass: 0, warn: 0, fail: 0 });
    c[r.outcome]++;
  }
}
