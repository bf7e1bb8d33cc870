import { describe, expect, it } from 'vitest';
import type { SpecimenRow } from './specimens.table.js';
import { addedExternalIds, fixedFieldConflicts, statedEdit } from './specimens.upsert-rules.js';

// The upsert's rules every surface shares (REST, GraphQL, FHIR): pure, so decided once here.

const NOW = new Date('2026-03-01T10:00:00Z');

function tube(over: Partial<SpecimenRow> = {}): SpecimenRow {
  return {
    id: 't-1',
    institutionId: 'i-1',
    barcode: 'T-1',
    type: 'plasma',
    lineage: 'primary',
    parentId: null,
    rootId: 't-1',
    participantId: null,
    protocolId: null,
    anatomicSite: null,
    pathologyStatus: 'unknown',
    collectedAt: null,
    receivedAt: null,
    processedAt: null,
    frozenAt: null,
    sprecCode: null,
    sprecVersion: null,
    unit: 'mL',
    initialQuantity: 2,
    availableQuantity: 2,
    quality: {},
    freezeThawCount: 0,
    status: 'available',
    holds: [],
    qcStatus: 'unchecked',
    containerId: 'box-1',
    positionRow: 1,
    positionCol: 1,
    externalIds: [],
    custodySeq: 2,
    custodyHead: 'h',
    createdAt: NOW,
    updatedAt: NOW,
    version: 3,
    ...over,
  };
}

const LIS = { system: 'LIS', value: 'ACC-1' };
const ORDER = { system: 'urn:order', value: 'O-1' };
const key = { kind: 'external' as const, ...LIS };

describe('fixedFieldConflicts', () => {
  it('compares only what is stated, quantities at the stored scale', () => {
    const row = tube({ initialQuantity: 2.5, unit: 'mL' });
    expect(fixedFieldConflicts(row, {})).toEqual([]);
    expect(fixedFieldConflicts(row, { type: 'plasma', quantity: 2.50001, barcode: 'T-1' })).toEqual([]);
  });

  it('names every fixed field stated differently, the id and parent FHIR states included', () => {
    const row = tube({ initialQuantity: 2, unit: 'mL' });
    const fields = fixedFieldConflicts(row, {
      id: 't-2',
      barcode: 'T-2',
      type: 'serum',
      quantity: 3,
      unit: 'uL',
      participantId: 'p-1',
      parentId: 't-0',
    }).map((p) => p.field);
    expect(fields).toEqual(['id', 'barcode', 'type', 'quantity', 'unit', 'participantId', 'parentId']);
  });
});

describe('external ids', () => {
  it('adds what is new and removes nothing', () => {
    expect(addedExternalIds([LIS], [LIS])).toBeUndefined();
    expect(addedExternalIds([LIS, ORDER], [])).toBeUndefined();
    expect(addedExternalIds([LIS], [ORDER, ORDER])).toEqual([LIS, ORDER]);
  });

  it('adds the key itself when the tube does not hold it yet', () => {
    expect(statedEdit(tube({ externalIds: [ORDER] }), {}, key)).toEqual({ externalIds: [ORDER, LIS] });
    expect(statedEdit(tube({ externalIds: [LIS, ORDER] }), { externalIds: [LIS] }, key)).toEqual({});
  });
});

describe('statedEdit', () => {
  it('holds only the descriptive fields that differ', () => {
    const row = tube({
      externalIds: [LIS],
      anatomicSite: 'vein',
      receivedAt: new Date('2026-03-01T10:00:00Z'),
    });
    expect(statedEdit(row, { anatomicSite: 'vein', receivedAt: '2026-03-01T11:00:00+01:00' }, key)).toEqual(
      {},
    );
    expect(statedEdit(row, { anatomicSite: 'artery' }, key)).toEqual({ anatomicSite: 'artery' });
  });
});
