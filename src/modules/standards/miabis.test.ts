import { describe, expect, it } from 'vitest';
import {
  checkMiabisDonor,
  checkMiabisSample,
  miabisSex,
  miabisStorageTemperature,
  toMiabisCollection,
} from './miabis.js';

describe('miabisStorageTemperature', () => {
  it('maps temperatures to the MIABIS Core 3 bands', () => {
    expect([-196, -135, -80, -60, -20, 4, 21, -5, null].map((c) => miabisStorageTemperature(c))).toEqual([
      '<-135 °C',
      '<-135 °C',
      '-60 °C to -85 °C',
      '-60 °C to -85 °C',
      '-18 °C to -35 °C',
      '2 °C to 10 °C',
      'RT',
      'Other',
      null,
    ]);
  });
});

describe('individual-level checks', () => {
  it('warns about missing sample attributes', () => {
    expect(
      checkMiabisSample({
        type: 'fresh_frozen_tissue',
        status: 'available',
        collectedAt: null,
        containerId: 'c',
        storageTemperatureC: null,
        anatomicSite: null,
      }),
    ).toMatchObject({
      outcome: 'warn',
      missing: [
        'sample collection date (MIABIS-SAMPLE-04)',
        'storage temperature (MIABIS-SAMPLE-03)',
        'anatomical site (MIABIS-SAMPLE-05)',
      ],
    });
    expect(
      checkMiabisSample({
        type: 'serum',
        status: 'pending',
        collectedAt: new Date(),
        containerId: null,
        storageTemperatureC: null,
        anatomicSite: null,
      }).outcome,
    ).toBe('pass');
  });

  it('warns about missing donor attributes without naming their values', () => {
    expect(checkMiabisDonor({ participantId: null, collectedAt: null, donor: null }).message).toBe(
      'no sample donor linked (MIABIS-SAMPLEDONOR-01)',
    );
    const d = checkMiabisDonor({
      participantId: 'p',
      collectedAt: new Date('2024-01-01'),
      donor: { sex: 'unknown', birthYear: null, diagnoses: ['C18.0', 'colon'] },
    });
    expect(d.missing).toEqual([
      'donor sex (MIABIS-SAMPLEDONOR-02)',
      'age at collection (birth year and collection date)',
      'valid ICD-10 diagnosis codes (1 not ICD-10)',
    ]);
    expect(d.message).not.toContain('colon');
    expect(
      checkMiabisDonor({
        participantId: 'p',
        collectedAt: new Date('2024-01-01'),
        donor: { sex: 'male', birthYear: 1960, diagnoses: ['C18.0'] },
      }).outcome,
    ).toBe('pass');
  });
});

describe('toMiabisCollection', () => {
  it('shapes a Core 3 collection, merging types of one MIABIS sample type', () => {
    const c = toMiabisCollection('BB1', {
      protocolId: 'p',
      protocolCode: 'ONCO',
      title: 'Oncology cohort',
      ethicsApprovalRef: 'EC-1',
      samples: 3,
      donors: 2,
      sexes: ['female', 'male', 'other'],
      ageLow: 40,
      ageHigh: 71,
      byType: [
        { type: 'plasma', samples: 2 },
        { type: 'plasma_double_spun', samples: 1 },
        { type: 'dna', samples: 1 },
      ],
      temperaturesC: [-80, -190, -80],
      diagnoses: ['C50.9', 'C18.0', 'C18.0', 'bad'],
    });
    expect(c).toMatchObject({
      id: 'BB1:collection:ONCO',
      acronym: 'ONCO',
      sex: ['Female', 'Male', 'Undifferentiated'],
      ageLow: 40,
      ageHigh: 71,
      ageLowUnit: 'Years',
      sampleTypes: ['DNA', 'Plasma'],
      materials: [
        { sampleType: 'DNA', materialType: 'DNA', numberOfSamples: 1 },
        { sampleType: 'Plasma', materialType: 'PLASMA', numberOfSamples: 3 },
      ],
      storageTemperatures: ['-60 °C to -85 °C', '<-135 °C'],
      diseases: [
        { ontology: 'ICD-10', code: 'C18.0', uri: 'urn:miriam:icd:C18.0' },
        { ontology: 'ICD-10', code: 'C50.9', uri: 'urn:miriam:icd:C50.9' },
      ],
      numberOfSamples: 3,
      totalNumberOfSubjects: 2,
    });
    expect(miabisSex('unknown')).toBe('Unknown');
  });
});
