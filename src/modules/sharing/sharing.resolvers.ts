import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs, toConnection } from '../../graphql/adapter.js';
import {
  createAgreementInput,
  listAgreementsQuery,
  updateAgreementInput,
} from './sharing.agreements.schemas.js';
import { toAgreementDto } from './sharing.dto.js';

// GraphQL adapter over the sharing service: the REST zod schemas validate the arguments, each
// field calls one service method, and the objects are the REST DTOs.

const idArgs = z.object({ id: z.uuid() });
const versionedArgs = z.object({ id: z.uuid(), expectedVersion: z.number().int().min(0) });

export const sharingResolvers: IResolvers = {
  Query: {
    async agreement(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const row = await nullIfNotFound('AGREEMENT_NOT_FOUND', () =>
        services.sharing.getAgreement(biobank, id),
      );
      return row && toAgreementDto(row);
    },
    async agreements(
      _root,
      args: { side?: unknown; first?: unknown; after?: unknown },
      { biobank, services },
    ) {
      const query = parseArgs(listAgreementsQuery, {
        side: args.side,
        cursor: args.after,
        limit: args.first,
      });
      return toConnection(await services.sharing.listAgreements(biobank, query), toAgreementDto);
    },
  },
  Mutation: {
    async createAgreement(_root, args: { input: unknown }, { biobank, services }) {
      const input = parseArgs(createAgreementInput, args.input);
      return toAgreementDto(await services.sharing.createAgreement(biobank, input));
    },
    async updateAgreement(
      _root,
      args: { id: unknown; expectedVersion: unknown; input: unknown },
      { biobank, services },
    ) {
      const { id, expectedVersion } = versionedArgs.parse({
        id: args.id,
        expectedVersion: args.expectedVersion,
      });
      const patch = parseArgs(updateAgreementInput, args.input);
      return toAgreementDto(await services.sharing.updateAgreement(biobank, { id, expectedVersion, patch }));
    },
  },
};
