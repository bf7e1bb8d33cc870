import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs, toConnection } from '../../graphql/adapter.js';
import type { SprecDecodeResult } from './sprec.js';
import { toRunDto } from './standards.routes.js';
import {
  listRunsQuery,
  putQualityRulesInput,
  sprecDecodeQuery,
  startRunInput,
  type qcResultDto,
  type qualityRulesetDto,
  type sprecDecodeDto,
} from './standards.schemas.js';
import type { QcResultRow, QualityRulesetRow } from './standards.table.js';

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

/** The REST decode DTO (GET /v1/sprec/decode). */
export const toDecodeGql = (r: SprecDecodeResult): z.infer<typeof sprecDecodeDto> =>
  r.valid
    ? { valid: true, code: r.code, version: r.version, kind: r.kind, fields: r.fields, errors: [] }
    : { valid: false, code: r.code, version: r.version, kind: null, fields: [], errors: r.errors };

/** The REST quality ruleset DTO (GET /v1/protocols/:id/quality-rules). */
export const toRulesetGql = (
  protocolId: string,
  row: QualityRulesetRow | null,
): z.infer<typeof qualityRulesetDto> => ({
  protocolId,
  version: row?.version ?? 0,
  rules: (row?.rules ?? []) as Record<string, unknown>[],
  createdBy: row?.createdBy ?? null,
  createdAt: row?.createdAt.toISOString() ?? null,
});

/** The REST QC result DTO (GET /v1/specimens/:id/qc `results`). */
export const toQcResultGql = (r: QcResultRow): z.infer<typeof qcResultDto> => ({
  check: r.checkCode,
  outcome: r.outcome,
  message: r.message,
  details: r.details ?? null,
  rulesetVersion: r.rulesetVersion,
  runId: r.runId,
  checkedAt: r.checkedAt.toISOString(),
});

export const standardsResolvers: IResolvers = {
  Query: {
    async sprecDecode(_root, args: unknown, { biobank, services }) {
      const query = parseArgs(sprecDecodeQuery, args);
      return toDecodeGql(await services.standards.decodeSprecCode(biobank, query));
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
      return toRulesetGql(row.protocolId, row);
    },
    async startStandardizationRun(_root, args: unknown, { biobank, services }) {
      const input = parseArgs(startRunInput, args);
      return toRunDto(await services.standards.startStandardizationRun(biobank, input));
    },
  },
};
