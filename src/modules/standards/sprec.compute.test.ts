import { describe, expect, it } from 'vitest';
import { decodeSprec, type SprecDecodeSuccess } from './sprec.js';
import {
  compareSprec,
  computeSprec,
  describeDisagreement,
  formatMinutes,
  sprecKindOf,
  type SprecInputs,
  type SprecRecord,
} from './sprec.compute.js';

const at = (hhmm: string, day = '2024-03-05') => new Date(`${day}T${hhmm}:00Z`);

function valid(code: string, version: '2.0' | '3.0' | '4.0' = '3.0'): SprecDecodeSuccess {
  const r = decodeSprec(code, version);
  if (!r.valid) throw new Error(JSON.stringify(r.errors));
  return r;
}

function record(over: Partial<SprecRecord> = {}): SprecRecord {
  return {
    type: 'serum',
    lineage: 'primary',
    collectedAt: at('08:00'),
    processedAt: at('09:00'),
    frozenAt: at('09:30'),
    quality: {},
    ...over,
  };
}

function inputs(over: Partial<SprecInputs> = {}): SprecInputs {
  return {
    record: record(),
    stated: null,
    storageTemperatureC: -80,
    source: null,
    root: null,
    version: '3.0',
    ...over,
  };
}

const valueAt = (code: string, position: number) => code.split('-')[position - 1];

describe('computeSprec: fluids', () => {
  it('reads 5 h at room temperature as E and flags a stated A at position 3 only', () => {
    const stated = valid('SER-SST-A-D-N-A-B');
    const computed = computeSprec(
      inputs({
        record: record({
          processedAt: at('13:00'),
          frozenAt: at('13:30'),
          quality: { postCentrifugationTempC: 4 },
        }),
        stated,
        storageTemperatureC: -20,
      }),
    )!;
    expect(computed.code).toBe('SER-XXX-E-X-X-A-B');
    const cmp = compareSprec(stated, computed);
    expect(cmp.disagreements.map((d) => [d.position, d.stated, d.computed])).toEqual([[3, 'A', 'E']]);
    expect(describeDisagreement(cmp.disagreements[0]!)).toBe(
      'position 3 (pre-centrifugation delay): stated A (<2 h at room temperature), the record implies E (4–8 h at room temperature): 5 h 0 min from collection to processing at room temperature (assumed: no temperature recorded)',
    );
    // X on either side is unknown, not a disagreement: container, centrifugation, second spin.
    expect(cmp.unknown).toBe(3);
    expect(cmp.compared).toBe(4);
  });

  it('takes the pre-centrifugation temperature from the record when it is there', () => {
    const c = computeSprec(
      inputs({ record: record({ processedAt: at('13:00'), quality: { preCentrifugationTempC: 4 } }) }),
    )!;
    expect(valueAt(c.code, 3)).toBe('F');
    expect(c.positions[2]!.basis).toContain('4 °C recorded (2–10 °C)');
  });

  it('computes a recorded centrifugation run and the post-centrifugation delay after it', () => {
    const c = computeSprec(
      inputs({
        record: record({
          type: 'plasma',
          frozenAt: at('11:30'),
          quality: {
            centrifugationG: 2000,
            centrifugationMin: 10,
            centrifugationTempC: 4,
            centrifugationBrake: 1,
          },
        }),
      }),
    )!;
    // PL1: no second spin; 2.5 h at room temperature after the spin is F.
    expect(c.code).toBe('PL1-XXX-A-D-N-F-X');
  });

  it('knows whole blood is never spun and leaves unknown what the record does not hold', () => {
    const c = computeSprec(inputs({ record: record({ type: 'whole_blood' }) }))!;
    expect(c.code).toBe('BLD-XXX-A-N-N-N-X');
    const urine = computeSprec(inputs({ record: record({ type: 'urine' }) }))!;
    // Urine may or may not be spun: nothing is said about centrifugation or the delay after it.
    expect(urine.code).toBe('URN-XXX-A-X-X-X-X');
  });

  it('accepts a stated urine variant the record cannot tell apart', () => {
    const stated = valid('URM-PPS-A-N-N-N-A');
    const c = computeSprec(inputs({ record: record({ type: 'urine' }), stated }))!;
    expect(valueAt(c.code, 1)).toBe('URM');
    expect(compareSprec(stated, c).disagreements).toEqual([]);
  });

  it('reads the tube kind from the stated storage letter and the temperature from the container', () => {
    const stated = valid('SER-SST-A-D-N-A-B');
    const c = computeSprec(inputs({ stated, storageTemperatureC: -80 }))!;
    expect(valueAt(c.code, 7)).toBe('A');
    expect(compareSprec(stated, c).disagreements.map((d) => d.position)).toContain(7);
    // A programmable-freezing letter in a -80 °C freezer: the same tube stored there plainly.
    const e = computeSprec(
      inputs({ stated: valid('URN-PPS-A-N-N-N-E'), record: record({ type: 'urine' }) }),
    )!;
    expect(valueAt(e.code, 7)).toBe('D');
  });

  it('leaves long-term storage unknown without a stated letter or a temperature', () => {
    expect(valueAt(computeSprec(inputs())!.code, 7)).toBe('X');
    expect(
      valueAt(
        computeSprec(inputs({ stated: valid('SER-SST-A-D-N-A-B'), storageTemperatureC: null }))!.code,
        7,
      ),
    ).toBe('X');
  });

  it('takes the primary container of a derived fluid from the root’s stated code', () => {
    const c = computeSprec(
      inputs({ record: record({ type: 'plasma', lineage: 'derivative' }), root: valid('BLD-PED-A-N-N-N-D') }),
    )!;
    expect(valueAt(c.code, 2)).toBe('PED');
  });

  it('notes times that run backwards and leaves the position unknown', () => {
    const c = computeSprec(inputs({ record: record({ processedAt: at('07:00') }) }))!;
    expect(valueAt(c.code, 3)).toBe('X');
    expect(c.notes).toEqual(['processing is recorded before collection']);
  });
});

