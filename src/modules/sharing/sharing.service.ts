// The sharing service: the module's use cases composed into the one object routes, resolvers and
// job handlers call (agreements, requests and their proposals, review, deadlines).
import type { Clock } from '../../clock.js';
import type { Db } from '../../db/client.js';
import { createAgreements } from './sharing.agreements.js';

export interface SharingServiceDeps {
  db: Db;
  /** agreement dates and deadlines are judged on this clock */
  clock?: Clock;
}

export function createSharingService(deps: SharingServiceDeps) {
  return {
    ...createAgreements({ db: deps.db }),
  };
}

export type SharingService = ReturnType<typeof createSharingService>;
