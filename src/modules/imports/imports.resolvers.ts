import type { IResolvers } from 'mercurius';
import { parseArgs } from '../../graphql/adapter.js';
import { toImportJobDto } from './imports.dto.js';
import { importParams } from './imports.schemas.js';

// GraphQL adapter over imports: an import's progress, as REST's GET /v1/imports/{id} answers it.
// Uploading stays REST's (a streamed file is not a GraphQL argument).

export const importResolvers: IResolvers = {
  Query: {
    async importJob(_root, args: { id: string }, { biobank, services }) {
      const { id } = parseArgs(importParams, { id: args.id });
      return toImportJobDto(await services.imports.getImport(biobank, id));
    },
  },
};
