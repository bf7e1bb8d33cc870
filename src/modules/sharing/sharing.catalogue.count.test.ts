import { describe, expect, it } from 'vitest';
import type { CatalogueFactRow, CatalogueFacts } from './catalogue-facts.read-model.js';
import { countCatalogue, type CatalogueDimension } from './sharing.catalogue.count.js';
import { buildSnapshot } from './sharing.catalogue.snapshot.js';
import { criteriaSchema } from './sharing.criteria.js';

// Counting over hand-made facts: a sample fits when one of its tubes meets every criterion, a
// criterion "alone excludes" a sample one of whose tubes fails it and nothing else, donors and
// controls, multi-valued diagnoses, the use and the providers asked.

const EXTERNAL = 1 << 2; // USES[2] = external_sharing
const row = (r: Partial<CatalogueFactRow>): CatalogueFactRow => ({
  provider: 'P1',
  donor: 'D1',
  root: 'R1',
  protocol: 'T',
  type: 'plasma',
  unit: 'mL',
  quantity: '1.0000',
  freeze_thaw: 0,
  pre_centrifugation: 'A',
  long_term_storage: 'D',
  qc_passed: true,
  temperature_c: -80,
  collected_year: 2024,
  anatomic_site: null,
  uses: EXTERNAL,
  ...r,
});

const facts: CatalogueFacts = {
  rows: [
    // D1's first sample: one tube too small, the other thawed too often.
    row({ root: 'R1', quantity: '0.2000' }),
    row({ root: 'R1', freeze_thaw: 3 }),
    row({ root: 'R2' }),
    row({ donor: 'D2', root: 'R4', type: 'serum' }),
    // Not consented for external sharing.
    row({ donor: 'D3', root: 'R5', uses: 1 }),
    row({ donor: null, root: 'R3' }),
    row({ provider: 'P2', donor: 'D9', root: 'R9' }),
  ],
  donors: [
    { id: 'D1', sex: 'female', birth_year: 1970, diagnoses: [] },
    { id: 'D2', sex: 'male', birth_year: 1985, diagnoses: ['c50.9', 'I21.9'] },
    { id: 'D3', sex: 'male', birth_year: 1985, diagnoses: [] },
    { id: 'D9', sex: 'female', birth_year: 1990, diagnoses: [] },
  ],
  protocols: [{ id: 'T', disease_area: 'tumour' }],
};
const snapshot = buildSnapshot(facts, new Date('2025-01-01T00:00:00Z'), '2025-01-01');

const count = (criteria: unknown, groupBy: CatalogueDimension[] = []) =>
  countCatalogue(snapshot, {
    providerIds: ['P1'],
    use: 'external_sharing',
    criteria: criteriaSchema.parse(criteria),
    groupBy,
    listed: (c) => c.samples > 0,
  });

describe('countCatalogue', () => {
  it('counts a sample once, fitting when one of its tubes meets every criterion', () => {
    const c = count({ minAvailableQuantity: { value: 0.5, unit: 'mL' }, maxFreezeThawCount: 1 });
    expect(c.shareable).toEqual({ samples: 4, donors: 2 });
    expect(c.fit).toEqual({ samples: 3, donors: 2 });
    // R1 would fit without either criterion: each alone excludes it; its donor fits through R2.
    expect(c.excludedBy).toEqual([
      { criterion: 'minAvailableQuantity', samples: 1, donors: 0 },
      { criterion: 'maxFreezeThawCount', samples: 1, donors: 0 },
    ]);
  });

  it('counts donors a criterion alone excludes, and none for a criterion failed with another', () => {
    const c = count({ specimenTypes: ['serum'], sex: ['male'] });
    expect(c.fit).toEqual({ samples: 1, donors: 1 });
    expect(c.excludedBy).toEqual([
      { criterion: 'specimenTypes', samples: 0, donors: 0 },
      { criterion: 'sex', samples: 0, donors: 0 },
    ]);
    expect(count({ sex: ['male'] }).excludedBy).toEqual([{ criterion: 'sex', samples: 3, donors: 1 }]);
  });

  it('groups a sample under each of its donor’s diagnoses, and controls under none', () => {
    expect(count({}, ['diagnosis']).groups).toEqual([
      { key: { diagnosis: null }, samples: 3, donors: 1 },
      { key: { diagnosis: 'C50.9' }, samples: 1, donors: 1 },
      { key: { diagnosis: 'I21.9' }, samples: 1, donors: 1 },
    ]);
    expect(count({}, ['diagnosisChapter', 'specimenType']).groups).toEqual([
      { key: { diagnosisChapter: null, specimenType: 'plasma' }, samples: 3, donors: 1 },
      { key: { diagnosisChapter: 'II', specimenType: 'serum' }, samples: 1, donors: 1 },
      { key: { diagnosisChapter: 'IX', specimenType: 'serum' }, samples: 1, donors: 1 },
    ]);
    expect(count({}, ['sex', 'ageBand', 'storageTemperature', 'diseaseArea']).groups[0]).toEqual({
      key: { sex: 'female', ageBand: 50, storageTemperature: '-60 °C to -85 °C', diseaseArea: 'tumour' },
      samples: 2,
      donors: 1,
    });
  });

  it('names only the groups the disclosure rule lets through', () => {
    const c = countCatalogue(snapshot, {
      providerIds: ['P1', 'P2'],
      use: 'external_sharing',
      criteria: {},
      groupBy: ['provider'],
      listed: (g) => g.samples >= 2,
    });
    expect(c.groups).toEqual([{ key: { provider: 'P1' }, samples: 4, donors: 2 }]);
    expect(c.shareable).toEqual({ samples: 5, donors: 3 });
  });
});
