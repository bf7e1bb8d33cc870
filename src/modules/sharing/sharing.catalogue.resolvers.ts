import { GraphQLError, GraphQLScalarType } from 'graphql';
import type { IResolvers } from 'mercurius';
import type { ErrorCode } from '../../errors.js';
import { parseArgs } from '../../graphql/adapter.js';
import { toCatalogueDto } from './sharing.catalogue.dto.js';
import { catalogueInput } from './sharing.catalogue.schemas.js';

// GraphQL adapter for the catalogue: the REST schema validates the arguments (criteria as the
// same JSON document), one service call, the REST DTO as the object.

/** A shown count: an Int rounded down to a multiple of 5, or the string "<5". Output only. */
const CatalogueCount = new GraphQLScalarType({
  name: 'CatalogueCount',
  description: 'a count rounded down to a multiple of 5 (Int), or the string "<5" for 0 to 4',
  serialize: (v) => v,
  parseValue: () => {
    throw new GraphQLError('CatalogueCount is an output type', {
      extensions: { code: 'VALIDATION_FAILED' satisfies ErrorCode },
    });
  },
  parseLiteral: () => {
    throw new GraphQLError('CatalogueCount is an output type', {
      extensions: { code: 'VALIDATION_FAILED' satisfies ErrorCode },
    });
  },
});

export const catalogueResolvers: IResolvers = {
  CatalogueCount,
  Query: {
    async catalogue(
      _root,
      args: { use?: unknown; groupBy?: unknown; criteria?: unknown },
      { biobank, services },
    ) {
      const input = parseArgs(catalogueInput, args);
      return toCatalogueDto(await services.catalogue.getCatalogue(biobank, input));
    },
  },
};
