import type { MercuriusContext, MercuriusLoaders } from 'mercurius';
import { distinct } from '../../graphql/adapter.js';
import { linkedContainerDtos } from '../storage/index.js';
import type { SpecimenDto } from './specimens.schemas.js';
import { toSpecimenDto } from './specimens.dto.js';

// Specimen relations (STYLE.md rule 17): src/graphql/batch.ts collects every request for a field
// made in the same tick (a whole page of specimens) and calls its loader once, so each relation
// costs one service call, whatever the page size. The services check the role and the institution.

type Queries = { obj: SpecimenDto }[];

export const specimenLoaders: MercuriusLoaders = {
  Specimen: {
    async parent(queries: Queries, { biobank, services }: MercuriusContext) {
      const ids = distinct(queries.map((q) => q.obj.parentId));
      if (ids.length === 0) return queries.map(() => null);
      const byId = new Map(
        (await services.specimens.getSpecimensByIds(biobank, ids)).map((v) => [v.row.id, toSpecimenDto(v)]),
      );
      return queries.map((q) => (q.obj.parentId ? (byId.get(q.obj.parentId) ?? null) : null));
    },

    async children(queries: Queries, { biobank, services }: MercuriusContext) {
      const byParent = new Map<string, SpecimenDto[]>();
      for (const v of await services.specimens.childrenOf(biobank, distinct(queries.map((q) => q.obj.id)))) {
        const dto = toSpecimenDto(v);
        byParent.set(dto.parentId!, [...(byParent.get(dto.parentId!) ?? []), dto]);
      }
      return queries.map((q) => byParent.get(q.obj.id) ?? []);
    },

    async latestCustodyEvent(queries: Queries, { biobank, services }: MercuriusContext) {
      const bySpecimen = await services.specimens.latestCustodyEventDtos(
        biobank,
        distinct(queries.map((q) => q.obj.id)),
      );
      return queries.map((q) => bySpecimen.get(q.obj.id) ?? null);
    },

    async container(queries: Queries, { biobank, services }: MercuriusContext) {
      const ids = distinct(queries.map((q) => q.obj.location?.containerId));
      if (ids.length === 0) return queries.map(() => null);
      // With their parents preloaded: `container { parent }` costs this one statement.
      const byId = linkedContainerDtos(await services.storage.getContainersByIds(biobank, ids));
      return queries.map((q) => {
        const id = q.obj.location?.containerId;
        return id ? (byId.get(id) ?? null) : null;
      });
    },
  },
};
