import { describe, expect, it } from 'vitest';
import {
  SPREC_FLUID_PATTERN,
  SPREC_SOLID_PATTERN,
  decodeSprec,
  type SprecDecodeFailure,
  type SprecDecodeResult,
  type SprecDecodeSuccess,
} from './sprec.js';
import {
  SPREC_FLUID_FIELDS,
  SPREC_SOLID_FIELDS,
  SPREC_VERSIONS,
  findSprecEntry,
  longTermStorageCodesAtOrBelow,
  sprecTable,
  type SprecVersion,
} from './sprec.vocabulary.js';

function expectValid(result: SprecDecodeResult): SprecDecodeSuccess {
  if (!result.valid) {
    throw new Error(`expected valid, got ${JSON.stringify(result.errors)}`);
  }
  return result;
}

function expectInvalid(result: SprecDecodeResult): SprecDecodeFailure {
  if (result.valid) throw new Error(`expected invalid, got ${JSON.stringify(result.fields)}`);
  return result;
}

describe('decodeSprec: published examples', () => {
  it.each<SprecVersion>(['2.0', '3.0', '4.0'])(
    'decodes SER-SST-A-D-N-A-B field by field as fluid in SPREC %s',
    (version) => {
      const result = expectValid(decodeSprec('SER-SST-A-D-N-A-B', version));
      expect(result.kind).toBe('fluid');
      expect(result.version).toBe(version);
      expect(result.fields).toEqual([
        {
          position: 1,
          charStart: 1,
          name: 'typeOfSample',
          value: 'SER',
          meaning: 'Serum',
          unknown: false,
          other: false,
          notApplicable: false,
        },
        {
          position: 2,
          charStart: 5,
          name: 'primaryContainer',
          value: 'SST',
          meaning: 'Serum separator tube with clot activator',
          unknown: false,
          other: false,
          notApplicable: false,
        },
        {
          position: 3,
          charStart: 9,
          name: 'preCentrifugation',
          value: 'A',
          meaning: '<2 h at room temperature',
          unknown: false,
          other: false,
          notApplicable: false,
        },
        {
          position: 4,
          charStart: 11,
          name: 'centrifugation',
          value: 'D',
          meaning: '2–10 °C, 10–15 min, <3000 g, with braking',
          unknown: false,
          other: false,
          notApplicable: false,
        },
        {
          position: 5,
          charStart: 13,
          name: 'secondCentrifugation',
          value: 'N',
          meaning: 'No centrifugation',
          unknown: false,
          other: false,
          notApplicable: true,
        },
        {
          position: 6,
          charStart: 15,
          name: 'postCentrifugation',
          value: 'A',
          meaning: '<1 h at 2–10 °C',
          unknown: false,
          other: false,
          notApplicable: false,
        },
        {
          position: 7,
          charStart: 17,
          name: 'longTermStorage',
          value: 'B',
          meaning: 'PP tube 0.5–2 mL, −35 to −18 °C',
          unknown: false,
          other: false,
          notApplicable: false,
        },
      ]);
    },
  );

  it('decodes TIS-SRG-A-B-NBF-C-P field by field as solid', () => {
    const result = expectValid(decodeSprec('TIS-SRG-A-B-NBF-C-P', '3.0'));
    expect(result.kind).toBe('solid');
    expect(
      result.fields.map(({ position, charStart, name, value, meaning }) => ({
        position,
        charStart,
        name,
        value,
        meaning,
      })),
    ).toEqual([
      { position: 1, charStart: 1, name: 'typeOfSample', value: 'TIS', meaning: 'Solid tissue' },
      { position: 2, charStart: 5, name: 'typeOfCollection', value: 'SRG', meaning: 'Surgical excision' },
      { position: 3, charStart: 9, name: 'warmIschaemia', value: 'A', meaning: '<2 min' },
      { position: 4, charStart: 11, name: 'coldIschaemia', value: 'B', meaning: '2–10 min' },
      {
        position: 5,
        charStart: 13,
        name: 'fixationType',
        value: 'NBF',
        meaning: 'Neutral buffered formalin',
      },
      { position: 6, charStart: 17, name: 'fixationTime', value: 'C', meaning: '1–4 h' },
      {
        position: 7,
        charStart: 19,
        name: 'longTermStorage',
        value: 'P',
        meaning: 'Paraffin block, room temperature or 2–10 °C',
      },
    ]);
    expect(result.fields.every((f) => !f.unknown && !f.other && !f.notApplicable)).toBe(true);
  });

  it('decodes a double-spun plasma code with a real second centrifugation', () => {
    const result = expectValid(decodeSprec('PL2-PED-B-D-D-A-A', '2.0'));
    expect(result.fields[0]).toMatchObject({ value: 'PL2', meaning: 'Plasma, double spun' });
    expect(result.fields[1]).toMatchObject({ value: 'PED', meaning: 'Potassium EDTA' });
    expect(result.fields[4]).toMatchObject({
      name: 'secondCentrifugation',
      value: 'D',
      notApplicable: false,
    });
  });

  it('decodes element codes that contain digits (U24, PL1, PI1, A06)', () => {
    const urine = expectValid(decodeSprec('U24-PPS-C-N-N-N-A', '2.0'));
    expect(urine.fields[0]).toMatchObject({ value: 'U24', meaning: '24 h urine' });
    expect(urine.fields[3]).toMatchObject({ value: 'N', notApplicable: true });

    const plasma = expectValid(decodeSprec('PL1-PI1-B-D-N-A-S', '3.0'));
    expect(plasma.fields[1]).toMatchObject({
      value: 'PI1',
      meaning: 'S8820 protease inhibitor tablets or equivalent',
    });

    const autopsy = expectValid(decodeSprec('TIS-A06-N-E-SNP-N-V', '2.0'));
    expect(autopsy.fields[1]).toMatchObject({ value: 'A06', meaning: 'Autopsy, <6 h post mortem' });
  });

  it('matches the published fluid and solid patterns', () => {
    expect(SPREC_FLUID_PATTERN.test('SER-SST-A-D-N-A-B')).toBe(true);
    expect(SPREC_FLUID_PATTERN.test('TIS-SRG-A-B-NBF-C-P')).toBe(false);
    expect(SPREC_SOLID_PATTERN.test('TIS-SRG-A-B-NBF-C-P')).toBe(true);
    expect(SPREC_SOLID_PATTERN.test('SER-SST-A-D-N-A-B')).toBe(false);
  });
});

