import type { ConsentResponse } from './consent.table.js';
import { IMPLIED_BY_STUDY_CONSENT, USES, USE_TIER, type Use } from '../../vocabulary/uses.js';

// The one decision "may this specimen be used for this use?" (pure, unit-tested). Services call
// it through the consent gate wherever a specimen is used or released.

export interface ConsentFacts {
  status: 'active' | 'withdrawn' | 'expired';
  responses: Record<string, ConsentResponse>;
  expiresOn: string | null;
}

export interface EligibilityInput {
  /** null: not donor material (e.g. a control), consent does not apply */
  participantId: string | null;
  holds: readonly string[];
  protocolTiers: readonly string[] | null;
  consent: ConsentFacts | null;
  use: Use;
  /** YYYY-MM-DD */
  today: string;
}

export type Eligibility =
  { permitted: true; use: Use } | { permitted: false; use: Use; tier: string | null; reason: string };

export function evaluateUse(i: EligibilityInput): Eligibility {
  const tier = USE_TIER[i.use];
  if (i.holds.includes('CONSENT_WITHDRAWN'))
    return { permitted: false, use: i.use, tier, reason: 'consent was withdrawn' };
  if (i.holds.length > 0)
    return { permitted: false, use: i.use, tier: null, reason: `on hold (${i.holds.join(', ')})` };
  if (i.participantId === null) return { permitted: true, use: i.use };
  const c = i.consent;
  if (!c) return { permitted: false, use: i.use, tier, reason: 'no consent on file' };
  if (c.status === 'withdrawn')
    return { permitted: false, use: i.use, tier, reason: 'consent was withdrawn' };
  if (c.status === 'expired' || (c.expiresOn !== null && c.expiresOn <= i.today)) {
    return {
      permitted: false,
      use: i.use,
      tier,
      reason: `consent expired on ${c.expiresOn ?? 'an earlier date'}`,
    };
  }
  const asked = i.protocolTiers?.includes(tier) ?? false;
  if (!asked) {
    return IMPLIED_BY_STUDY_CONSENT.has(i.use)
      ? { permitted: true, use: i.use }
      : { permitted: false, use: i.use, tier, reason: `the protocol does not ask for ${tier}` };
  }
  const response = c.responses[tier] ?? 'unspecified';
  return response === 'yes'
    ? { permitted: true, use: i.use }
    : { permitted: false, use: i.use, tier, reason: `the donor answered ${response} to ${tier}` };
}

/**
 * Every use `evaluateUse` permits, decided once for all uses: the scan lookup asks on every scan,
 * and needs no reasons. A unit test holds the two equal over every combination.
 */
export function permittedUses(i: Omit<EligibilityInput, 'use'>): Use[] {
  if (i.holds.length > 0) return [];
  if (i.participantId === null) return [...USES];
  const c = i.consent;
  if (!c || c.status !== 'active' || (c.expiresOn !== null && c.expiresOn <= i.today)) return [];
  return USES.filter((use) => {
    const tier = USE_TIER[use];
    return i.protocolTiers?.includes(tier) ? c.responses[tier] === 'yes' : IMPLIED_BY_STUDY_CONSENT.has(use);
  });
}
