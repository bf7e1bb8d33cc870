import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs, toConnection } from '../../graphql/adapter.js';
import { encodeCursor, pageQuery } from '../../pagination.js';
import { toSharingEventDto, toSharingItemDto, toSharingRequestDto } from './sharing.dto.js';
import {
  approveSharingRequestInput,
  cancelSharingRequestInput,
  createSharingRequestInput,
  editSharingProposalInput,
  listSharingRequestsQuery,
  rejectSharingRequestInput,
  updateSharingRequestInput,
} from './sharing.requests.schemas.js';

// GraphQL adapter over the sharing requests: the REST zod schemas validate the arguments, each
// field calls one service method, and the objects are the REST DTOs.

const idArgs = z.object({ id: z.uuid() });
const pageArgs = (args: { id?: unknown; first?: unknown; after?: unknown }) => ({
  ...idArgs.parse({ id: args.id }),
  ...parseArgs(pageQuery, { cursor: args.after, limit: args.first }),
});

export const sharingRequestResolvers: IResolvers = {
  Query: {
    async sharingRequest(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const view = await nullIfNotFound('SHARING_REQUEST_NOT_FOUND', () =>
        services.sharing.getSharingRequest(biobank, id),
      );
      return view && toSharingRequestDto(view);
    },
    async sharingRequests(
      _root,
      args: { side?: unknown; state?: unknown; first?: unknown; after?: unknown },
      { biobank, services },
    ) {
      const query = parseArgs(listSharingRequestsQuery, {
        side: args.side,
        state: args.state,
        cursor: args.after,
        limit: args.first,
      });
      return toConnection(await services.sharing.listSharingRequests(biobank, query), toSharingRequestDto);
    },
    async sharingRequestItems(
      _root,
      args: { id?: unknown; first?: unknown; after?: unknown },
      { biobank, services },
    ) {
      return toConnection(
        await services.sharing.listSharingRequestItems(biobank, pageArgs(args)),
        toSharingItemDto,
      );
    },
    async sharingRequestEvents(
      _root,
      args: { id?: unknown; first?: unknown; after?: unknown },
      { biobank, services },
    ) {
      const page = await services.sharing.listSharingRequestEvents(biobank, pageArgs(args));
      // Timeline ids are numbers: the cursor after each is the one the service issues.
      const edges = page.items.map((e) => ({ cursor: encodeCursor(e.id), node: toSharingEventDto(e) }));
      return {
        edges,
        pageInfo: {
          endCursor: page.nextCursor ?? edges.at(-1)?.cursor ?? null,
          hasNextPage: page.nextCursor !== null,
        },
      };
    },
  },
  Mutation: {
    async createSharingRequest(_root, args: { input: unknown }, { biobank, services }) {
      const input = parseArgs(createSharingRequestInput, args.input);
      return toSharingRequestDto(await services.sharing.createSharingRequest(biobank, input));
    },
    async updateSharingRequest(
      _root,
      args: { id: unknown; expectedVersion: unknown; input: unknown },
      { biobank, services },
    ) {
      const { id, expectedVersion } = z
        .object({ id: z.uuid(), expectedVersion: z.number().int().min(0) })
        .parse({ id: args.id, expectedVersion: args.expectedVersion });
      const patch = parseArgs(updateSharingRequestInput, args.input);
      return toSharingRequestDto(
        await services.sharing.updateSharingRequest(biobank, { id, expectedVersion, patch }),
      );
    },
    async submitSharingRequest(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      return toSharingRequestDto(await services.sharing.submitSharingRequest(biobank, id));
    },
    async startSharingRequestReview(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      return toSharingRequestDto(await services.sharing.startSharingRequestReview(biobank, id));
    },
    async proposeSharingItems(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      return toSharingRequestDto((await services.sharing.proposeSharingItems(biobank, { id }))!);
    },
    async editSharingProposal(_root, args: { id: unknown; input: unknown }, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      const input = parseArgs(editSharingProposalInput, args.input);
      return toSharingRequestDto(await services.sharing.editSharingProposal(biobank, { id, ...input }));
    },
    async approveSharingRequest(
      _root,
      args: { id: unknown; reservedUntil?: unknown },
      { biobank, services },
    ) {
      const { id } = idArgs.parse({ id: args.id });
      const input = parseArgs(approveSharingRequestInput, { reservedUntil: args.reservedUntil });
      return toSharingRequestDto(await services.sharing.approveSharingRequest(biobank, { id, ...input }));
    },
    async rejectSharingRequest(_root, args: { id: unknown; reason: unknown }, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      const { reason } = parseArgs(rejectSharingRequestInput, { reason: args.reason });
      return toSharingRequestDto(await services.sharing.rejectSharingRequest(biobank, { id, reason }));
    },
    async cancelSharingRequest(_root, args: { id: unknown; reason?: unknown }, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      const { reason } = parseArgs(cancelSharingRequestInput, { reason: args.reason });
      return toSharingRequestDto(await services.sharing.cancelSharingRequest(biobank, { id, reason }));
    },
  },
};
