import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { findInstitutionById, institutionNotFound } from '../institutions/index.js';
import { listProtocolRows } from '../participants/index.js';
import { toMiabisCollection, type CollectionAggregate } from './miabis.js';
import { miabisCollectionFigures } from './miabis-collections.read-model.js';

/** The biobank's collections as MIABIS Core 3.0 describes them (BBMRI-ERIC Directory). */
export function createMiabisService(deps: { db: Db }) {
  const { db } = deps;
  return {
    /**
     * The institution's collections (one per protocol) as MIABIS Core 3.0 aggregates. Samples are
     * counted as MIABIS does: distinct lineage roots, so the aliquots and derivatives of one sample
     * count once; specimens used up, destroyed, given away or missing are not counted.
     * Throws INSTITUTION_NOT_FOUND.
     */
    async exportMiabisCollections(ctx: Ctx) {
      authorize(ctx.actor, 'standards.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const institution = await findInstitutionById(db, institutionId);
      if (!institution) throw institutionNotFound(institutionId);
      const [figures, protocolRows] = await Promise.all([
        miabisCollectionFigures(db, institutionId),
        listProtocolRows(db, institutionId),
      ]);
      const total = new Map(figures.totals.map((r) => [r.protocol_id, r]));
      const donorFacts = new Map(figures.donors.map((r) => [r.protocol_id, r]));
      const collections = protocolRows
        .filter((p) => total.has(p.id))
        .map((p) => {
          const d = donorFacts.get(p.id);
          const aggregate: CollectionAggregate = {
            protocolId: p.id,
            protocolCode: p.code,
            title: p.title,
            ethicsApprovalRef: p.ethicsApprovalRef,
            samples: total.get(p.id)!.samples,
            donors: total.get(p.id)!.donors,
            sexes: d?.sexes ?? [],
            ageLow: d?.age_low ?? null,
            ageHigh: d?.age_high ?? null,
            byType: figures.byType
              .filter((r) => r.protocol_id === p.id)
              .map((r) => ({ type: r.type, samples: r.samples })),
            temperaturesC: figures.temps
              .filter((r) => r.protocol_id === p.id && r.temperature_c !== null)
              .map((r) => r.temperature_c!),
            diagnoses: d?.diagnoses ?? [],
          };
          return toMiabisCollection(institution.code, aggregate);
        });
      return {
        biobank: { id: institution.code, acronym: institution.code, name: institution.name },
        collections,
      };
    },
  };
}
