import { systemClock, utcDay, type Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { protocolTiers } from '../participants/index.js';
import type { SpecimenRow } from '../specimens/index.js';
import { evaluateUse, permittedUses, type ConsentFacts } from './consent.eligibility.js';
import { consentNotGranted, unknownUse } from './consent.errors.js';
import { currentConsentWithdrawn, findCurrentConsents } from './consent.repo.js';
import { DEFAULT_USE, USES, type Use } from '../../vocabulary/uses.js';

/** The UTC date of `now`, YYYY-MM-DD: the day consent expiry is judged on. */
export function today(now: Date): string {
  return now.toISOString().slice(0, 10);
}

interface ConsentContext {
  consent: ConsentFacts | null;
  protocolTiers: string[] | null;
}

/** Current consents and protocol tiers for (participant, protocol) pairs, in two queries. */
export async function loadConsentContexts(
  db: DbOrTx,
  rows: Pick<SpecimenRow, 'participantId' | 'protocolId'>[],
  opts: { lock?: boolean } = {},
): Promise<Map<string, ConsentContext>> {
  const pairs = rows.filter((r) => r.participantId !== null);
  const out = new Map<string, ConsentContext>();
  if (pairs.length === 0) return out;
  const participantIds = [...new Set(pairs.map((r) => r.participantId!))];
  // FOR SHARE: a withdrawal (FOR UPDATE) and a use of the same donor's tubes serialise, so a new
  // aliquot is either seen by the cascade or born knowing the consent is withdrawn.
  const consentRows = await findCurrentConsents(db, participantIds, { lock: opts.lock });
  const protocolIds = [...new Set(pairs.map((r) => r.protocolId).filter((p): p is string => p !== null))];
  const tiers = await protocolTiers(db, protocolIds);
  for (const r of pairs) {
    const c = consentRows.find((x) => x.participantId === r.participantId && x.protocolId === r.protocolId);
    out.set(`${r.participantId}:${r.protocolId}`, {
      consent: c ? { status: c.status, responses: c.responses, expiresOn: c.expiresOn } : null,
      protocolTiers: r.protocolId ? (tiers.get(r.protocolId) ?? null) : null,
    });
  }
  return out;
}

export function parseUse(use: string | undefined): Use {
  if (use === undefined) return DEFAULT_USE;
  if ((USES as readonly string[]).includes(use)) return use as Use;
  throw unknownUse(use, USES);
}

/**
 * The consent gate the inventory calls wherever a specimen is used or released (check-out,
 * aliquoting, derivation, and later sharing).
 */
export function createConsentGate(deps: { clock?: Clock } = {}) {
  const day = utcDay(deps.clock ?? systemClock);
  return {
    /** Today's UTC date by the gate's clock (consent expiry is judged on it). */
    today: day,

    /** Throws CONSENT_NOT_GRANTED naming the tier, UNKNOWN_USE. */
    async assertUsable(tx: Tx, _ctx: Ctx, rows: SpecimenRow[], useName: string | undefined): Promise<void> {
      const use = parseUse(useName);
      const contexts = await loadConsentContexts(tx, rows, { lock: true });
      const today = day();
      for (const row of rows) {
        const c = contexts.get(`${row.participantId}:${row.protocolId}`) ?? {
          consent: null,
          protocolTiers: null,
        };
        // Holds other than consent are the lifecycle's to refuse (SPECIMEN_ON_HOLD).
        const holds = row.holds.filter((h) => h === 'CONSENT_WITHDRAWN');
        const verdict = evaluateUse({ participantId: row.participantId, holds, ...c, use, today });
        if (!verdict.permitted) {
          throw consentNotGranted(row.barcode, use, verdict.reason, verdict.tier);
        }
      }
    },

    /** Holds a new specimen of this donor is born with (a withdrawn consent holds it at once). */
    async holdsAtBirth(tx: Tx, participantId: string | null, protocolId: string | null): Promise<string[]> {
      if (!participantId) return [];
      return (await currentConsentWithdrawn(tx, participantId, protocolId)) ? ['CONSENT_WITHDRAWN'] : [];
    },

    /** The uses each specimen is permitted for now (scan lookup, GraphQL permittedUses). */
    async permittedUsesOf(db: DbOrTx, rows: SpecimenRow[]): Promise<Map<string, Use[]>> {
      const contexts = await loadConsentContexts(db, rows);
      const today = day();
      return new Map(
        rows.map((row) => {
          const c = contexts.get(`${row.participantId}:${row.protocolId}`) ?? {
            consent: null,
            protocolTiers: null,
          };
          return [row.id, permittedUses({ participantId: row.participantId, holds: row.holds, ...c, today })];
        }),
      );
    },
  };
}

export type ConsentGate = ReturnType<typeof createConsentGate>;
