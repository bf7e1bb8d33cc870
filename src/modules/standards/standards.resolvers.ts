import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs, toConnection } from '../../graphql/adapter.js';
import { toDecodeDto, toRulesetDto, toRunDto } from './standards.dto.js';
import { listRunsQuery, putQualityRulesInput, sprecDecodeQuery, startRunInput } from './standards.schemas.js';

// GraphQL adapter over the standards service (STYLE.md rules 2 and 16): the REST zod schemas
// validate the arguments, each field calls the service method its REST route calls, and every
// object is the REST DTO, so both transports answer the same data. Relations (Specimen.qcResults,
// Protocol.qualityRules, StandardizationRun.results) resolve in standards.loaders.ts.

const idArgs = z.object({ id: z.uuid() });
// The REST route reads the protocol id from the path and the expected version from If-Match.
const putQualityRulesArgs = z.object({
  protocolId: z.uuid(),
  expectedVersion: z.number().int().min(0).optional(),
});

export const standardsResolvers: IResolvers = {
  Query: {
    async sprecDecode(_root, args: unknown, { biobank, services }) {
      const query = parseArgs(sprecDecodeQuery, args);
      return toDecodeDto(await services.standards.decodeSprec(biobank, query));
    },
    async standardizationRun(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const run = await nullIfNotFound('RUN_NOT_FOUND', () =>
        services.standards.getStandardizationRun(biobank, id),
      );
      return run && toRunDto(run);
    },
    async standardizationRuns(
      _root,
      args: { first?: number | null; after?: string | null },
      { biobank, services },
    ) {
      const query = parseArgs(listRunsQuery, { cursor: args.after, limit: args.first });
      return toConnection(await services.standards.listStandardizationRuns(biobank, query), toRunDto);
    },
    async miabisCollections(_root, _args, { biobank, services }) {
      return services.standards.exportMiabisCollections(biobank);
    },
  },
  Mutation: {
    async putQualityRules(
      _root,
      args: { protocolId: unknown; rules: unknown; expectedVersion?: unknown },
      { biobank, services },
    ) {
      const { protocolId, expectedVersion } = parseArgs(putQualityRulesArgs, {
        protocolId: args.protocolId,
        expectedVersion: args.expectedVersion,
      });
      const input = parseArgs(putQualityRulesInput, { rules: args.rules });
      const row = await services.standards.putQualityRules(biobank, protocolId, input, expectedVersion);
      return toRulesetDto({ protocolId: row.protocolId, row });
    },
    async startStandardizationRun(_root, args: unknown, { biobank, services }) {
      const input = parseArgs(startRunInput, args);
      return toRunDto(await services.standards.startStandardizationRun(biobank, input));
    },
  },
};
