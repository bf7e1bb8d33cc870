import { describe, expect, it } from 'vitest';
import {
  centrifugationCode,
  classifyProcessingTemperature,
  fixationTimeCode,
  ischaemiaCode,
  longTermStorageCode,
  postCentrifugationCode,
  preCentrifugationCode,
} from './sprec.letters.js';

describe('preCentrifugationCode', () => {
  it.each([
    [90, 'RT', 'A'],
    [119, 'RT', 'A'],
    [120, 'RT', 'C'],
    [300, 'RT', 'E'],
    [30, '2-10C', 'B'],
    [239, '2-10C', 'D'],
    [2879, 'RT', 'K'],
    [2880, 'RT', 'M'],
    [3000, '2-10C', 'N'],
    [60, '35-38C', 'O'],
    [120, '35-38C', 'Z'],
    [60, 'other', 'Z'],
  ] as const)('codes %d min at %s as %s', (minutes, temperature, code) => {
    expect(preCentrifugationCode(minutes, temperature, '3.0')).toBe(code);
  });

  it('returns X when the delay or the temperature is unknown', () => {
    expect(preCentrifugationCode(null, 'RT', '2.0')).toBe('X');
    expect(preCentrifugationCode(90, null, '2.0')).toBe('X');
  });

  it('throws on a negative delay', () => {
    expect(() => preCentrifugationCode(-1, 'RT', '2.0')).toThrow(RangeError);
  });
});

describe('postCentrifugationCode', () => {
  it.each([
    [59, '2-10C', 'A'],
    [59, 'RT', 'B'],
    [60, '2-10C', 'C'],
    [60, 'RT', 'D'],
    [479, 'RT', 'F'],
    [1440, '2-10C', 'I'],
    [1440, 'RT', 'J'],
    [30, '35-38C', 'Z'],
  ] as const)('codes %d min at %s as %s', (minutes, temperature, code) => {
    expect(postCentrifugationCode(minutes, temperature, '2.0')).toBe(code);
  });

  it('returns X when unknown', () => {
    expect(postCentrifugationCode(null, null, '3.0')).toBe('X');
  });
});

describe('centrifugationCode', () => {
  const run = { speedG: 2500, temperature: 'RT' as const, durationMinutes: 10, brake: false };

  it('codes a 10 min RT run below 3000 g without brake as A', () => {
    expect(centrifugationCode(run, '3.0')).toBe('A');
  });

  it('puts exactly 3000 g in the 3000–6000 g band', () => {
    expect(centrifugationCode({ ...run, speedG: 3000, brake: true }, '3.0')).toBe('E');
  });

  it('codes 2–10 °C 6000–10 000 g with brake as H', () => {
    expect(centrifugationCode({ ...run, temperature: '2-10C', speedG: 8000, brake: true }, '2.0')).toBe('H');
  });

  it('codes above 10 000 g at 2–10 °C with brake as J', () => {
    expect(centrifugationCode({ ...run, temperature: '2-10C', speedG: 12000, brake: true }, '2.0')).toBe('J');
  });

  it('codes a combination the table lacks as Z', () => {
    expect(centrifugationCode({ ...run, speedG: 4000, brake: false }, '3.0')).toBe('Z');
    expect(centrifugationCode({ ...run, durationMinutes: 20 }, '3.0')).toBe('Z');
  });

  it('codes the 30 min <1000 g run as M for the first centrifugation only', () => {
    const slow = { ...run, speedG: 800, durationMinutes: 30 };
    expect(centrifugationCode(slow, '2.0', 'first')).toBe('M');
    expect(centrifugationCode(slow, '2.0', 'second')).toBe('Z');
  });

  it('returns N for no centrifugation and X for unknown', () => {
    expect(centrifugationCode('none', '3.0')).toBe('N');
    expect(centrifugationCode(null, '3.0')).toBe('X');
    expect(centrifugationCode({ ...run, brake: null }, '3.0')).toBe('X');
  });
});

describe('longTermStorageCode', () => {
  it.each([
    [-80, 'ppTube05To2mL', 'A'],
    [-85, 'ppTube05To2mL', 'A'],
    [-60, 'ppTube05To2mL', 'A'],
    [-20, 'ppTube05To2mL', 'B'],
    [-150, 'ppTube05To2mL', 'V'],
    [-196, 'cryotube1To2mL', 'C'],
    [-80, 'cryotube1To2mL', 'D'],
    [-80, 'ppTube40To500uL', 'S'],
    [-20, 'ppTube5mLPlus', 'K'],
    [-80, 'originalPrimaryContainer', 'Y'],
    [-20, 'originalPrimaryContainer', 'Y'],
    [20, 'paraffinBlock', 'P'],
    [4, 'paraffinBlock', 'P'],
    [-50, 'ppTube05To2mL', 'Z'],
    [-100, 'cryotube1To2mL', 'Z'],
  ] as const)('codes %d °C in %s as %s', (celsius, container, code) => {
    expect(longTermStorageCode(celsius, container)).toBe(code);
  });

  it('distinguishes programmable freezing and transfer after −80 °C', () => {
    expect(longTermStorageCode(-150, 'cryotube1To2mL', { protocol: 'programmableFreezing' })).toBe('E');
    expect(
      longTermStorageCode(-196, 'cryotube1To2mL', { protocol: 'liquidNitrogenAfterUltraLowFreezer' }),
    ).toBe('N');
    expect(longTermStorageCode(-196, 'straw', { protocol: 'programmableFreezing' })).toBe('I');
  });

  it('never computes the unverified U paraffin code', () => {
    expect(longTermStorageCode(20, 'paraffinBlock', { version: '4.0' })).toBe('P');
  });

  it('returns X when the temperature or the container is unknown', () => {
    expect(longTermStorageCode(null, 'ppTube05To2mL')).toBe('X');
    expect(longTermStorageCode(-80)).toBe('X');
  });
});

describe('ischaemiaCode and fixationTimeCode', () => {
  it.each([
    [0, 'A'],
    [1.9, 'A'],
    [2, 'B'],
    [10, 'C'],
    [59, 'E'],
    [60, 'F'],
    [600, 'F'],
  ] as const)('codes %d min of cold ischaemia as %s', (minutes, code) => {
    expect(ischaemiaCode(minutes, 'cold', '2.0')).toBe(code);
  });

  it('codes warm ischaemia with the same bands and X when unknown', () => {
    expect(ischaemiaCode(25, 'warm', '3.0')).toBe('D');
    expect(ischaemiaCode(null, 'warm', '3.0')).toBe('X');
  });

  it.each([
    [14, 'A'],
    [15, 'B'],
    [60, 'C'],
    [300, 'D'],
    [1440, 'F'],
    [4319, 'G'],
    [4320, 'Z'],
  ] as const)('codes %d min of fixation as %s', (minutes, code) => {
    expect(fixationTimeCode(minutes, '2.0')).toBe(code);
  });

  it('returns X for an unknown fixation time', () => {
    expect(fixationTimeCode(null, '3.0')).toBe('X');
  });
});

describe('classifyProcessingTemperature', () => {
  it.each([
    [4, '2-10C'],
    [21, 'RT'],
    [37, '35-38C'],
    [12, 'other'],
    [null, null],
  ] as const)('maps %s °C to %s', (celsius, band) => {
    expect(classifyProcessingTemperature(celsius)).toBe(band);
  });
});
