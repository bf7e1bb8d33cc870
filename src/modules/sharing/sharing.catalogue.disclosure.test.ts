import { describe, expect, it } from 'vitest';
import { byWholeYears, namedGroup, publish } from './sharing.catalogue.disclosure.js';

describe('catalogue disclosure', () => {
  it('shows counts rounded down to a multiple of 5, and "<5" for 0 to 4', () => {
    expect([0, 1, 4, 5, 9, 10, 12, 1234].map(publish)).toEqual(['<5', '<5', '<5', 5, 5, 10, 10, 1230]);
  });

  it('never lets one shown count minus another pin a value of 1 to 4', () => {
    // For any true pair a = b + x (x in 1..4), every b consistent with what is shown leaves x open.
    for (let b = 0; b < 60; b++)
      for (let x = 1; x <= 4; x++) {
        const shown = [publish(b + x), publish(b)];
        const candidates = new Set<number>();
        for (let b2 = 0; b2 < 70; b2++)
          for (let x2 = 1; x2 <= 4; x2++)
            if (publish(b2 + x2) === shown[0] && publish(b2) === shown[1]) candidates.add(x2);
        expect(candidates.size, `b=${b} x=${x}`).toBeGreaterThan(1);
      }
  });

  it('names a group of at least 5 samples from at least 5 donors', () => {
    expect(namedGroup({ samples: 5, donors: 5 })).toBe(true);
    expect(namedGroup({ samples: 40, donors: 4 })).toBe(false);
    expect(namedGroup({ samples: 4, donors: 4 })).toBe(false);
  });

  it('widens collection dates to whole years', () => {
    expect(byWholeYears({ collectedFrom: '2021-06-15', collectedTo: '2023-02-01', sex: ['male'] })).toEqual({
      collectedFrom: '2021-01-01',
      collectedTo: '2023-12-31',
      sex: ['male'],
    });
    expect(byWholeYears({})).toEqual({});
  });
});