describe('computeSprec: aliquots inherit positions 1-6', () => {
  it('from the parent’s stated code when it is valid', () => {
    const parent = valid('SER-SST-C-D-N-A-B');
    const c = computeSprec(
      inputs({
        record: record({ lineage: 'aliquot', collectedAt: null, processedAt: null }),
        source: { record: record(), stated: parent },
        storageTemperatureC: -80,
      }),
    )!;
    expect(c.code).toBe('SER-SST-C-D-N-A-X');
    expect(c.positions[2]!.basis).toBe("inherited from the parent's stated code SER-SST-C-D-N-A-B");
  });

  it('from the parent’s record when it states no code, while position 7 is the aliquot’s own', () => {
    const c = computeSprec(
      inputs({
        record: record({ lineage: 'aliquot', processedAt: at('20:00') }),
        source: { record: record({ processedAt: at('13:00'), frozenAt: at('13:30') }), stated: null },
        stated: valid('SER-SST-E-D-N-B-B'),
        storageTemperatureC: -20,
      }),
    )!;
    expect(c.code).toBe('SER-XXX-E-X-X-B-B');
    expect(c.positions[2]!.basis).toMatch(/^inherited from the parent's record: 5 h 0 min/);
  });
});

describe('computeSprec: solid tissue', () => {
  it('uses recorded ischaemia and fixation times and the fixation the type implies', () => {
    const c = computeSprec(
      inputs({
        record: record({
          type: 'fresh_frozen_tissue',
          quality: { warmIschaemiaMin: 1, coldIschaemiaMin: 25 },
        }),
        storageTemperatureC: -190,
        stated: valid('TIS-SRG-A-D-SNP-N-V'),
      }),
    )!;
    expect(c.code).toBe('TIS-XXX-A-D-SNP-X-V');
    expect(compareSprec(valid('TIS-SRG-A-D-SNP-N-V'), c).disagreements).toEqual([]);
  });

  it('leaves ischaemia and fixation unknown when not recorded (FFPE fixative unknown)', () => {
    const stated = valid('TIS-SRG-A-B-NBF-C-P');
    const c = computeSprec(
      inputs({ record: record({ type: 'ffpe_block' }), stated, storageTemperatureC: 20 }),
    )!;
    expect(c.code).toBe('TIS-XXX-X-X-XXX-X-P');
    expect(compareSprec(stated, c)).toMatchObject({ disagreements: [], compared: 2, unknown: 5 });
  });
});

describe('sprecKindOf and formatting', () => {
  it('gives no SPREC kind for extracted analytes', () => {
    expect(sprecKindOf('dna')).toBeNull();
    expect(computeSprec(inputs({ record: record({ type: 'rna' }) }))).toBeNull();
    expect(sprecKindOf('serum')).toBe('fluid');
    expect(sprecKindOf('ffpe_slide')).toBe('solid');
  });

  it('formats durations in minutes, hours or days', () => {
    expect(formatMinutes(45)).toBe('45 min');
    expect(formatMinutes(300)).toBe('5 h 0 min');
    expect(formatMinutes(3 * 1440 + 120)).toBe('3 d 2 h');
  });
});
