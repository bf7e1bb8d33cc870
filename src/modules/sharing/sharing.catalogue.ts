// The partner catalogue (issue 10, points 2 and 3): for the asking institution, how many
// specimens of every provider that has an agreement with it covering a use could be shared for
// that use, fit for a purpose, and what each criterion alone excluded; counted over the catalogue
// snapshot and shown only as the disclosure rule allows (sharing.catalogue.disclosure.ts).
import type { Ctx, Log } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import { systemClock, utcDay, type Clock } from '../../clock.js';
import type { Db } from '../../db/client.js';
import { findInstitutionsByIds } from '../institutions/index.js';
import { readCatalogueFacts } from './catalogue-facts.read-model.js';
import { countCatalogue, type CatalogueCount } from './sharing.catalogue.count.js';
import { byWholeYears, namedGroup, publishCount } from './sharing.catalogue.disclosure.js';
import { agreementsCovering } from './sharing.catalogue.repo.js';
import type { CatalogueInput } from './sharing.catalogue.schemas.js';
import { createSnapshotStore } from './sharing.catalogue.snapshot.js';
import { compileCriteria, type Criteria } from './sharing.criteria.js';

export interface CatalogueServiceDeps {
  db: Db;
  clock?: Clock;
  /** the oldest inventory an answer may come from (config CATALOGUE_TTL_MS) */
  maxAgeMs: number;
  log?: Log;
}

export interface CatalogueProvider {
  id: string;
  code: string;
  name: string;
  agreementId: string;
}

export type CatalogueView = ReturnType<typeof publishCount> & {
  use: CatalogueInput['use'];
  asOf: Date;
  providers: CatalogueProvider[];
  criteria: Criteria;
  groupBy: CatalogueInput['groupBy'];
};

const nothing = (criteria: Criteria): CatalogueCount => ({
  shareable: { samples: 0, donors: 0 },
  fit: { samples: 0, donors: 0 },
  excludedBy: compileCriteria(criteria).map((c) => ({ criterion: c.field, samples: 0, donors: 0 })),
  groups: [],
});

export function createCatalogueService(deps: CatalogueServiceDeps) {
  const clock = deps.clock ?? systemClock;
  const day = utcDay(clock);
  const snapshots = createSnapshotStore({
    read: (today) => readCatalogueFacts(deps.db, today),
    clock,
    maxAgeMs: deps.maxAgeMs,
    log: deps.log,
  });

  return {
    /**
     * Counts, for the caller's institution, the specimens of every provider whose agreement with
     * it covers `use` today. No agreement: an empty catalogue. Throws FORBIDDEN.
     */
    async getCatalogue(ctx: Ctx, input: CatalogueInput): Promise<CatalogueView> {
      authorize(ctx.actor, 'sharing.request');
      const requesterId = actorInstitutionId(ctx.actor);
      const criteria = byWholeYears(input.criteria);
      const agreements = await agreementsCovering(deps.db, requesterId, input.use, day());
      const institutions = new Map(
        (
          await findInstitutionsByIds(
            deps.db,
            agreements.map((a) => a.providerInstitutionId),
          )
        ).map((i) => [i.id, i]),
      );
      const providers = agreements.flatMap((a) => {
        const i = institutions.get(a.providerInstitutionId);
        return i ? [{ id: i.id, code: i.code, name: i.name, agreementId: a.id }] : [];
      });
      // Each question is kept in the log with what it asked: a trail if answers are ever
      // combined to narrow a count (the disclosure rule's residual risk).
      ctx.log.info(
        {
          catalogue: {
            use: input.use,
            groupBy: input.groupBy,
            criteria,
            providers: providers.map((p) => p.code),
          },
        },
        'catalogue asked',
      );
      const snapshot = providers.length ? await snapshots.current() : null;
      const raw = snapshot
        ? countCatalogue(snapshot, {
            providerIds: providers.map((p) => p.id),
            use: input.use,
            criteria,
            groupBy: input.groupBy,
            listed: namedGroup,
          })
        : nothing(criteria);
      const codeOf = new Map(providers.map((p) => [p.id, p.code]));
      for (const g of raw.groups)
        if (typeof g.key.provider === 'string') g.key.provider = codeOf.get(g.key.provider) ?? null;
      return {
        use: input.use,
        asOf: snapshot?.asOf ?? clock(),
        providers,
        criteria,
        groupBy: input.groupBy,
        ...publishCount(raw),
      };
    },
  };
}

export type CatalogueService = ReturnType<typeof createCatalogueService>;
