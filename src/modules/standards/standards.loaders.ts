import type { MercuriusContext, MercuriusLoaders } from 'mercurius';
import { distinct, parseArgs, type Connection } from '../../graphql/adapter.js';
import { encodeCursor } from '../../pagination.js';
import type { SpecimenDto } from '../specimens/index.js';
import { toQcResultDto, toRulesetDto } from './standards.dto.js';
import { runResultsQuery } from './standards.schemas.js';

// Standardization relations (STYLE.md rule 17): Specimen.qcResults and Protocol.qualityRules cost
// one statement per page of specimens or protocols, whatever its size. The service checks the
// role and keeps to the actor's institution.

type RunResultsParams = { outcome?: unknown; first?: unknown; after?: unknown };

export const standardsLoaders: MercuriusLoaders = {
  Specimen: {
    async qcResults(queries: { obj: SpecimenDto }[], { biobank, services }: MercuriusContext) {
      const bySpecimen = await services.standards.listQcResultsOfSpecimens(
        biobank,
        distinct(queries.map((q) => q.obj.id)),
      );
      return queries.map((q) => (bySpecimen.get(q.obj.id) ?? []).map(toQcResultDto));
    },
  },
  Protocol: {
    async qualityRules(queries: { obj: { id: string } }[], { biobank, services }: MercuriusContext) {
      const byProtocol = await services.standards.listCurrentQualityRules(
        biobank,
        distinct(queries.map((q) => q.obj.id)),
      );
      return queries.map((q) =>
        toRulesetDto({ protocolId: q.obj.id, row: byProtocol.get(q.obj.id) ?? null }),
      );
    },
  },
  StandardizationRun: {
    // A keyset page per run and arguments (a query rarely asks for the results of more than one
    // run); one refused argument fails only its own field.
    async results(queries: { obj: { id: string }; params: RunResultsParams }[], ctx: MercuriusContext) {
      return Promise.all(
        queries.map(async (q) => {
          try {
            const query = parseArgs(runResultsQuery, {
              outcome: q.params.outcome,
              cursor: q.params.after,
              limit: q.params.first,
            });
            const page = await ctx.services.standards.listStandardizationRunResults(
              ctx.biobank,
              q.obj.id,
              query,
            );
            const connection: Connection<unknown> = {
              edges: page.items.map((i) => ({
                cursor: encodeCursor(i.specimenId),
                node: { ...i, results: i.results.map(toQcResultDto) },
              })),
              pageInfo: {
                endCursor:
                  page.nextCursor ?? (page.items.length ? encodeCursor(page.items.at(-1)!.specimenId) : null),
                hasNextPage: page.nextCursor !== null,
              },
            };
            return connection;
          } catch (err) {
            return err instanceof Error ? err : new Error(String(err));
          }
        }),
      );
    },
  },
};
