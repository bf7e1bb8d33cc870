import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../errors.js';
import { specimenFromFhir } from './fhir-specimen.input.js';

const refusal = (resource: unknown) => {
  try {
    specimenFromFhir(resource);
  } catch (err) {
    if (isDomainError(err)) return err.errors.map((e) => `${e.field}: ${e.message}`);
  }
  throw new Error('not refused');
};

describe('specimenFromFhir', () => {
  it('maps the elements we store onto the registration body', () => {
    const r = specimenFromFhir(
      {
        resourceType: 'Specimen',
        identifier: [
          { system: 'https://biobank.dev/fhir/sid/barcode', value: 'T-1' },
          { system: 'urn:oid:1.2.3', value: 'X' },
        ],
        accessionIdentifier: { system: 'https://biobank.dev/fhir/sid/external/LIS', value: 'ACC-1' },
        type: {
          coding: [
            { system: 'http://snomed.info/sct', code: '119361006' },
            { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'PPP' },
          ],
        },
        subject: { reference: 'Patient/0190a1b2-0000-7000-8000-000000000001' },
        collection: {
          collectedDateTime: '2024-01-01T10:00:00+01:00',
          quantity: { value: 3, system: 'http://unitsofmeasure.org', code: 'mL' },
          bodySite: {
            coding: [{ system: 'http://snomed.info/sct', code: '368208006', display: 'Left upper arm' }],
          },
        },
        processing: [
          {
            procedure: { coding: [{ system: 'http://snomed.info/sct', code: '27872000' }] },
            timePeriod: { start: '2024-01-01T12:00:00Z' },
          },
        ],
        extension: [
          { url: 'https://biobank.dev/fhir/StructureDefinition/pathology-status', valueCode: 'malignant' },
        ],
        status: 'entered-in-error',
      },
      { kind: 'external', system: 'LIS', value: 'ACC-1' },
    );
    expect(r.body).toEqual({
      barcode: 'T-1',
      externalIds: [
        { system: 'LIS', value: 'ACC-1' },
        { system: 'urn:oid:1.2.3', value: 'X' },
      ],
      // SNOMED CT says plasma, 0487 PPP says which plasma
      type: 'plasma_double_spun',
      participantId: '0190a1b2-0000-7000-8000-000000000001',
      collectedAt: '2024-01-01T10:00:00+01:00',
      quantity: 3,
      unit: 'mL',
      anatomicSite: 'Left upper arm',
      frozenAt: '2024-01-01T12:00:00Z',
      pathologyStatus: 'malignant',
    });
  });

  it('puts the identifier of a conditional update first when no accession identifier is sent', () => {
    const r = specimenFromFhir(
      { resourceType: 'Specimen', identifier: [{ system: 'urn:oid:9', value: 'B' }] },
      { kind: 'external', system: 'urn:oid:1', value: 'A' },
    );
    expect(r.body.externalIds).toEqual([
      { system: 'urn:oid:1', value: 'A' },
      { system: 'urn:oid:9', value: 'B' },
    ]);
  });

  it('refuses what it cannot read, naming each element', () => {
    expect(refusal({ resourceType: 'Observation' })).toEqual([
      'resourceType: expected Specimen, got "Observation"',
    ]);
    expect(
      refusal({
        resourceType: 'Specimen',
        identifier: [
          { system: 'https://biobank.dev/fhir/sid/barcode', value: 'A' },
          { system: 'https://biobank.dev/fhir/sid/barcode', value: 'B' },
        ],
        type: { coding: [{ system: 'http://snomed.info/sct', code: '119376003' }] },
        collection: { quantity: { value: 1, unit: 'pints' } },
      }),
    ).toEqual([
      'Specimen.identifier[1]: barcode B differs from A',
      expect.stringMatching(
        /^Specimen.type: the codings name several specimen types \(fresh_frozen_tissue, oct_tissue, ffpe_block\)/,
      ),
      expect.stringMatching(/^Specimen.collection.quantity: unit pints/),
    ]);
  });

  it('refuses a processing step it would not store, instead of dropping it', () => {
    const sct = (code: string) => ({ coding: [{ system: 'http://snomed.info/sct', code }] });
    expect(
      refusal({
        resourceType: 'Specimen',
        processing: [
          { procedure: sct('9265001'), timeDateTime: '2024-01-01T10:00:00Z' },
          {
            procedure: { coding: [{ system: 'http://loinc.org', code: '33882-2' }] },
            timeDateTime: '2024-01-01T11:00:00Z',
          },
          { timeDateTime: '2024-01-01T11:30:00Z' },
          { procedure: sct('27872000') },
        ],
      }),
    ).toEqual([
      expect.stringMatching(/^Specimen.processing\[1\].procedure: a processing step here is coded/),
      expect.stringMatching(/^Specimen.processing\[2\].procedure: /),
      'Specimen.processing[3].time: a processing or freezing step states its timeDateTime (or timePeriod.start)',
    ]);
  });
});
