import { describe, expect, it } from 'vitest';
import { compileCriteria, criteriaSchema } from './sharing.criteria.js';

// The criteria document: what parses, what is refused (naming the field), and one predicate per
// criterion given, so the catalogue can count what each one excludes.

const paths = (value: unknown) => {
  const r = criteriaSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};

describe('fitness-for-purpose criteria', () => {
  it('accepts an empty document and a full one', () => {
    expect(paths({})).toEqual([]);
    expect(
      paths({
        specimenTypes: ['plasma'],
        minAvailableQuantity: { value: 0.5, unit: 'mL' },
        maxFreezeThawCount: 1,
        sprec: { preCentrifugation: ['A'], longTermStorage: ['D'], longTermStorageAtOrBelowC: -60 },
        qcPassed: true,
        collectedFrom: '2020-01-01',
        collectedTo: '2024-12-31',
        diagnoses: ['c50.9', 'II'],
        sex: ['female'],
        ageBands: [40, 50],
      }),
    ).toEqual([]);
  });

  it('names the field of every problem', () => {
    expect(paths({ specimenTypes: ['blood'] })).toEqual(['specimenTypes.0']);
    expect(paths({ minAvailableQuantity: { value: -1, unit: 'mL' } })).toEqual([
      'minAvailableQuantity.value',
    ]);
    expect(paths({ sprec: { preCentrifugation: ['AB'] } })).toEqual(['sprec.preCentrifugation.0']);
    expect(paths({ sprec: { centrifugation: ['A'] } })).toEqual(['sprec']);
    expect(paths({ collectedFrom: '2024-02-30' })).toEqual(['collectedFrom']);
    expect(paths({ collectedFrom: '2024-02-01', collectedTo: '2024-01-01' })).toEqual(['collectedTo']);
    expect(paths({ diagnoses: ['cancer'] })).toEqual(['diagnoses.0']);
    expect(paths({ ageBands: [45] })).toEqual(['ageBands.0']);
    expect(paths({ colour: 'red' })).toEqual(['']);
  });

  it('compiles one predicate per criterion given, in a fixed order', () => {
    const c = criteriaSchema.parse({ sex: ['male'], specimenTypes: ['dna'], qcPassed: false });
    expect(compileCriteria(c).map((x) => x.field)).toEqual(['specimenTypes', 'sex']);
    expect(compileCriteria(criteriaSchema.parse({}))).toEqual([]);
  });
});