describe('decodeSprec: fluid or solid', () => {
  it('uses element 5 to tell a fluid CEN code from a solid CEN code', () => {
    expect(expectValid(decodeSprec('CEN-PPS-A-N-N-N-C', '2.0')).kind).toBe('fluid');
    expect(expectValid(decodeSprec('CEN-SRG-A-A-SNP-N-C', '2.0')).kind).toBe('solid');
  });

  it('rejects fluid grammar on a tissue type at position 1', () => {
    const result = expectInvalid(decodeSprec('TIS-SST-A-D-N-A-B', '3.0'));
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ position: 1, charStart: 1, field: 'typeOfSample' });
    expect(result.errors[0]?.reason).toContain("'TIS' is a solid type of sample");
    expect(result.errors[0]?.reason).toContain('fluid structure');
  });

  it('rejects a solid code when a fluid code is expected', () => {
    const result = expectInvalid(decodeSprec('TIS-SRG-A-B-NBF-C-P', '3.0', { expectedKind: 'fluid' }));
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ position: 1, charStart: 1, field: 'typeOfSample' });
    expect(result.errors[0]?.reason).toContain('a fluid code was expected');
  });

  it('rejects a serum type when a solid code is expected', () => {
    const result = expectInvalid(decodeSprec('SER-SST-A-D-N-A-B', '2.0', { expectedKind: 'solid' }));
    expect(result.errors[0]).toMatchObject({ position: 1, field: 'typeOfSample' });
    expect(result.errors[0]?.reason).toContain("'SER' is a fluid type of sample");
  });

  it('rejects solid structure at position 5 when a fluid code is expected for a shared type', () => {
    const result = expectInvalid(decodeSprec('CEN-SRG-A-A-SNP-N-C', '2.0', { expectedKind: 'fluid' }));
    expect(result.errors).toEqual([
      expect.objectContaining({ position: 5, charStart: 13, field: 'secondCentrifugation' }),
    ]);
    expect(result.errors[0]?.reason).toContain('solid structure');
  });
});

