import { describe, expect, it } from 'vitest';
import { unknownSpecimenElements } from './fhir-elements.js';

describe('unknownSpecimenElements', () => {
  it('accepts every R4 element, stored or not, and primitive extension siblings', () => {
    expect(
      unknownSpecimenElements({
        resourceType: 'Specimen',
        id: 'x',
        meta: { versionId: '1' },
        status: 'available',
        _receivedTime: { extension: [] },
        identifier: [{ system: 's', value: 'v', use: 'usual' }],
        type: { coding: [{ system: 's', code: 'c', display: 'd' }], text: 't' },
        collection: {
          collectedDateTime: '2024-01-01',
          _collectedDateTime: { extension: [] },
          quantity: { value: 1, code: 'mL', system: 'http://unitsofmeasure.org' },
          bodySite: { text: 'arm' },
        },
        processing: [{ procedure: { coding: [{ code: 'x' }] }, timeDateTime: '2024-01-01' }],
        container: [{ anything: 'not looked into' }],
        note: [{ text: 'n' }],
      }),
    ).toEqual([]);
  });

  it('names each misspelt element by its path', () => {
    expect(
      unknownSpecimenElements({
        resourceType: 'Specimen',
        collecton: {},
        collection: { collectedDatetime: '2024-01-01', bodySite: { txt: 'arm' } },
        processing: [{}, { time: '2024-01-01' }],
        type: { coding: [{ sytem: 's' }] },
      }).map((p) => p.field),
    ).toEqual([
      'Specimen.collecton',
      'Specimen.collection.collectedDatetime',
      'Specimen.collection.bodySite.txt',
      'Specimen.processing[1].time',
      'Specimen.type.coding[0].sytem',
    ]);
  });
});
