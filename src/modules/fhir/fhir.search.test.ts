import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../errors.js';
import { dateRange, parseSpecimenSearch, splitEscaped } from './fhir.search.js';

describe('dateRange', () => {
  it('gives the instants a date stands for, by its precision', () => {
    const iso = (v: string) => {
      const r = dateRange(v);
      return r && [r.start.toISOString(), r.end.toISOString()];
    };
    expect(iso('2024')).toEqual(['2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z']);
    expect(iso('2024-02')).toEqual(['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
    expect(iso('2024-12-31')).toEqual(['2024-12-31T00:00:00.000Z', '2025-01-01T00:00:00.000Z']);
    expect(iso('2024-02-29T10:00:00+02:00')).toEqual([
      '2024-02-29T08:00:00.000Z',
      '2024-02-29T08:00:01.000Z',
    ]);
    expect(iso('2024-02-29T10:00:00.5Z')).toEqual(['2024-02-29T10:00:00.500Z', '2024-02-29T10:00:00.600Z']);
    expect(iso('2024-02-29T10:00:00.123Z')).toEqual(['2024-02-29T10:00:00.123Z', '2024-02-29T10:00:00.124Z']);
  });

  it('refuses dates that do not exist and date-times without seconds or time zone', () => {
    for (const v of [
      '2023-02-29',
      '2024-13',
      '2024-04-31',
      '2024-01-01T24:00:00Z',
      '2024-01-01T10:00Z',
      '2024-01-01T10:00:00',
      '24',
      '',
    ])
      expect(dateRange(v), v).toBeNull();
  });
});

describe('splitEscaped', () => {
  it('splits where the separator is not escaped and unescapes', () => {
    expect(splitEscaped('urn:x|A\\|B', '|')).toEqual(['urn:x', 'A|B']);
    expect(splitEscaped('a\\,b,c', ',')).toEqual(['a,b', 'c']);
  });
});

describe('parseSpecimenSearch', () => {
  it('turns prefixes into bounds on the last update', () => {
    const q = parseSpecimenSearch({ _lastUpdated: ['gt2024-01-01', 'le2024-02'] });
    expect(q.lastUpdated).toEqual([
      { op: '>=', at: '2024-01-02T00:00:00.000Z' },
      { op: '<', at: '2024-03-01T00:00:00.000Z' },
    ]);
    expect(parseSpecimenSearch({ _lastUpdated: '2024' }).lastUpdated).toHaveLength(2);
    expect(parseSpecimenSearch({ _lastUpdated: 'lt2024' }).lastUpdated).toEqual([
      { op: '<', at: '2024-01-01T00:00:00.000Z' },
    ]);
  });

  it('reads identifiers and types with alternatives, and the page size', () => {
    const q = parseSpecimenSearch({
      identifier: 'https://biobank.dev/fhir/sid/external/LIS|A\\,1,https://biobank.dev/fhir/sid/barcode|T-1',
      type: 'http://terminology.hl7.org/CodeSystem/v2-0487|WBC,serum',
      _count: '20',
    });
    expect(q.identifiers).toEqual([
      { kind: 'external', system: 'LIS', value: 'A,1' },
      { kind: 'barcode', barcode: 'T-1' },
    ]);
    expect(q.types?.sort()).toEqual(['buffy_coat', 'pbmc', 'serum']);
    expect(q.count).toBe(20);
  });

  it('names every parameter it cannot use in one refusal', () => {
    try {
      parseSpecimenSearch({ colour: 'red', _count: '-1', identifier: 'nobar' });
      expect.unreachable();
    } catch (err) {
      expect(isDomainError(err) && err.errors.map((e) => e.field).sort()).toEqual([
        '_count',
        'colour',
        'identifier',
      ]);
    }
  });
});
