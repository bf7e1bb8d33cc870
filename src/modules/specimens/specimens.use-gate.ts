// What the specimens module asks of consent, as an interface the composition root fills with the
// consent gate: specimens never import consent, so consent can use the specimen ledger.
import type { Ctx } from '../../context.js';
import type { Tx } from '../../db/client.js';
import { USES, type Use } from '../../vocabulary/uses.js';
import type { SpecimenRow } from './specimens.table.js';

/** The consent facts the scan lookup reads with the specimen (one statement, see scan-lookup.read-model.ts). */
export interface ScanConsentFacts {
  participantId: string | null;
  holds: readonly string[];
  protocolTiers: readonly string[] | null;
  consent: {
    status: 'active' | 'withdrawn' | 'expired';
    responses: Record<string, 'yes' | 'no' | 'unspecified'>;
    expiresOn: string | null;
  } | null;
}

/** Answers whether a specimen may be used for a purpose; the consent capability provides it. */
export interface UseGate {
  /** Throws CONSENT_NOT_GRANTED when a specimen may not be used for the use. */
  assertUsable(tx: Tx, ctx: Ctx, specimens: SpecimenRow[], use: string | undefined): Promise<void>;
  /** Holds a new specimen of this donor starts with (e.g. consent already withdrawn). */
  holdsAtBirth(tx: Tx, participantId: string | null, protocolId: string | null): Promise<string[]>;
  /** The uses the facts permit today (the scan lookup's `permittedUses`). */
  usesNow(facts: ScanConsentFacts): Use[];
}

/** No consent rules: for specimens outside any donor consent (and the composition root's fallback). */
export const openUseGate: UseGate = {
  assertUsable: async () => undefined,
  holdsAtBirth: async () => [],
  usesNow: (f) => (f.holds.length > 0 ? [] : [...USES]),
};
