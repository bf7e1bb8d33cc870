// The sharing service: the module's use cases composed into the one object routes, resolvers and
// job handlers call (agreements, requests, proposals, review, deadlines, notifications,
// shipments and their receipt).
import { systemClock, type Clock } from '../../clock.js';
import type { Db } from '../../db/client.js';
import type { ConsentGate } from '../consent/index.js';
import type { SpecimenLedger } from '../specimens/index.js';
import { createAgreements } from './sharing.agreements.js';
import { createDeadlines } from './sharing.deadlines.js';
import { createNotifications, type SharingEvents } from './sharing.notify.js';
import { createProposal } from './sharing.proposal.js';
import { createRequests } from './sharing.requests.js';
import { createReceipt } from './sharing.receipt.js';
import { createReview } from './sharing.review.js';
import { createShipments } from './sharing.shipments.js';

export interface SharingServiceDeps {
  db: Db;
  /** the only author of specimen rows: reservations and their release */
  ledger: SpecimenLedger;
  /** consent, checked when tubes are reserved; its day judges agreements and consents */
  gate: Pick<ConsentGate, 'assertUsable' | 'today'>;
  /** deadlines and timeline times come from this clock */
  clock?: Clock;
  /** live events of requests, for GraphQL subscriptions (Redis, so every API process hears them) */
  events: SharingEvents;
}

export function createSharingService(deps: SharingServiceDeps) {
  const clock = deps.clock ?? systemClock;
  const today = () => deps.gate.today();
  const { db, ledger, gate, events } = deps;
  return {
    ...createAgreements({ db }),
    ...createRequests({ db, ledger, clock, today }),
    ...createProposal({ db, clock, today }),
    ...createReview({ db, ledger, gate, clock, today }),
    ...createDeadlines({ db, ledger, clock }),
    ...createNotifications({ db, clock, events }),
    ...createShipments({ db, ledger, gate, clock, today }),
    ...createReceipt({ db, ledger, clock }),
  };
}

export type SharingService = ReturnType<typeof createSharingService>;