describe('decodeSprec: malformed codes', () => {
  it('rejects an empty code', () => {
    const result = expectInvalid(decodeSprec('', '3.0'));
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ position: null, charStart: null, field: null });
    expect(result.errors[0]?.reason).toContain('empty code');
  });

  it('rejects a code with too few elements', () => {
    const result = expectInvalid(decodeSprec('SER-SST-A-D-N-A', '3.0'));
    expect(result.errors[0]).toMatchObject({ position: null, charStart: null, field: null });
    expect(result.errors[0]?.reason).toContain('expected 7 elements');
    expect(result.errors[0]?.reason).toContain('found 6');
  });

  it('rejects an element of the wrong length with its position and character offset', () => {
    const result = expectInvalid(decodeSprec('SER-SST-AB-D-N-A-B', '3.0'));
    expect(result.errors).toEqual([
      expect.objectContaining({ position: 3, charStart: 9, field: 'preCentrifugation' }),
    ]);
    expect(result.errors[0]?.reason).toContain("found 'AB' (2 characters)");
  });

  it('rejects lowercase letters and names the character', () => {
    const result = expectInvalid(decodeSprec('SER-SST-a-D-N-A-B', '3.0'));
    expect(result.errors).toEqual([
      expect.objectContaining({ position: 3, charStart: 9, field: 'preCentrifugation' }),
    ]);
    expect(result.errors[0]?.reason).toContain("lowercase 'a' at character 9");
  });

  it('rejects a fully lowercase code at every element', () => {
    const result = expectInvalid(decodeSprec('ser-sst-a-d-n-a-b', '3.0'));
    expect(result.errors.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects a letter not allowed at a position and lists the allowed letters', () => {
    const result = expectInvalid(decodeSprec('SER-SST-Q-D-N-A-B', '3.0'));
    expect(result.errors).toEqual([
      expect.objectContaining({ position: 3, charStart: 9, field: 'preCentrifugation' }),
    ]);
    expect(result.errors[0]?.reason).toContain(
      "'Q' is not a fluid pre-centrifugation delay code in SPREC 3.0",
    );
    expect(result.errors[0]?.reason).toContain('allowed: A, B, C');
  });

  it('rejects M as a second centrifugation because it is first-centrifugation only', () => {
    expect(decodeSprec('PL2-PED-A-M-B-A-A', '2.0').valid).toBe(true);
    const result = expectInvalid(decodeSprec('PL2-PED-A-B-M-A-A', '2.0'));
    expect(result.errors[0]).toMatchObject({ position: 5, charStart: 13, field: 'secondCentrifugation' });
  });

  it('reports every bad element, not only the first', () => {
    const result = expectInvalid(decodeSprec('SER-QQQ-A-D-N-Y-1', '2.0'));
    expect(result.errors.map((e) => [e.position, e.charStart, e.field])).toEqual([
      [2, 5, 'primaryContainer'],
      [6, 15, 'postCentrifugation'],
      [7, 17, 'longTermStorage'],
    ]);
    expect(result.errors[2]?.reason).toContain("'1' at character 17 is not allowed");
  });

  it('rejects an unknown type of sample', () => {
    const result = expectInvalid(decodeSprec('QQQ-SST-A-D-N-A-B', '3.0'));
    expect(result.errors[0]).toMatchObject({ position: 1, charStart: 1, field: 'typeOfSample' });
  });

  it('rejects a v4.0 container code decoded as SPREC 3.0 and says where it was introduced', () => {
    expect(decodeSprec('PL1-CIF-A-D-N-A-A', '4.0').valid).toBe(true);
    const result = expectInvalid(decodeSprec('PL1-CIF-A-D-N-A-A', '3.0'));
    expect(result.errors).toEqual([
      expect.objectContaining({ position: 2, charStart: 5, field: 'primaryContainer' }),
    ]);
    expect(result.errors[0]?.reason).toContain('introduced in SPREC 4.0');
  });

  it('rejects a v3.0 sample type and storage letter decoded as SPREC 2.0', () => {
    expect(decodeSprec('BON-SRG-A-A-SNP-N-U', '3.0').valid).toBe(true);
    const result = expectInvalid(decodeSprec('TIS-SRG-A-B-NBF-C-U', '2.0'));
    expect(result.errors).toEqual([
      expect.objectContaining({ position: 7, charStart: 19, field: 'longTermStorage' }),
    ]);
    expect(result.errors[0]?.reason).toContain('introduced in SPREC 3.0');

    const bone = expectInvalid(decodeSprec('BON-SRG-A-A-SNP-N-A', '2.0'));
    expect(bone.errors[0]).toMatchObject({ position: 1, field: 'typeOfSample' });
    expect(bone.errors[0]?.reason).toContain('introduced in SPREC 3.0');
  });

  it('mentions the unverified v4.0 centrifugation letters when one is rejected', () => {
    const result = expectInvalid(decodeSprec('SER-SST-A-K-N-A-B', '4.0'));
    expect(result.errors[0]?.reason).toContain('not verified');
  });

  it('rejects an unsupported version string coming from storage', () => {
    const result = expectInvalid(decodeSprec('SER-SST-A-D-N-A-B', '1.0' as SprecVersion));
    expect(result.errors[0]?.reason).toContain('unsupported SPREC version');
  });
});

