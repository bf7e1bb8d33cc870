import type { IResolvers } from 'mercurius';
import { parseArgs } from '../../graphql/adapter.js';
import { toChangeDto } from './changes.dto.js';
import { listChangesQuery } from './changes.schemas.js';

// GraphQL adapter over the change feed: the REST query schema validates the arguments, the same
// service method answers, and each node is the REST item. A consumer keeps `pageInfo.endCursor`,
// which is never null, as REST's `nextCursor`. Long polls are REST's (`wait`).

export const changeResolvers: IResolvers = {
  Query: {
    async changes(_root, args: { after?: string | null; first?: number | null }, { biobank, services }) {
      const query = parseArgs(listChangesQuery, { after: args.after, limit: args.first });
      const page = await services.changes.listChanges(biobank, query);
      return {
        edges: page.items.map((item) => ({ cursor: page.cursorAfter(item), node: toChangeDto(item) })),
        pageInfo: { endCursor: page.nextCursor, hasNextPage: page.hasMore },
      };
    },
  },
};
