import type { MercuriusContext, MercuriusLoaders } from 'mercurius';
import { distinct } from '../../graphql/adapter.js';
import type { SpecimenDto } from '../specimens/index.js';
import { toConsentGql } from './consent.dto.js';

// Consent relations of other modules' types (STYLE.md rule 17): one service call per page of
// participants or specimens, whatever its size. The services check the role and the institution.

export const consentLoaders: MercuriusLoaders = {
  Participant: {
    async consents(queries: { obj: { id: string } }[], { biobank, services }: MercuriusContext) {
      const byParticipant = new Map<string, ReturnType<typeof toConsentGql>[]>();
      const rows = await services.consent.listConsentsOfParticipants(
        biobank,
        distinct(queries.map((q) => q.obj.id)),
      );
      for (const row of rows) {
        byParticipant.set(row.participantId, [
          ...(byParticipant.get(row.participantId) ?? []),
          toConsentGql(row),
        ]);
      }
      return queries.map((q) => byParticipant.get(q.obj.id) ?? []);
    },
  },
  Specimen: {
    async permittedUses(queries: { obj: SpecimenDto }[], { biobank, services }: MercuriusContext) {
      const uses = await services.consent.permittedUses(biobank, distinct(queries.map((q) => q.obj.id)));
      return queries.map((q) => uses.get(q.obj.id) ?? []);
    },
  },
};
