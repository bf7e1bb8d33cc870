import { describe, expect, it } from 'vitest';
import { evaluateUse, permittedUses, type ConsentFacts } from './consent.eligibility.js';
import { USES, USE_TIER } from '../../vocabulary/uses.js';

const TIERS = Object.values(USE_TIER);
const TODAY = '2026-11-21';

/** Every subset of the tiers, with one answer per asked tier drawn from `answers`. */
function* consents(): Generator<ConsentFacts | null> {
  yield null;
  for (const status of ['active', 'withdrawn', 'expired'] as const)
    for (const expiresOn of [null, '2026-11-20', TODAY, '2026-11-22'])
      for (let mask = 0; mask < 3 ** TIERS.length; mask++) {
        const responses: ConsentFacts['responses'] = {};
        TIERS.forEach((tier, i) => {
          const answer = Math.floor(mask / 3 ** i) % 3;
          if (answer === 1) responses[tier] = 'yes';
          if (answer === 2) responses[tier] = 'no';
        });
        yield { status, responses, expiresOn };
      }
}

describe('permittedUses', () => {
  it('permits exactly the uses evaluateUse permits, over every combination', () => {
    let cases = 0;
    for (const participantId of [null, 'p1'])
      for (const holds of [[], ['CONSENT_WITHDRAWN'], ['QC_FAILED']])
        for (let tierMask = 0; tierMask < 2 ** TIERS.length; tierMask++) {
          const asked = TIERS.filter((_, i) => tierMask & (1 << i));
          for (const protocolTiers of tierMask === 0 ? [null, asked] : [asked])
            for (const consent of consents()) {
              const facts = { participantId, holds, protocolTiers, consent, today: TODAY };
              const expected = USES.filter((use) => evaluateUse({ ...facts, use }).permitted);
              expect(permittedUses(facts)).toEqual(expected);
              cases++;
            }
        }
    expect(cases).toBe(2 * 3 * 17 * (1 + 3 * 4 * 3 ** TIERS.length));
  });

  it('lets the study consent imply internal research unless the protocol asks that tier', () => {
    const consent: ConsentFacts = {
      status: 'active',
      responses: { GENETIC_RESEARCH: 'yes' },
      expiresOn: null,
    };
    const base = { participantId: 'p1', holds: [], consent, today: TODAY };
    expect(permittedUses({ ...base, protocolTiers: ['GENETIC_RESEARCH'] })).toEqual([
      'internal_research',
      'genetic_research',
    ]);
    expect(permittedUses({ ...base, protocolTiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH'] })).toEqual([
      'genetic_research',
    ]);
    expect(permittedUses({ ...base, protocolTiers: [], consent: { ...consent, expiresOn: TODAY } })).toEqual(
      [],
    );
    expect(permittedUses({ ...base, protocolTiers: [], participantId: null, holds: ['QC_FAILED'] })).toEqual(
      [],
    );
  });
});
