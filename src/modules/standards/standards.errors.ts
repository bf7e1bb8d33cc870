// The standards module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError, type FieldProblem } from '../../errors.js';

/** A problem of one rule of a ruleset: an unknown metric or field, or a rule id used twice. */
export type RuleProblem = FieldProblem & { code: 'UNKNOWN_RULE_FIELD' | 'DUPLICATE_RULE_ID' };

/**
 * A ruleset refused (422) with every problem; its code is the first problem's (UNKNOWN_RULE_FIELD
 * or DUPLICATE_RULE_ID) and the detail names that problem's field.
 */
export function rulesetRefused(problems: [RuleProblem, ...RuleProblem[]]): DomainError {
  const [first] = problems;
  return new DomainError(first.code, `${first.field}: ${first.message}`, problems);
}

export const qualityRulesVersionNotFound = (protocolId: string, version: number) =>
  new DomainError(
    'QUALITY_RULES_VERSION_NOT_FOUND',
    `protocol ${protocolId} has no quality rules version ${version}`,
  );

export const qualityRulesConflict = () =>
  new DomainError(
    'QUALITY_RULES_CONFLICT',
    'another change to these quality rules was saved a moment ago; read them again and retry',
  );

/** `versions` are the ones this service decodes. */
export const sprecVersionUnsupported = (version: string, versions: readonly string[]) =>
  new DomainError(
    'SPREC_VERSION_UNSUPPORTED',
    `SPREC version '${version}' is not supported; use one of ${versions.join(', ')}`,
    [{ field: 'version', message: `one of ${versions.join(', ')}` }],
  );

export const sprecCodeEmpty = () =>
  new DomainError('SPREC_CODE_EMPTY', 'the code is empty; a SPREC code has 7 elements separated by "-"', [
    { field: 'code', message: 'empty' },
  ]);

export const runNotFound = (id: string) =>
  new DomainError('RUN_NOT_FOUND', `standardization run ${id} was not found`);