describe('decodeSprec: sentinels', () => {
  it('reports X and XXX as unknown, not invalid', () => {
    const result = expectValid(decodeSprec('SER-XXX-X-X-X-X-X', '3.0'));
    expect(result.fields.slice(1).every((f) => f.unknown && !f.other && !f.notApplicable)).toBe(true);
  });

  it('reports Z and ZZZ as other', () => {
    const result = expectValid(decodeSprec('ZZZ-ZZZ-Z-Z-ZZZ-Z-Z', '2.0'));
    expect(result.kind).toBe('solid');
    expect(result.fields.every((f) => f.other && !f.unknown)).toBe(true);
  });

  it('reads N in pre-centrifugation as 2–10 °C for more than 48 h, not as not applicable', () => {
    const result = expectValid(decodeSprec('BLD-PED-N-N-N-N-N', '2.0'));
    const byName = Object.fromEntries(result.fields.map((f) => [f.name, f]));
    expect(byName.preCentrifugation).toMatchObject({ notApplicable: false, meaning: '>48 h at 2–10 °C' });
    expect(byName.centrifugation?.notApplicable).toBe(true);
    expect(byName.postCentrifugation?.notApplicable).toBe(true);
    expect(byName.longTermStorage).toMatchObject({ notApplicable: false });
  });

  it('keeps unknown ischaemia and fixation apart from not applicable', () => {
    const result = expectValid(decodeSprec('TIS-BPS-X-N-XXX-N-X', '3.0'));
    expect(result.fields.map((f) => [f.name, f.unknown, f.notApplicable])).toEqual([
      ['typeOfSample', false, false],
      ['typeOfCollection', false, false],
      ['warmIschaemia', true, false],
      ['coldIschaemia', false, true],
      ['fixationType', true, false],
      ['fixationTime', false, true],
      ['longTermStorage', true, false],
    ]);
  });
});

describe('vocabulary', () => {
  it('gives CPT its v4.0 meaning only from v4.0', () => {
    expect(findSprecEntry('fluid', 'primaryContainer', 'CPT', '3.0')?.meaning).toBe('Cell Preparation Tube');
    expect(findSprecEntry('fluid', 'primaryContainer', 'CPT', '4.0')?.meaning).toBe(
      'Cell Preparation Tube, citrate',
    );
  });

  it('holds distinct codes in every table of every version', () => {
    const layouts = [
      ['fluid', SPREC_FLUID_FIELDS],
      ['solid', SPREC_SOLID_FIELDS],
    ] as const;
    for (const version of SPREC_VERSIONS) {
      for (const [kind, fields] of layouts) {
        for (const field of fields) {
          const codes = (sprecTable(kind, field, version) ?? []).map((entry) => entry.code);
          expect(codes.length).toBeGreaterThan(0);
          expect(new Set(codes).size).toBe(codes.length);
        }
      }
    }
  });

  it('exposes structured delay data for computation', () => {
    const entry = findSprecEntry('fluid', 'preCentrifugation', 'E', '3.0');
    expect(entry?.sentinel).toBeNull();
    if (entry?.sentinel === null) {
      expect(entry.data).toEqual({
        delayMinutes: { min: 240, max: 480, maxInclusive: false },
        temperature: 'RT',
      });
    }
  });
});

describe('long-term storage codes by temperature', () => {
  it('lists the letters stored at or below -60 °C, leaving out mixed and unknown bands', () => {
    expect(longTermStorageCodesAtOrBelow(-60)).toEqual([
      'A',
      'C',
      'D',
      'E',
      'F',
      'G',
      'I',
      'J',
      'L',
      'N',
      'O',
      'Q',
      'S',
      'V',
      'W',
    ]);
  });

  it('lists only the cryogenic letters at or below -135 °C', () => {
    expect(longTermStorageCodesAtOrBelow(-135)).toEqual(['C', 'E', 'F', 'I', 'N', 'O', 'Q', 'V', 'W']);
  });
});
