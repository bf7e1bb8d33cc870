// The consent service: the use cases of the module composed into the one object routes,
// resolvers, job handlers and other services call (consent records, the withdrawal cascade,
// destruction), plus the uses each specimen is permitted for now.
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import type { SpecimenLedger } from '../specimens/index.js';
import type { Use } from '../../vocabulary/uses.js';
import { createWithdrawalCascade, type WithdrawalSubscriber } from './consent.cascade.js';
import { createDestruction, type SpecimenReads } from './consent.destruction.js';
import { createConsentGate, type ConsentGate } from './consent.gate.js';
import { createConsentRecords } from './consent.records.js';

export interface ConsentServiceDeps {
  db: Db;
  /** the only author of specimen rows: locks, lifecycle checks, holds and destruction */
  ledger: SpecimenLedger;
  specimenReads: SpecimenReads;
  subscribers?: WithdrawalSubscriber[];
  /** The gate holds no state; the container may pass its own. */
  gate?: ConsentGate;
  /** consent expiry is judged on this clock's date */
  clock?: Clock;
}

export function createConsentService(deps: ConsentServiceDeps) {
  const { db } = deps;
  const gate = deps.gate ?? createConsentGate({ clock: deps.clock });

  return {
    ...createConsentRecords({ db, clock: deps.clock }),
    ...createWithdrawalCascade({ db, ledger: deps.ledger, subscribers: deps.subscribers }),
    ...createDestruction({ db, ledger: deps.ledger, specimenReads: deps.specimenReads }),

    /**
     * The uses each given specimen of the caller's institution may be put to now, by the same
     * decision the gate applies at every use. Three queries whatever the count (specimens,
     * current consents, protocol tiers); another institution's ids are left out. Throws FORBIDDEN.
     */
    async permittedUses(ctx: Ctx, specimenIds: readonly string[]): Promise<Map<string, Use[]>> {
      authorize(ctx.actor, 'specimens.read');
      const rows = await deps.specimenReads.findSpecimensByIds(
        db,
        actorInstitutionId(ctx.actor),
        specimenIds,
      );
      return gate.permittedUsesOf(db, rows);
    },
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;
