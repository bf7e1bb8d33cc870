// The specimen service: the use cases of the specimens module, composed. Each lives in its own
// file (register, upsert, actions, lineage, queries); every write goes through the specimen ledger.
import type pg from 'pg';
import type { Db } from '../../db/client.js';
import { createSpecimenActions } from './specimens.actions.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import { createSpecimenLineage } from './specimens.lineage.js';
import { createSpecimenQueries } from './specimens.queries.js';
import { createSpecimenRegistration } from './specimens.register.js';
import { createSpecimenUpsert } from './specimens.upsert.js';
import type { CustodyLinkReader } from './specimens.custody-link.js';
import { openUseGate, type UseGate } from './specimens.use-gate.js';

export interface SpecimenServiceDeps {
  db: Db;
  ledger: SpecimenLedger;
  /** the raw pool, for the prepared scan lookup */
  pool: pg.Pool;
  useGate?: UseGate;
  /** the time an aliquot is processed at when the caller names none; what "the future" is */
  clock?: () => Date;
  /** checks the link of a chain that began at another institution (sharing provides it) */
  custodyLinks?: CustodyLinkReader;
}

export function createSpecimenService(deps: SpecimenServiceDeps) {
  const clock = deps.clock ?? (() => new Date());
  const parts = { db: deps.db, ledger: deps.ledger, useGate: deps.useGate ?? openUseGate, clock };
  return {
    ...createSpecimenRegistration(parts),
    ...createSpecimenUpsert(parts),
    ...createSpecimenActions(parts),
    ...createSpecimenLineage({ ...parts, clock: deps.clock ?? (() => new Date()) }),
    ...createSpecimenQueries({
      db: deps.db,
      pool: deps.pool,
      useGate: parts.useGate,
      custodyLinks: deps.custodyLinks,
    }),
  };
}

export type SpecimenService = ReturnType<typeof createSpecimenService>;
